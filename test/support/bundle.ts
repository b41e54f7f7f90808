// The built executable, for the tests that run it: dist/flavourctl.js as scripts/build.mjs made
// it from the sources as they are now. A bundle built before a source was edited would test the
// old code and pass: it fails the test instead, naming what changed.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { STAMP, sourceHashes } from "../../scripts/source-hash.mjs";

const repo = new URL("../..", import.meta.url).pathname;
/** Roots found current in this process: the sources are read once, not at every spawn. */
const current = new Set<string>();

/** ROOT/dist/flavourctl.js, when it was built from ROOT's sources as they are; else throws why. */
export function builtBundle(root = repo): string {
  const bundle = join(root, "dist/flavourctl.js");
  if (current.has(root)) return bundle;
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build`);
  let built: Record<string, string>;
  try {
    built = JSON.parse(readFileSync(join(root, STAMP), "utf8"));
  } catch (error) {
    throw new Error(
      `${join(root, STAMP)}: ${(error as Error).message}: the bundle does not say what it was built from: run npm run build`,
    );
  }
  const now = sourceHashes(root);
  const changed = [...new Set([...Object.keys(built), ...Object.keys(now)])]
    .filter((path) => built[path] !== now[path])
    .sort();
  if (changed.length > 0) {
    const named =
      changed.slice(0, 3).join(", ") + (changed.length > 3 ? ` and ${changed.length - 3} more` : "");
    throw new Error(`${bundle} is stale: ${named} changed since it was built: run npm run build`);
  }
  current.add(root);
  return bundle;
}
