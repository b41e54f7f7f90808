// snapshot: a copy that list and lspci read exactly as they read the original. Each captured
// fixture, and this machine's own /sys, is snapshotted into a temporary directory; list --json
// and `lspci -vvv -nn -k -D` (config space decoded, drivers, modules) must print the same for
// both, every link in the copy must be relative and stay inside it, and the source must be
// unchanged.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { lspci, oracleModules } from "./support/lspci.ts";
import { DEBIAN_612 } from "./support/modules.ts";
import { SYSFS_FIXTURES, sysfsTree } from "./support/sysfs-trees.ts";
import { tempDir } from "./support/tmp.ts";

async function run(args: string[]) {
  const { io, recorded } = recordingIo();
  const code = await main(args, io);
  return { code, ...recorded };
}

/** Every path of a tree with its link target or content hash. */
function fingerprint(root: string): string {
  const hash = createHash("sha256");
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const stat = lstatSync(path);
      if (stat.isSymbolicLink()) hash.update(`${path} -> ${readlinkSync(path)}\n`);
      else if (stat.isDirectory()) walk(path);
      else hash.update(`${path} ${createHash("sha256").update(readFileSync(path)).digest("hex")}\n`);
    }
  };
  walk(root);
  return hash.digest("hex");
}

/** Links that are absolute, or lead outside the copy, or nowhere. */
function badLinks(root: string): string[] {
  const bad: string[] = [];
  const top = realpathSync(root);
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const stat = lstatSync(path);
      if (stat.isSymbolicLink()) {
        const target = readlinkSync(path);
        let resolved: string | null = null;
        try {
          resolved = realpathSync(path);
        } catch {
          // dangling
        }
        if (target.startsWith("/") || resolved === null || relative(top, resolved).startsWith("..")) {
          bad.push(`${relative(root, path)} -> ${target}`);
        }
      } else if (stat.isDirectory()) walk(path);
    }
  };
  walk(root);
  return bad;
}

const modules = () => oracleModules(DEBIAN_612);
const LSPCI_ARGS = ["-vvv", "-nn", "-k", "-D"];

for (const name of Object.values(SYSFS_FIXTURES)) {
  test(`snapshot of ${name}: list and lspci read the copy as the original`, async (t) => {
    const source = sysfsTree(name);
    const before = fingerprint(source);
    const dest = join(tempDir("snapshot"), "copy");
    const made = await run(["snapshot", dest, "--sysfs", source, "--json"]);
    assert.equal(made.code, 0, made.stderr);
    assert.equal(made.stderr, "");
    t.diagnostic(made.stdout.trim());
    assert.equal(fingerprint(source), before, "the source is unchanged");
    assert.deepEqual(badLinks(dest), []);

    const list = (tree: string) => run(["list", "--json", "--sysfs", tree, "--modules", modules()]);
    const [original, copy] = [await list(source), await list(dest)];
    assert.equal(copy.code, 0, copy.stderr);
    assert.equal(copy.stderr, original.stderr);
    assert.deepEqual(JSON.parse(copy.stdout), JSON.parse(original.stdout));

    const lspciOriginal = lspci(source, modules(), LSPCI_ARGS);
    assert.ok(lspciOriginal.includes("Kernel driver in use"), "lspci read the tree");
    assert.equal(lspci(dest, modules(), LSPCI_ARGS), lspciOriginal);
  });
}

test("snapshot of this machine's /sys: lspci and list read the copy as /sys", async (t) => {
  const dest = join(tempDir("snapshot-live"), "copy");
  const made = await run(["snapshot", dest, "--json"]);
  assert.equal(made.code, 0, made.stderr);
  t.diagnostic(made.stdout.trim());
  assert.ok(JSON.parse(made.stdout).devices > 0, "this machine has PCI devices");
  assert.deepEqual(badLinks(dest), []);
  const list = (tree: string) => run(["list", "--json", "--sysfs", tree, "--modules", modules()]);
  const [live, copy] = [await list("/sys"), await list(dest)];
  assert.deepEqual(JSON.parse(copy.stdout), JSON.parse(live.stdout));
  assert.equal(lspci(dest, modules(), LSPCI_ARGS), lspci("/sys", modules(), LSPCI_ARGS));
});

test("snapshot refuses a destination inside the source or a non-empty one, and writes nothing", async () => {
  const source = sysfsTree(SYSFS_FIXTURES.firecracker);
  const before = fingerprint(source);
  const inside = await run(["snapshot", join(source, "copy"), "--sysfs", source]);
  assert.equal(inside.code, 2);
  assert.match(inside.stderr, /inside the source tree/);
  // a directory whose name starts with two dots is still inside
  const dotted = await run(["snapshot", join(source, "..copy"), "--sysfs", source]);
  assert.equal(dotted.code, 2);
  assert.match(dotted.stderr, /inside the source tree/);
  const full = await run(["snapshot", source, "--sysfs", sysfsTree(SYSFS_FIXTURES.q35)]);
  assert.equal(full.code, 2);
  assert.match(full.stderr, /exists and is not an empty directory/);
  assert.equal(fingerprint(source), before);
  const usage = await run(["snapshot"]);
  assert.equal(usage.code, 64);
});
