// Names from modules.alias and modalias arguments that are also Object.prototype's: a bus named
// `constructor` or `__proto__`, a bracket class [[:constructor:]] (the class of issue 15's defect
// 15, outside the simulator): looked up like any other, with or without the index cache.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { fnmatch } from "../src/modules/fnmatch.ts";
import { tempDir } from "./support/tmp.ts";

test("resolve: buses named constructor, __proto__, toString resolve as written, cache off, written and read", async () => {
  const modules = tempDir("proto-modules");
  writeFileSync(
    join(modules, "modules.alias"),
    "alias pci:v00008086d* e1000e\nalias __proto__:x* protomod\nalias constructor:y* cmod\n",
  );
  const cache = tempDir("proto-cache");
  for (const env of [
    { FLAVOURCTL_INDEX_CACHE: "off" },
    { FLAVOURCTL_INDEX_CACHE: cache },
    { FLAVOURCTL_INDEX_CACHE: cache },
  ]) {
    const { io, recorded } = recordingIo("", env);
    const code = await main(
      ["resolve", "--modules", modules, "__proto__:x1", "constructor:y1", "toString:z", "valueOf:"],
      io,
    );
    assert.equal(code, 0, recorded.stderr);
    assert.equal(recorded.stdout, "__proto__:x1\tprotomod\nconstructor:y1\tcmod\ntoString:z\t\nvalueOf:\t\n");
  }
});

test("fnmatch: [[:constructor:]] is an invalid class, which matches nothing (glibc), not every character", () => {
  assert.equal(fnmatch("[[:constructor:]]", "a"), false);
  assert.equal(fnmatch("[[:alpha:]]", "a"), true);
});
