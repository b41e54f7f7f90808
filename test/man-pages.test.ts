// The man pages made from the docs (scripts/man.ts, issue 17): every command `flavourctl --help`
// lists and every option that it and `flavourctl help COMMAND` print is described in
// flavourctl(8) — outside SYNOPSIS, which is made from the same help text and so proves nothing —
// and every page is plain ASCII man(7).
import assert from "node:assert/strict";
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { commandNames, inProcessHelp, manPages } from "../scripts/man.ts";
import { tempDir } from "./support/tmp.ts";

const repo = new URL("..", import.meta.url).pathname;
const pages = await manPages({ repo, help: inProcessHelp, date: "2026-12-08" });

/** A man(7) source as the words a reader sees: font changes gone, escaped minus signs plain. */
function readable(roff: string): string {
  return roff
    .replace(/\\f[BIRP]/g, "")
    .replace(/\\-/g, "-")
    .replace(/\\&/g, "")
    .replace(/\\e/g, "\\");
}

/** flavourctl(8) by section: `.SH NAME` → its text. */
function manSections(roff: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const part of roff.split(/^\.SH /m).slice(1)) {
    const newline = part.indexOf("\n");
    found.set(part.slice(0, newline), readable(part.slice(newline + 1)));
  }
  return found;
}

/** The long options a help text names (`--sysfs`, `--no-save`, …). */
const optionsIn = (help: string) => new Set(help.match(/(?<![\w-])--[a-z][a-z-]*[a-z]/g) ?? []);

const mentions = (text: string, word: string) =>
  new RegExp(`(?<![\\w-])${word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![\\w-])`).test(text);

/** What the docs leave out of flavourctl(8): commands without a subsection, options never described. */
async function undocumented(eight: string): Promise<string[]> {
  const sections = manSections(eight);
  const described = [...sections]
    .filter(([name]) => name !== "SYNOPSIS")
    .map(([, text]) => text)
    .join("\n");
  const subsections = [...described.matchAll(/^\.SS (.*)$/gm)].map((m) => m[1] as string);
  const missing: string[] = [];
  for (const option of optionsIn(await inProcessHelp(["--help"])))
    if (!mentions(described, option)) missing.push(`flavourctl --help: ${option}`);
  for (const command of await commandNames(inProcessHelp)) {
    if (!subsections.some((title) => title.split(/[\s,:]+/).includes(command)))
      missing.push(`${command}: no subsection of COMMANDS names it`);
    for (const option of optionsIn(await inProcessHelp(["help", command])))
      if (!mentions(described, option)) missing.push(`flavourctl help ${command}: ${option}`);
  }
  return missing;
}

test("flavourctl(8) describes every command and every option of --help and help COMMAND", async () => {
  const eight = pages.get("flavourctl.8") as string;
  const commands = await commandNames(inProcessHelp);
  assert.ok(
    commands.length >= 15 && commands.includes("udev-rule") && commands.includes("sim"),
    commands.join(" "),
  );
  assert.deepEqual(await undocumented(eight), []);
  const sections = [...manSections(eight).keys()];
  assert.deepEqual(sections, [
    "NAME",
    "SYNOPSIS",
    "DESCRIPTION",
    "COMMANDS",
    "OPTIONS",
    "EXIT STATUS",
    "FILES",
    "SEE ALSO",
  ]);
  // the exit-code table, every code of src/errors.ts's ExitCode among them
  const { ExitCode } = await import("../src/errors.ts");
  const exitStatus = manSections(eight).get("EXIT STATUS") as string;
  for (const code of new Set(Object.values(ExitCode)))
    assert.match(exitStatus, new RegExp(`^\\.TP\\n${code}\\n`, "m"), `exit code ${code}`);
});

test("the check finds an option the docs do not describe", async () => {
  const eight = pages.get("flavourctl.8") as string;
  // the docs without any word of --run-dir (the hook's option), SYNOPSIS kept as it is
  const [head, rest] = [
    eight.slice(0, eight.indexOf(".SH DESCRIPTION")),
    eight.slice(eight.indexOf(".SH DESCRIPTION")),
  ];
  const without = head + rest.replaceAll("\\-\\-run\\-dir", "\\-\\-elsewhere");
  assert.deepEqual(await undocumented(without), ["flavourctl help hook: --run-dir"]);
});

test("the man pages: flavourctl(8), flavourctl-rules(5), flavourctl-machine(5)", () => {
  // groff and man-db check them in test/package/run.sh, on the pages the package ships (the
  // unit suite also runs in chroots that have neither)
  assert.deepEqual([...pages.keys()], ["flavourctl.8", "flavourctl-rules.5", "flavourctl-machine.5"]);
  for (const [name, roff] of pages) {
    const [title, section] = [name.replace(/\.\d$/, "").toUpperCase(), name.slice(-1)];
    assert.ok(roff.includes(`\n.TH ${title} ${section} "2026-12-08" "flavourctl `), `${name}: .TH`);
    assert.doesNotMatch(roff, /[^\t\n\x20-\x7e]/, `${name}: a character beyond ASCII left unescaped`);
  }
  // the rule keys and the machine fields, from the pages of docs/files/
  const rules = readable(pages.get("flavourctl-rules.5") as string);
  for (const key of ["match", "flavour", "driver", "group"])
    assert.match(rules, new RegExp(`^\\.TP\\n${key}$`, "m"));
  assert.match(readable(pages.get("flavourctl-machine.5") as string), /"format": "flavourctl-machine\/1"/);
});

test("a page another command adds to docs/commands/ comes after the known ones, by name", async () => {
  const copy = tempDir("man-repo");
  cpSync(join(repo, "README.md"), join(copy, "README.md"));
  cpSync(join(repo, "docs"), join(copy, "docs"), { recursive: true });
  cpSync(join(repo, "packaging/deb/control"), join(copy, "packaging/deb/control"));
  writeFileSync(
    join(copy, "docs/commands/zz.md"),
    "# zz\n\nThe last.\n\n## Options\n\n| option | meaning |\n|---|---|\n| `--zz` | z |\n",
  );
  writeFileSync(join(copy, "docs/commands/aa.md"), "# aa\n\nThe first of the others.\n");
  const eight = (await manPages({ repo: copy, help: inProcessHelp, date: "2026-12-08" })).get(
    "flavourctl.8",
  ) as string;
  const subsections = [...eight.matchAll(/^\.SS (.*)$/gm)].map((m) => readable(m[1] as string));
  const commands = subsections.slice(subsections.indexOf("list"));
  // the known pages end with analysis (aliases, upgrade); added ones follow by name: aa first,
  // then any the project has (export), zz last
  const aa = commands.indexOf("aa");
  assert.deepEqual(commands.slice(aa - 2, aa + 1), ["aliases", "upgrade", "aa"]);
  assert.deepEqual(commands.slice(-2), ["zz", "Options"]);
});
