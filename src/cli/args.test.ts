import assert from "node:assert/strict";
import test from "node:test";
import { parseArgs } from "node:util";
import fc from "fast-check";
import { UsageError } from "../errors.ts";
import { parseCommandLine, parseLeadingOptions } from "./args.ts";

// list's options, and one string option with a short name (no command has one yet)
const options = {
  sysfs: { type: "string" },
  config: { type: "string", multiple: true },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  out: { type: "string", short: "o" },
} as const;

/** What a command line gives, or "refused". */
function ours(args: string[]): unknown {
  try {
    const { values, positionals } = parseCommandLine(args, options);
    return { values: { ...values }, positionals };
  } catch (error) {
    if (error instanceof UsageError) return "refused";
    throw error;
  }
}

function node(args: string[]): unknown {
  try {
    const { values, positionals, tokens } = parseArgs({
      args,
      options,
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
    // ours refuses an empty value, even one a later repetition replaces (args.ts: no option takes one)
    if (tokens.some((t) => t.kind === "option" && t.value === "")) return "refused";
    return { values: { ...values }, positionals };
  } catch {
    return "refused";
  }
}

const words = [
  "list",
  "0000:03:00.0",
  "",
  "-",
  "--",
  "--sysfs",
  "--sysfs=/tmp/x",
  "--sysfs=",
  "--config",
  "--config=a",
  "--json",
  "--json=1",
  "-h",
  "-hh",
  "-ho",
  "-hoVALUE",
  "-o",
  "-oVALUE",
  "-x",
  "-1",
  "--help",
  "--unknown",
  "--=x",
  "---json",
  "-h=1",
  "--constructor",
  "--__proto__",
];

test("options are parsed as node:util parseArgs parses them (strict, positionals allowed)", () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...words), { maxLength: 6 }), (args) => {
      assert.deepEqual(ours(args), node(args), JSON.stringify(args));
    }),
    { numRuns: 20000 },
  );
  // and the cases that matter most, spelled out
  assert.deepEqual(ours(["--sysfs", "d", "--json", "x"]), {
    values: { sysfs: "d", json: true },
    positionals: ["x"],
  });
  assert.deepEqual(ours(["--config", "a", "--config=b", "--", "--json"]), {
    values: { config: ["a", "b"] },
    positionals: ["--json"],
  });
  assert.equal(ours(["--sysfs", "--json"]), "refused");
});

test("a refused command line says which option, in one line", () => {
  const message = (args: string[]) => {
    try {
      parseCommandLine(args, options);
    } catch (error) {
      return (error as Error).message;
    }
    return "accepted";
  };
  assert.equal(message(["--sysfs"]), "option '--sysfs' needs a value");
  assert.equal(
    message(["--sysfs", "--json"]),
    "option '--sysfs' needs a value (use --sysfs=--json if it is one)",
  );
  assert.equal(message(["--json=yes"]), "option '--json' does not take a value");
  assert.equal(message(["--nope"]), "unknown option '--nope'");
  assert.equal(message(["-x"]), "unknown option '-x'");
  assert.equal(message(["-hx"]), "unknown option letter 'x' in '-hx'");
  assert.equal(message(["-h-"]), "unknown option letter '-' in '-h-'");
  assert.equal(message(["-o", "--json"]), "option '-o' needs a value (use --out=--json if it is one)");
});

// the global options before a verb (main.ts): those of `flavourctl [OPTIONS] VERB ...`
const globals = {
  sysfs: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;
const leadingWords = words.filter((word) => word !== "list" && word !== "0000:03:00.0");

test("the options before the verb are those node:util parseArgs reads before the first operand", () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(...leadingWords), { maxLength: 5 }),
      fc.array(fc.constantFrom("list", "--json", "-x", "--", "0000:03:00.0"), { maxLength: 3 }),
      (before, after) => {
        const args = [...before, "list", ...after];
        let ours: unknown;
        try {
          const { values, given, rest } = parseLeadingOptions(args, globals);
          ours = { values: { ...values }, given, rest };
        } catch (error) {
          if (!(error instanceof UsageError)) throw error;
          ours = "refused";
        }
        // parseArgs' tokens up to the first operand (or `--`), and the operand on
        let expected: unknown = "refused";
        try {
          const { tokens } = parseArgs({
            args,
            options: globals,
            allowPositionals: true,
            strict: false,
            tokens: true,
          });
          const stop = tokens.findIndex((t) => t.kind !== "option");
          // no operand: every word was an option or a value
          const first = (tokens[stop] as { kind: string; index: number } | undefined) ?? {
            kind: "end",
            index: args.length,
          };
          const given = args.slice(0, first.index);
          const { values } = parseArgs({ args: given, options: globals, strict: true });
          const empty = tokens.slice(0, stop).some((t) => t.kind === "option" && t.value === "");
          if (!empty)
            expected = {
              values: { ...values },
              given,
              rest: args.slice(first.kind === "option-terminator" ? first.index + 1 : first.index),
            };
        } catch {
          // refused
        }
        assert.deepEqual(ours, expected, JSON.stringify(args));
      },
    ),
    { numRuns: 20000 },
  );
});
