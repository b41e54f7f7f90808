// Every relative link between the manual's pages resolves (issue 17: the README split into a
// front page and docs/): the file a link names exists, and its #anchor is a heading of that file
// under GitHub's rules for heading ids. Links to other sites are not followed.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { test } from "node:test";
import { tempDir } from "./support/tmp.ts";

const repo = new URL("..", import.meta.url).pathname;

/** README.md and every .md file under docs/, as paths relative to `root`. */
function manualPages(root: string): string[] {
  const under = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return under(path);
      return entry.name.endsWith(".md") ? [path] : [];
    });
  return ["README.md", ...(existsSync(join(root, "docs")) ? under("docs") : [])];
}

/** The text outside fenced blocks and code spans: a `[x](y)` shown as code is not a link. */
function prose(markdown: string): string[] {
  let fenced = false;
  return markdown.split("\n").map((line) => {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      return "";
    }
    return fenced ? "" : line.replace(/(`+)[\s\S]*?\1/g, "");
  });
}

/**
 * The ids GitHub gives a file's headings: the heading's text without its markup, lower-cased,
 * every character but letters, digits, `-`, `_` and spaces dropped, spaces made `-`; the n-th
 * repeat of an id gets `-n` (github/cmark-gfm's anchor filter, as github-slugger reproduces it).
 */
function headingIds(markdown: string): Set<string> {
  const ids = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = (heading[1] as string)
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // a link's text stays, its target goes
      .replace(/[`*_]{1,3}([^`*_]+)[`*_]{1,3}/g, "$1"); // code, emphasis
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M}\- _]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    ids.add(n === 0 ? base : `${base}-${n}`);
  }
  return ids;
}

/** Every relative link of the pages under `root` that does not resolve, as `FILE:LINE: why`. */
function brokenLinks(root: string): string[] {
  const broken: string[] = [];
  const idsOf = new Map<string, Set<string>>();
  const ids = (file: string) => {
    const known = idsOf.get(file);
    if (known) return known;
    const found = headingIds(readFileSync(join(root, file), "utf8"));
    idsOf.set(file, found);
    return found;
  };
  for (const page of manualPages(root)) {
    for (const [index, line] of prose(readFileSync(join(root, page), "utf8")).entries()) {
      for (const link of line.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = link[1] as string;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        const where = `${page}:${index + 1}: ${target}`;
        const [path, anchor] = target.split("#", 2) as [string, string | undefined];
        const file = path === "" ? page : relative(root, join(root, dirname(page), path));
        if (file.startsWith("..") || !existsSync(join(root, file))) {
          broken.push(`${where}: no file ${file}`);
          continue;
        }
        if (anchor === undefined) continue;
        if (!statSync(join(root, file)).isFile() || !file.endsWith(".md"))
          broken.push(`${where}: an anchor into ${file}, which is not a page`);
        else if (!ids(file).has(decodeURIComponent(anchor)))
          broken.push(`${where}: ${file} has no heading #${anchor}`);
      }
    }
  }
  return broken;
}

test("every relative link and #anchor in README.md and docs/ resolves", () => {
  const pages = manualPages(repo);
  assert.ok(pages.length > 10 && pages.includes("docs/commands/set-unset.md"), pages.join(" "));
  assert.deepEqual(brokenLinks(repo), []);
});

test("the check finds a missing page, a missing anchor and an anchor of its own page", () => {
  const root = tempDir("docs-links");
  mkdirSync(join(root, "docs/commands"), { recursive: true });
  writeFileSync(
    join(root, "README.md"),
    "# flavourctl\n\n[set](docs/commands/set-unset.md#set-unset) [gone](docs/gone.md) " +
      "`[in code](nowhere.md)`\n\n```\n[fenced](nowhere.md)\n```\n",
  );
  writeFileSync(
    join(root, "docs/commands/set-unset.md"),
    "# set, unset\n\n## `--group`: a whole group\n\n## Set, unset\n\n" +
      "[a](#--group-a-whole-group) [b](#set-unset-1) [c](#set-unset-2) [d](../../README.md#flavourctl) " +
      "[e](../../README.md#install) [f](https://example.org/#x)\n",
  );
  assert.deepEqual(brokenLinks(root), [
    "README.md:3: docs/gone.md: no file docs/gone.md",
    "docs/commands/set-unset.md:7: #set-unset-2: docs/commands/set-unset.md has no heading #set-unset-2",
    "docs/commands/set-unset.md:7: ../../README.md#install: README.md has no heading #install",
  ]);
});
