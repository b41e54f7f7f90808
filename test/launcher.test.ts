// The executable's V8 code cache (src/cli/launcher.ts) on the built dist/flavourctl.js: the
// first command writes a cache for its verb, the next one runs from it (the file is read, not
// written again), and a damaged, foreign or disabled cache changes nothing but speed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { builtBundle } from "./support/bundle.ts";
import { DEBIAN_612, debianModules } from "./support/modules.ts";
import { SYSFS_FIXTURES, sysfsTree } from "./support/sysfs-trees.ts";
import { tempDir } from "./support/tmp.ts";

function run(cacheDir: string, stateDir: string) {
  const result = spawnSync(process.execPath, [builtBundle(), "list", "--machine", "demo"], {
    encoding: "utf8",
    env: { ...process.env, FLAVOURCTL_INDEX_CACHE: cacheDir, XDG_STATE_HOME: stateDir, NO_COLOR: "1" },
  });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

test("the executable runs from a code cache of its own, per verb, and survives a bad one", () => {
  const cacheDir = tempDir("code-cache");
  const stateDir = tempDir("code-cache-state");
  const expected = run(cacheDir, stateDir);
  assert.match(expected, /ADDRESS/);
  const caches = readdirSync(cacheDir).filter((name) => name.startsWith("code-"));
  assert.equal(caches.length, 1, `one cache, for list: ${caches}`);
  assert.match(caches[0] as string, /^code-[0-9a-f]{16}-list\.v8$/);
  const path = join(cacheDir, caches[0] as string);
  const written = statSync(path);
  assert.equal(written.mode & 0o777, 0o644);

  assert.equal(run(cacheDir, stateDir), expected);
  const reused = statSync(path);
  assert.equal(reused.ino, written.ino, "read, not written again");
  assert.equal(reused.mtimeMs, written.mtimeMs);

  // Damaged: V8 rejects it, the bundle is compiled from source and the cache written anew.
  writeFileSync(path, "not a code cache");
  assert.equal(run(cacheDir, stateDir), expected);
  assert.notEqual(readFileSync(path, "latin1"), "not a code cache");

  // Writable by others: it could hold anyone's code, so it is not run, and is replaced.
  chmodSync(path, 0o666);
  const foreign = statSync(path);
  assert.equal(run(cacheDir, stateDir), expected);
  const replaced = statSync(path);
  assert.notEqual(replaced.ino, foreign.ino);
  assert.equal(replaced.mode & 0o777, 0o644);

  // Off: nothing written.
  const none = tempDir("code-cache-off");
  const offResult = spawnSync(process.execPath, [builtBundle(), "list", "--machine", "demo"], {
    encoding: "utf8",
    env: {
      ...process.env,
      FLAVOURCTL_INDEX_CACHE: "off",
      XDG_STATE_HOME: stateDir,
      HOME: none,
      NO_COLOR: "1",
    },
  });
  assert.equal(offResult.stdout, expected);
  assert.deepEqual(readdirSync(none), []);
});

test("a wrong command line (exit 64: a mistyped verb) leaves no code cache behind", () => {
  const cacheDir = tempDir("code-cache-typo");
  const result = spawnSync(process.execPath, [builtBundle(), "lsit"], {
    encoding: "utf8",
    env: { ...process.env, FLAVOURCTL_INDEX_CACHE: cacheDir },
  });
  assert.equal(result.status, 64);
  assert.match(result.stderr, /unknown command 'lsit'/);
  assert.deepEqual(readdirSync(cacheDir), []);
});

test("list loads no built-in module it does not use (child_process, net, streams, zlib, os, module)", () => {
  const dir = tempDir("module-list");
  const preload = join(dir, "modules.cjs");
  const out = join(dir, "loaded.txt");
  writeFileSync(
    preload,
    `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(out)}, process.moduleLoadList.join("\\n")));`,
  );
  const tree = sysfsTree(SYSFS_FIXTURES.q35);
  const args = [
    "-r",
    preload,
    builtBundle(),
    "list",
    "--sysfs",
    tree,
    "--modules",
    debianModules(DEBIAN_612),
  ];
  const result = spawnSync(process.execPath, args, {
    encoding: "utf8",
    env: { ...process.env, FLAVOURCTL_INDEX_CACHE: "off" },
  });
  assert.equal(result.status, 0, result.stderr);
  const loaded = readFileSync(out, "utf8").split("\n");
  assert.ok(loaded.includes("NativeModule vm"), "the list is read");
  // what node loads to run an empty file is not ours to spare: Node 18 loads stream for any file
  const empty = join(dir, "empty.js");
  writeFileSync(empty, "");
  assert.equal(spawnSync(process.execPath, ["-r", preload, empty]).status, 0);
  const nodes = new Set(readFileSync(out, "utf8").split("\n"));
  assert.ok(nodes.has("NativeModule fs"), "the empty file's list is read");
  for (const name of ["child_process", "net", "stream", "zlib", "os", "module", "tty"]) {
    const module = `NativeModule ${name}`;
    assert.ok(!loaded.includes(module) || nodes.has(module), `${name} is loaded`);
  }
});

test("overlaps, which sets a V8 flag for its one pass, reuses its code cache too (V8 checks the flags it was made with)", () => {
  const cacheDir = tempDir("code-cache-overlaps");
  const aliases = join(tempDir("code-cache-overlaps-input"), "modules.alias");
  writeFileSync(
    aliases,
    "alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\nalias pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_net\n",
  );
  const overlaps = () => {
    const result = spawnSync(process.execPath, [builtBundle(), "overlaps", "--alias", aliases], {
      encoding: "utf8",
      env: { ...process.env, FLAVOURCTL_INDEX_CACHE: cacheDir },
    });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, "");
    return result.stdout;
  };
  const expected = overlaps();
  assert.match(expected, /virtio_net/);
  const [cache] = readdirSync(cacheDir).filter((name) => name.endsWith("-overlaps.v8"));
  assert.ok(cache, "a code cache for overlaps");
  const written = statSync(join(cacheDir, cache));
  for (let i = 0; i < 2; i++) assert.equal(overlaps(), expected);
  const after = statSync(join(cacheDir, cache));
  assert.equal(after.ino, written.ino, "accepted, not rejected and written again");
  assert.equal(after.mtimeMs, written.mtimeMs);
});
