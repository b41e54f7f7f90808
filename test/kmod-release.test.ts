// flavourctl resolve follows the kmod release it is told (FLAVOURCTL_KMOD_RELEASE) or finds
// (kmod --version), where libkmod's releases read modprobe.d differently — and asks nothing
// when no file needs it.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { DEBIAN_612, debianModules } from "./support/modules.ts";
import { tempDir } from "./support/tmp.ts";

async function resolve(config: string, env: Record<string, string>, ...names: string[]) {
  const { io, recorded } = recordingIo("", env);
  const code = await main(
    ["resolve", "--modules", debianModules(DEBIAN_612), "--config", config, ...names],
    io,
  );
  return { code, out: recorded.stdout, err: recorded.stderr };
}

test("resolve: a modprobe.d *.alias file is read for kmod 32 and before, left out and said for kmod 33 and later", async () => {
  const config = join(tempDir("kmod-release"), "modprobe.d");
  mkdirSync(config);
  writeFileSync(join(config, "old.alias"), "alias from-dot-alias e1000e\n");
  const old = await resolve(config, { FLAVOURCTL_KMOD_RELEASE: "30" }, "from-dot-alias");
  assert.deepEqual(old, { code: 0, out: "from-dot-alias\te1000e\n", err: "" });
  const today = await resolve(config, { FLAVOURCTL_KMOD_RELEASE: "34" }, "from-dot-alias");
  assert.deepEqual(today, {
    code: 0,
    out: "from-dot-alias\t\n",
    err: `flavourctl resolve: warning: ${join(config, "old.alias")}: not read: kmod 33 and later read only *.conf files\n`,
  });
  const bad = await resolve(config, { FLAVOURCTL_KMOD_RELEASE: "new" }, "from-dot-alias");
  assert.equal(bad.code, 64);
  assert.match(bad.err, /FLAVOURCTL_KMOD_RELEASE='new': not a kmod release/);
  assert.equal(bad.err.split("\n").length, 2, "one line, no stack trace");
});

test("resolve: with no file whose reading depends on kmod's release, the release is never asked (a bad value goes unread)", async () => {
  const config = join(tempDir("kmod-release-conf"), "modprobe.d");
  mkdirSync(config);
  writeFileSync(join(config, "a.conf"), "alias from-conf e1000e\n");
  const result = await resolve(config, { FLAVOURCTL_KMOD_RELEASE: "new" }, "from-conf");
  assert.deepEqual(result, { code: 0, out: "from-conf\te1000e\n", err: "" });
});
