// What dist/flavourctl.js is built from, file by file: scripts/build.mjs stamps the bundle with
// it, and the tests that run the bundle compare it with the sources as they are now
// (test/support/bundle.ts), so that a test never runs a build older than the code it tests.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The stamp, beside the bundle. */
export const STAMP = "dist/sources.json";

// The bundle's inputs: the sources (tests excepted: they are not bundled), the build script, the
// dependencies' locked versions, package.json (its version is put into the bundle).
const INPUTS = ["src", "scripts/build.mjs", "package.json", "package-lock.json"];

function* files(root, path) {
  let entries;
  try {
    entries = readdirSync(join(root, path), { withFileTypes: true });
  } catch (error) {
    if (error.code === "ENOTDIR") return yield path;
    if (error.code === "ENOENT") return;
    throw error;
  }
  for (const entry of entries) {
    const child = `${path}/${entry.name}`;
    if (entry.isDirectory()) yield* files(root, child);
    else if (!entry.name.endsWith(".test.ts")) yield child;
  }
}

/** Every input file under ROOT (its path from ROOT) with the sha256 of its content, sorted by path. */
export function sourceHashes(root) {
  const hashes = {};
  for (const path of INPUTS.flatMap((input) => [...files(root, input)]).sort()) {
    hashes[path] = createHash("sha256")
      .update(readFileSync(join(root, path)))
      .digest("hex");
  }
  return hashes;
}
