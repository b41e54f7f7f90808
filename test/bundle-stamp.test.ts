// The tests that run dist/flavourctl.js run the code as it is: scripts/build.mjs stamps the
// bundle with its sources' hashes (scripts/source-hash.mjs) and test/support/bundle.ts refuses
// a bundle whose sources changed since, naming them.
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { STAMP, sourceHashes } from "../scripts/source-hash.mjs";
import { builtBundle } from "./support/bundle.ts";
import { tempDir } from "./support/tmp.ts";

/** A project with a built and stamped bundle, then CHANGE applied to it. */
function built(change: (root: string) => void = () => {}): string {
  const root = tempDir("bundle-stamp");
  for (const [path, text] of Object.entries({
    "src/cli/entry.ts": "export {};\n",
    "src/cli/entry.test.ts": "// a test\n",
    "src/host/sim/machines/demo.json": "{}\n",
    "scripts/build.mjs": "// build\n",
    "package-lock.json": "{}\n",
    "dist/flavourctl.js": "// bundle\n",
  })) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  writeFileSync(join(root, STAMP), JSON.stringify(sourceHashes(root)));
  change(root);
  return root;
}

test("a bundle built from the sources as they are is used", () => {
  const root = built();
  assert.equal(builtBundle(root), join(root, "dist/flavourctl.js"));
  // a test file is not bundled: editing one leaves the bundle current
  const edited = built((r) => writeFileSync(join(r, "src/cli/entry.test.ts"), "// another test\n"));
  assert.equal(builtBundle(edited), join(edited, "dist/flavourctl.js"));
});

test("a bundle older than its sources is refused, naming what changed", () => {
  const stale = (change: (root: string) => void) => () => builtBundle(built(change));
  assert.throws(
    stale((r) => writeFileSync(join(r, "src/cli/entry.ts"), "export const x = 1;\n")),
    /dist\/flavourctl\.js is stale: src\/cli\/entry\.ts changed since it was built: run npm run build/,
  );
  assert.throws(
    stale((r) => writeFileSync(join(r, "src/cli/new.ts"), "export {};\n")),
    /stale: src\/cli\/new\.ts changed/,
  );
  assert.throws(
    stale((r) => rmSync(join(r, "src/host/sim/machines/demo.json"))),
    /stale: src\/host\/sim\/machines\/demo\.json/,
  );
  assert.throws(
    stale((r) => writeFileSync(join(r, "package-lock.json"), "{ }\n")),
    /stale: package-lock\.json/,
  );
  assert.throws(
    stale((r) => writeFileSync(join(r, "scripts/build.mjs"), "// faster\n")),
    /stale: scripts\/build\.mjs/,
  );
  assert.throws(
    stale((r) => rmSync(join(r, STAMP))),
    /sources\.json: .*does not say what it was built from: run npm run build/,
  );
  assert.throws(
    stale((r) => rmSync(join(r, "dist/flavourctl.js"))),
    /flavourctl\.js is missing: run npm run build/,
  );
});
