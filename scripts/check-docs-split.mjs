#!/usr/bin/env node
// The README was split into a front page and docs/ (issue 17). This proves nothing was lost:
// every non-empty line of the README before the split (git show 04d1b81:README.md, or the
// commit given) appears in README.md or a page under docs/. Two rewrites the move needed are
// undone before comparing, and only those: a heading's level (`### list` became `## list` on
// its own page) and a link's target (`](#set-unset)` became `](commands/set-unset.md#set-unset)`).
// Lines that still differ are printed; the front page's rewritten lines are expected there.
//   node scripts/check-docs-split.mjs [COMMIT]
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const repo = new URL("..", import.meta.url).pathname;
const commit = process.argv[2] ?? "04d1b81";
const old = execFileSync("git", ["-C", repo, "show", `${commit}:README.md`], { encoding: "utf8" });

const normal = (line) =>
  line
    .trim()
    .replace(/^#+ /, "# ")
    .replace(/\]\([^)]*\)/g, "]()");

function markdownFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? markdownFiles(join(dir, entry.name))
      : entry.name.endsWith(".md")
        ? [join(dir, entry.name)]
        : [],
  );
}

const now = new Set(
  [join(repo, "README.md"), ...markdownFiles(join(repo, "docs"))].flatMap((file) =>
    readFileSync(file, "utf8").split("\n").map(normal),
  ),
);
const lines = old.split("\n").filter((line) => line.trim() !== "");
const missing = lines.filter((line) => !now.has(normal(line)));
for (const line of missing) console.log(`missing: ${line}`);
console.log(
  `${lines.length} non-empty lines in ${commit}:README.md; ${lines.length - missing.length} found, ${missing.length} missing`,
);
process.exitCode = missing.length === 0 ? 0 : 1;
