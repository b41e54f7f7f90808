// One test process for every unit and integration test (DESIGN.md section 7): Node 20's
// `node --test` does not find .ts files and per-file processes through tsx cost seconds.
// The kernel suite (test/kernel/) runs inside a QEMU guest and is not imported here.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";

const root = new URL("..", import.meta.url).pathname;
const skipped = new Set(["node_modules", "fixtures", "kernel", ".cache", "dist"]);

function findTests(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skipped.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findTests(path));
    else if (entry.name.endsWith(".test.ts")) found.push(path);
  }
  return found;
}

// Every command a test runs, in this process or spawned, keeps its index cache here, never in
// the machine's /var/cache or ~/.cache (src/host/cache-dir.ts).
const cacheDir = mkdtempSync(join(tmpdir(), "flavourctl-test-cache-"));
process.env.FLAVOURCTL_INDEX_CACHE = cacheDir;
process.on("exit", () => rmSync(cacheDir, { recursive: true, force: true }));

// Files the tests write are not group- or world-writable whatever the caller's umask: a rule
// file others could write is not trusted (src/safe-read.ts readControlledText).
process.umask(0o022);

const filter = process.argv[2];
const files = [...findTests(join(root, "src")), ...findTests(join(root, "test"))]
  .filter((file) => !filter || relative(root, file).includes(filter))
  .sort();
if (files.length === 0) {
  console.error(`test/run.ts: no test files found${filter ? ` matching ${filter}` : ""}`);
  process.exit(1);
}
for (const file of files) await import(pathToFileURL(file).href);
