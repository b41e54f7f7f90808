// Which kmod release a modules directory's depmod was, and `kmod --version` read.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEBIAN_61, DEBIAN_72, DEBIAN_612, debianModules } from "../../test/support/modules.ts";
import { depmodRelease, parseKmodVersion } from "./kmod-version.ts";

test("kmod --version: the release number of its first line", () => {
  assert.equal(parseKmodVersion("kmod version 30\n+ZSTD +XZ -ZLIB +LIBCRYPTO -EXPERIMENTAL\n"), 30);
  assert.equal(parseKmodVersion("kmod version 34.2\n+ZSTD +XZ -ZLIB +OPENSSL\n"), 34);
  assert.equal(parseKmodVersion("kmod version 34.2"), 34);
  for (const odd of ["", "kmod version\n", "kmod version x34\n", "modprobe version 34\n", "libkmod 34\n"])
    assert.equal(parseKmodVersion(odd), undefined, JSON.stringify(odd));
});

test("the depmod that wrote a tree: modules.weakdep only from kmod 33 on (Debian 12's 6.1 and 6.12 by kmod 30, sid's 7.2 by kmod 34)", () => {
  assert.equal(depmodRelease(debianModules(DEBIAN_61)), 32);
  assert.equal(depmodRelease(debianModules(DEBIAN_612)), 32);
  assert.equal(depmodRelease(debianModules(DEBIAN_72)), 33);
});
