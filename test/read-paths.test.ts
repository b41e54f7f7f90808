// Every file flavourctl reads goes through src/safe-read.ts (regular files only, a size limit per
// kind, gzip inflated to a limit): this scans src/**/*.ts (tests aside) and fails on any other
// way to open or read a file — readFileSync, readFile, createReadStream, openAsBlob,
// node:fs/promises, openSync with a reading flag, or an unbounded zlib inflate. Reading a
// descriptor (readSync) is allowed: only safe-read opens one for reading.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";

const root = new URL("..", import.meta.url).pathname;

/** Where a reading open is not a read, with the reason; matched on the call's text. */
const ALLOWED: { file: string; call: string; why: string }[] = [
  {
    file: "src/flavour/rules-store.ts",
    call: 'openSync(dir, "r")',
    why: "the rules directory, opened to fsync it after a rename: nothing is read",
  },
];

const READERS =
  /\b(readFileSync|readFile|createReadStream|openAsBlob|gunzipSync|inflateSync|inflateRawSync|unzipSync|brotliDecompressSync|createGunzip|createInflate|createInflateRaw|createUnzip|createBrotliDecompress)\b/g;
const FS_PROMISES =
  /from\s+["'](node:)?fs\/promises["']|\bfs\.promises\b|\bpromises\s+as\b|\{[^}]*\bpromises\b[^}]*\}\s*from\s+["'](node:)?fs["']/g;
/**
 * openSync/open flags that read no file: a write flag (a string, or a constant built of write
 * flags), or O_DIRECTORY (open(2) then fails on anything but a directory: a directory opened to
 * fsync it cannot be a FIFO).
 */
const NOT_READING = /^(["'](w|wx|a|ax|as|xw|xa)["']|.*\b(O_WRONLY|O_DIRECTORY)\b.*)$/;

/** Comments blanked (line numbers kept): a comment may name readFileSync. */
function code(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "))
    .replace(/(^|[^:"'`\\])\/\/[^\n]*/g, "$1");
}

/** The arguments of the call whose '(' is at `open`, split at top-level commas. */
function argumentsAt(text: string, open: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") {
      depth--;
      if (depth === 0) {
        args.push(text.slice(start, i).trim());
        return args.filter((a) => a !== "");
      }
    } else if (c === "," && depth === 1) {
      args.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  return args;
}

/** A constant's initialiser in the same file (`const CREATE_NEW = constants.O_WRONLY | ...`). */
function constantValue(text: string, name: string): string | undefined {
  return new RegExp(`\\bconst\\s+${name}\\s*=\\s*([^;\\n]+)`).exec(text)?.[1];
}

/** Each way `file` reads a file other than through safe-read, as `FILE:LINE: text`. */
export function readViolations(file: string, source: string): string[] {
  if (file === "src/safe-read.ts") return [];
  const text = code(source);
  const found: string[] = [];
  const lineOf = (at: number) => text.slice(0, at).split("\n").length;
  const say = (at: number, what: string) => found.push(`${file}:${lineOf(at)}: ${what}`);
  for (const m of text.matchAll(READERS)) {
    // an import of a name is not a use of it; the use is reported
    if (/\bimport\b[^;]*$/.test(text.slice(text.lastIndexOf(";", m.index) + 1, m.index))) continue;
    say(m.index, m[1] as string);
  }
  for (const m of text.matchAll(FS_PROMISES)) say(m.index, "node:fs/promises");
  for (const m of text.matchAll(/\b(openSync|open)\s*\(/g)) {
    const call = m[1] as string;
    // `open(` of node:fs only: imported from it, or fs.open
    if (call === "open" && !/import\s*\{[^}]*\bopen\b[^}]*\}\s*from\s*["'](node:)?fs["']/.test(text))
      continue;
    if (call === "open" && text[m.index - 1] === "." && text.slice(m.index - 3, m.index) !== "fs.") continue;
    const args = argumentsAt(text, m.index + m[0].length - 1);
    const flags = args[1];
    const resolved =
      flags && /^[A-Z_][A-Z0-9_]*$/.test(flags) ? (constantValue(text, flags) ?? flags) : flags;
    if (resolved !== undefined && NOT_READING.test(resolved)) continue;
    const callText = `${call}(${args.join(", ")})`;
    if (ALLOWED.some((a) => a.file === file && a.call === callText)) continue;
    say(m.index, callText);
  }
  return found;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

test("read paths: no file of src/ opens or reads a file except through src/safe-read.ts", () => {
  const files = sources(join(root, "src"));
  assert.ok(files.length > 50, `found only ${files.length} sources`);
  const violations = files.flatMap((path) =>
    readViolations(relative(root, path), readFileSync(path, "utf8")),
  );
  assert.deepEqual(violations, [], `read these through src/safe-read.ts:\n${violations.join("\n")}`);
});

test("read paths: the scan finds each way to read a file, and passes writes and allowed opens", () => {
  const bad = [
    'import { readFileSync } from "node:fs";\nconst t = readFileSync(path, "utf8");',
    "const t = fs.readFileSync(path);",
    'readFile(path, "utf8", done);',
    "const s = createReadStream(path);",
    "const b = await openAsBlob(path);",
    'import { readFile } from "node:fs/promises";',
    'import { promises as fsp } from "node:fs";',
    'const fd = openSync(path, "r");',
    "const fd = openSync(path);",
    'const fd = openSync(path, "r+");',
    "const fd = openSync(path, constants.O_RDONLY);",
    "const fd = openSync(path, FLAGS);\nconst FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;",
    'import { open } from "node:fs";\nopen(path, "r", done);',
    "zlib().gunzipSync(bytes);",
    "const out = inflateSync(bytes);",
    "pipeline(source, createGunzip(), sink);",
    'const fd = openSync(dir, "r"); // not the allowed file',
  ];
  for (const source of bad) assert.notDeepEqual(readViolations("src/x.ts", source), [], source);
  const good = [
    '// readFileSync(path) is not used here\nconst fd = openSync(temp, "w", 0o644);',
    'closeSync(openSync(guard, "wx", 0o644));',
    "const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;\nopenSync(t, CREATE_NEW, 0o600);",
    "const got = readSync(fd, bytes, 0, 64, 0);",
    "const dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);",
    "await handle.open();",
  ];
  for (const source of good) assert.deepEqual(readViolations("src/x.ts", source), [], source);
  assert.deepEqual(readViolations("src/flavour/rules-store.ts", 'const dirFd = openSync(dir, "r");'), []);
  assert.deepEqual(readViolations("src/safe-read.ts", "openSync(path, OPEN); readFileSync(p);"), []);
});
