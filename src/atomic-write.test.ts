// writeFileAtomically: a whole new file or the old one, and never a write through a link that
// someone planted under the temporary name (the cache directory may be shared).
import assert from "node:assert/strict";
import { lstatSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { tempDir } from "../test/support/tmp.ts";
import { temporaryName, writeFileAtomically } from "./atomic-write.ts";

test("atomic write: replaces the file whole, leaves no temporary file", () => {
  const dir = tempDir("atomic");
  const path = join(dir, "state.json");
  writeFileSync(path, "old");
  writeFileAtomically(path, "new", { mode: 0o600 });
  assert.equal(readFileSync(path, "utf8"), "new");
  assert.equal(lstatSync(path).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir), ["state.json"]);
});

test("atomic write: a link planted under the temporary name is not written through", () => {
  const dir = tempDir("atomic-planted");
  const victim = join(tempDir("atomic-victim"), "victim");
  writeFileSync(victim, "precious");
  const path = join(dir, "cache");
  // the name is unpredictable; here the test makes it known, as an attacker cannot
  const random = Math.random;
  Math.random = () => 0.5;
  const planted = temporaryName(path);
  symlinkSync(victim, planted);
  try {
    assert.throws(() => writeFileAtomically(path, "clobbered"), { code: "EEXIST" });
  } finally {
    Math.random = random;
  }
  assert.equal(readFileSync(victim, "utf8"), "precious");
  assert.ok(lstatSync(planted).isSymbolicLink(), "the planted link is left alone");
});
