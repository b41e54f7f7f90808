// Soft dependencies as libkmod's kmod_module_get_softdeps gives them (the differential against
// libkmod itself is test/oracle/modprobe-d.test.ts): the first matching line alone, its module
// name a glob, each name looked up.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { tempDir } from "../../test/support/tmp.ts";
import { ModulesDir } from "./modules-dir.ts";
import { softdepNames, softdeps } from "./softdep.ts";

function tree(config: string): ModulesDir {
  const dir = tempDir("softdep");
  writeFileSync(
    join(dir, "modules.alias"),
    "alias crypto-crc32c crc32c_intel\nalias crypto-crc32c crc32c_generic\n",
  );
  writeFileSync(join(dir, "modules.dep"), "a.ko:\nb.ko:\ncrc32c_intel.ko:\ncrc32c_generic.ko:\n");
  writeFileSync(join(dir, "softdep.conf"), config);
  return new ModulesDir(dir, { configPaths: [join(dir, "softdep.conf")] });
}

test("softdep words: pre: and post: choose the list, words before either are dropped, C whitespace only", () => {
  assert.deepEqual(softdepNames("x pre: a b post: c pre: d"), { pre: ["a", "b", "d"], post: ["c"] });
  // U+00A0 (byte 0xa0) is no space for isspace() in the C locale
  assert.deepEqual(softdepNames("pre: a\xa0b\vc"), { pre: ["a\xa0b", "c"], post: [] });
  assert.deepEqual(softdepNames("pre:\xa0a b"), { pre: [], post: [] });
});

test("softdeps: the first line whose glob matches answers alone, and its names are looked up", () => {
  const dir = tree(
    "softdep e1000? pre: a\nsoftdep e1000e pre: b\nsoftdep ext4 pre: crypto-crc32c post: b nosuch\n",
  );
  assert.deepEqual(softdeps(dir, "e1000e"), { pre: ["a"], post: [] });
  assert.deepEqual(softdeps(dir, "ext4"), { pre: ["crc32c_intel", "crc32c_generic"], post: ["b"] });
  assert.deepEqual(softdeps(dir, "e1000"), { pre: [], post: [] });
});
