// One safe way to write (issue 15): every file, directory and link flavourctl makes goes through
// src/safe-write.ts or src/atomic-write.ts. This scan of src/ (tests aside) fails when a write
// call of node:fs appears anywhere else — a new writer must use those modules, or be added to
// ALLOWED below with its reason. Removing (unlink, rm, rmdir) is not a write here: unlink(2)
// removes a planted link itself, never its target.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";

const root = new URL("..", import.meta.url).pathname;

/** The only files that may call node:fs's writers, and why. */
const ALLOWED: Record<string, string> = {
  "src/safe-write.ts":
    "the safe writers: directories one component at a time, O_EXCL|O_NOFOLLOW new files, writes inside a tree",
  "src/atomic-write.ts":
    "the atomic write: O_EXCL|O_NOFOLLOW temp file, fsync, rename, fsync of the directory",
};

/** node:fs functions that create, write, rename or link (sync, callback and promise forms). */
const WRITERS = new Set(
  [
    "writeFile",
    "appendFile",
    "mkdir",
    "mkdtemp",
    "rename",
    "symlink",
    "link",
    "copyFile",
    "cp",
    "truncate",
    "ftruncate",
    "chmod",
    "fchmod",
    "lchmod",
    "chown",
    "fchown",
    "lchown",
    "utimes",
    "lutimes",
  ].flatMap((name) => [name, `${name}Sync`]),
);
WRITERS.add("createWriteStream");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

/** The arguments of each call of `name(` in `text`, split at top-level commas. */
function callArguments(text: string, name: string): string[][] {
  const calls: string[][] = [];
  for (const match of text.matchAll(new RegExp(`\\b${name}\\(`, "g"))) {
    const args: string[] = [];
    let depth = 0;
    let current = "";
    for (let i = (match.index as number) + match[0].length; i < text.length; i++) {
      const c = text[i] as string;
      if (depth === 0 && (c === ")" || c === ",")) {
        args.push(current.trim());
        current = "";
        if (c === ")") break;
        continue;
      }
      if ("([{".includes(c)) depth++;
      if (")]}".includes(c)) depth--;
      current += c;
    }
    calls.push(args);
  }
  return calls;
}

/**
 * Flags named by a constant of the same file that opens for reading only (safe-read.ts's
 * O_RDONLY | O_NONBLOCK | O_NOCTTY): its definition names no flag that writes or creates.
 */
function readOnlyFlags(text: string, flags: string): boolean {
  if (!/^[A-Z_]+$/.test(flags)) return false;
  const definition = new RegExp(`const ${flags} = ([^;]*);`).exec(text)?.[1];
  return (
    definition !== undefined &&
    /O_RDONLY/.test(definition) &&
    !/O_(WRONLY|RDWR|CREAT|TRUNC|APPEND)/.test(definition)
  );
}

/** Every write call of `text`, as `name (why)`. */
export function writesIn(text: string): string[] {
  const found: string[] = [];
  if (/from\s+"(node:)?fs\/promises"/.test(text)) found.push("node:fs/promises");
  for (const block of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"(?:node:)?fs"/g)) {
    for (const item of (block[1] as string).split(",")) {
      const name = item.trim().split(/\s+as\s+/)[0] as string;
      if (WRITERS.has(name)) found.push(name);
    }
  }
  for (const member of text.matchAll(/\bfs\.(\w+)\(/g))
    if (WRITERS.has(member[1] as string)) found.push(`fs.${member[1]}`);
  for (const name of ["openSync", "open"]) {
    for (const args of callArguments(text, name)) {
      const flags = args[1];
      if (flags !== undefined && flags !== '"r"' && flags !== "'r'" && !readOnlyFlags(text, flags))
        found.push(`${name}(…, ${flags})`);
    }
  }
  return found;
}

test("no write call of node:fs outside the safe-write modules (src/, tests aside)", () => {
  const files = sources(join(root, "src"));
  assert.ok(files.length > 80, `only ${files.length} source files found`);
  const offenders: string[] = [];
  for (const file of files) {
    const path = relative(root, file);
    if (Object.hasOwn(ALLOWED, path)) continue;
    for (const call of writesIn(readFileSync(file, "utf8"))) offenders.push(`${path}: ${call}`);
  }
  assert.deepEqual(offenders, [], "write through src/safe-write.ts or src/atomic-write.ts");
});

test("the scan sees each kind of write call it claims to (it can fail)", () => {
  const cases: [string, string[]][] = [
    ['import { writeFileSync, readFileSync } from "node:fs";', ["writeFileSync"]],
    ['import {\n  mkdirSync as make,\n  renameSync,\n} from "fs";', ["mkdirSync", "renameSync"]],
    ['import { writeFile } from "node:fs/promises";', ["node:fs/promises"]],
    ["fs.symlinkSync(a, b);", ["fs.symlinkSync"]],
    ['const fd = openSync(path, "w", 0o644);', ['openSync(…, "w")']],
    ["openSync(join(a, b), constants.O_WRONLY | O_CREAT);", ["openSync(…, constants.O_WRONLY | O_CREAT)"]],
    ['const fd = openSync(join(dir, "x"), "r");', []],
    ['import { readdirSync, unlinkSync, rmSync } from "node:fs";', []],
    ["const OPEN = constants.O_RDONLY | constants.O_NONBLOCK;\nopenSync(path, OPEN);", []],
    ["const OPEN = constants.O_RDWR | constants.O_NONBLOCK;\nopenSync(path, OPEN);", ["openSync(…, OPEN)"]],
    ["openSync(path, FLAGS);", ["openSync(…, FLAGS)"]],
  ];
  for (const [text, expected] of cases) assert.deepEqual(writesIn(text), expected, text);
});
