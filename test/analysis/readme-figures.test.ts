// The figures the manual states for the analysis reports on the fixture trees, read from its
// page (docs/commands/analysis.md) and checked against what the commands print now: a figure that goes
// stale (the whole file's "identical 260" once the patterns were compared as libkmod reads
// them, which makes 261) fails here. The figures that need the kernel source tree are pinned
// in source-aliases.test.ts, which reads the tree once.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { recordingIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";

const repo = new URL("../..", import.meta.url).pathname;
const page = "docs/commands/analysis.md";
const readme = readFileSync(join(repo, page), "utf8");
const fixtures = join(repo, "test/fixtures/modules");

/** The page's section `## name`, up to the next heading of its level or above. */
function readmeSection(name: string): string {
  const start = readme.indexOf(`\n## ${name}\n`);
  assert.ok(start >= 0, `${page} has no section '## ${name}'`);
  const end = readme.slice(start + 1).search(/\n#{1,2} /);
  return end < 0 ? readme.slice(start) : readme.slice(start, start + 1 + end);
}

/** The lines of the fenced example in `section` whose first line is `$ command`, after it. */
function example(section: string, command: string): string[] {
  const blocks = [...section.matchAll(/```\n([\s\S]*?)```/g)].map((m) => (m[1] as string).split("\n"));
  const block = blocks.find((lines) => lines[0] === `$ ${command}`);
  assert.ok(block, `no example '$ ${command}' in ${page}`);
  return block.slice(1).filter((line) => line !== "");
}

/** A line of the page as a pattern: `…` stands for text left out. */
const shown = (line: string) =>
  new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replaceAll("…", ".*")}$`);

/** What the command prints, its paths as on a host: the fixtures are /lib/modules's files, gzipped. */
async function output(args: string[]): Promise<string> {
  const { io, recorded } = recordingIo();
  assert.equal(await main(args, io), 0, recorded.stderr);
  return recorded.stdout
    .replaceAll(`${fixtures}/`, "/lib/modules/")
    .replaceAll("modules.alias.gz:", "modules.alias:");
}

test("docs overlaps: the --bus pci example of Debian 6.12 is what overlaps prints", async () => {
  const lines = example(
    readmeSection("overlaps"),
    "flavourctl overlaps --modules /lib/modules/6.12.117+deb12-amd64 --bus pci",
  );
  const printed = (
    await output(["overlaps", "--modules", join(fixtures, "6.12.117+deb12-amd64"), "--bus", "pci"])
  )
    .split("\n")
    .filter((line) => line !== "");
  assert.ok(lines.length >= 7, lines.join("\n"));
  for (const [k, line] of lines.entries())
    assert.match(printed[k] as string, shown(line), `${page} line ${k + 1}`);
});

test("docs overlaps: the whole 6.12 file's counts are what overlaps prints", async () => {
  const stated = /Debian 6\.12's whole file gives `([^`]+)`/.exec(
    readmeSection("overlaps").replace(/\s*\n\s*/g, " "),
  );
  assert.ok(stated, `${page} no longer states the whole file's counts`);
  const printed = await output(["overlaps", "--modules", join(fixtures, "6.12.117+deb12-amd64")]);
  assert.ok(
    printed.startsWith(`${stated[1]} (`),
    `${page}: ${stated[1]}\nprinted: ${printed.slice(0, printed.indexOf("\n"))}`,
  );
});

test("docs upgrade: the example 6.1 -> 6.12 with the variants is what upgrade prints on the bench capture", async () => {
  const lines = example(
    readmeSection("upgrade"),
    "flavourctl upgrade --from /lib/modules/6.1.0-56-amd64 --to /lib/modules/6.12.117+deb12-amd64+bench",
  );
  const printed = await output([
    "upgrade",
    "--from",
    join(fixtures, "6.1.0-56-amd64"),
    "--to",
    join(fixtures, "6.12.117+deb12-amd64+bench"),
    "--sysfs",
    join(repo, "test/fixtures/sysfs/q35-linux6.12-bench"),
  ]);
  assert.deepEqual(
    printed.split("\n").filter((line) => line !== ""),
    lines,
  );
});
