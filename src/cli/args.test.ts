import assert from "node:assert/strict";
import test from "node:test";
import { parseArgs } from "node:util";
import fc from "fast-check";
import { UsageError } from "../errors.ts";
import { parseCommandLine } from "./args.ts";

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
