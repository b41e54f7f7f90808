import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { DEBIAN_61, DEBIAN_612, debianModules } from "../../test/support/modules.ts";
import { tempDir } from "../../test/support/tmp.ts";
import { lookup } from "./lookup.ts";
import { ModulesDir } from "./modules-dir.ts";

function modulesDir(files: Record<string, string>): ModulesDir {
  const dir = tempDir("lookup");
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text, "latin1");
  return new ModulesDir(dir, { configPaths: ["/dev/null"] });
}
const names = (dir: ModulesDir, key: string) => lookup(dir, key).matches.map((m) => m.module);

test("modules.alias: every matching line, in module priority order, duplicates kept", () => {
  const dir = modulesDir({
    "modules.alias":
      "# Aliases extracted from modules themselves.\n" +
      "alias pci:v00001AF4d*sv*sd*bc*sc*i* zmod\n" +
      "alias pci:v00001AF4d00001042sv*sd*bc*sc*i* zmod\n" +
      "alias pci:v*d*sv*sd*bc01sc00i* amod\n" +
      "alias pci:v*d*sv*sd*bc02sc00i* bmod\n",
  });
  assert.deepEqual(names(dir, "pci:v00001AF4d00001042sv000015B3sd00000001bc01sc00i00"), [
    "zmod",
    "zmod",
    "amod",
  ]);
  assert.deepEqual(names(dir, "pci:v00008086d00001042sv000015B3sd00000001bc03sc00i00"), []);
});

test("built-in aliases come in libkmod's order: the index walk reversed (checked against modprobe -R)", () => {
  // The same modules.builtin.modinfo given to Debian's depmod and `modprobe -C /dev/null -R a:xy`
  // printed: mod3 mod1 mod4 mod1 mod4 mod2.
  const dir = modulesDir({
    "modules.alias": "",
    "modules.builtin": "kernel/a/mod1.ko\nkernel/a/mod2.ko\nkernel/a/mod3.ko\nkernel/a/mod4.ko\n",
    "modules.builtin.modinfo":
      "mod1.alias=a:x*\0mod2.alias=a:*\0mod3.alias=a:xy\0mod4.alias=a:x?\0mod4.alias=a:[x]y\0mod1.alias=a:xy\0",
  });
  assert.deepEqual(names(dir, "a:xy"), ["mod3", "mod1", "mod4", "mod1", "mod4", "mod2"]);
  assert.equal(lookup(dir, "a:xy").stage, "built-in alias");
});

test("stages: the first stage that finds anything answers", () => {
  const dir = modulesDir({
    "modules.alias": "alias fs-fuse fuse\nalias e1000e-alias e1000e\n",
    "modules.dep": "kernel/drivers/net/e1000e.ko.xz:\nkernel/fs/fuse/fuse.ko.xz:\n",
    "modules.builtin": "kernel/drivers/pci/pcie/portdrv.ko\n",
  });
  assert.deepEqual(lookup(dir, "e1000e"), { stage: "module name", matches: [{ module: "e1000e" }] });
  // '-' is normalised to '_' before any stage looks: fs-fuse is looked up as fs_fuse.
  assert.deepEqual(names(dir, "fs-fuse"), ["fuse"]);
  assert.equal(lookup(dir, "portdrv").stage, "built-in module");
  assert.equal(lookup(dir, "nothing").stage, null);
});

test("a name libkmod refuses (unbalanced brackets) finds nothing and says why", () => {
  const dir = modulesDir({ "modules.alias": "alias a:* amod\n" });
  assert.deepEqual(lookup(dir, "a:]x"), {
    stage: null,
    matches: [],
    invalid: "unbalanced brackets",
    errno: "EINVAL",
  });
  assert.deepEqual(lookup(dir, "a:[x"), {
    stage: null,
    matches: [],
    invalid: "unbalanced brackets",
    errno: "EINVAL",
  });
});

test("modprobe.d aliases answer before modules.alias", () => {
  const dir = tempDir("config");
  writeFileSync(join(dir, "modules.alias"), "alias pci:v*d*sv*sd*bc*sc*i* generic\n");
  writeFileSync(join(dir, "local.conf"), "# local\nalias pci:v00001234* special\nblacklist nouveau\n");
  const modules = new ModulesDir(dir, { configPaths: [join(dir, "local.conf")] });
  const result = lookup(modules, "pci:v00001234d00000001sv00000000sd00000000bc00sc00i00");
  assert.equal(result.stage, "modprobe.d alias");
  assert.deepEqual(
    result.matches.map((m) => [m.module, m.config?.line]),
    [["special", 2]],
  );
  assert.equal(modules.config.blacklist.has("nouveau"), true);
});

test("real Debian trees: well-known devices resolve to the modules Debian ships", () => {
  const m612 = new ModulesDir(debianModules(DEBIAN_612), { configPaths: ["/dev/null"] });
  assert.deepEqual(names(m612, "pci:v000010ECd00008139sv00001AF4sd00001100bc02sc00i00"), [
    "8139cp",
    "8139too",
  ]);
  assert.deepEqual(names(m612, "pci:v00008086d000010D3sv000015B3sd00000001bc02sc00i00"), ["e1000e"]);
  assert.deepEqual(names(m612, "vfio_pci:v00008086d000010D3sv000015B3sd00000001bc02sc00i00"), ["vfio_pci"]);
  assert.deepEqual(names(m612, "pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30"), ["xhci_pci"]);
  // virtio_pci is built into Debian's 6.12 and before 6.18 built-ins have no alias lines.
  assert.deepEqual(names(m612, "pci:v00001AF4d00001042sv00001AF4sd00001100bc01sc00i00"), []);
  const m61 = new ModulesDir(debianModules(DEBIAN_61), { configPaths: ["/dev/null"] });
  assert.deepEqual(names(m61, "pci:v00001AF4d00001042sv00001AF4sd00001100bc01sc00i00"), ["virtio_pci"]);
});

test("the line behind a match is named by file and line", () => {
  const m612 = new ModulesDir(debianModules(DEBIAN_612), { configPaths: ["/dev/null"] });
  const [first] = lookup(m612, "pci:v000010ECd00008139sv00001AF4sd00001100bc02sc00i00").matches;
  assert.equal(first?.alias?.pattern, "pci:v000010ECd00008139sv*sd*bc*sc*i*");
  assert.equal(first?.alias?.line, 7508);
  assert.match(first?.alias?.file ?? "", /modules\.alias$/);
});

test("a string holding wildcards is walked literally, finding a pattern twice as libkmod does", () => {
  // `modprobe -C /dev/null -R 'a:x*'` on the tree above printed: mod1 mod4 mod1 mod2.
  const dir = modulesDir({
    "modules.alias": "",
    "modules.builtin.modinfo":
      "mod1.alias=a:x*\0mod2.alias=a:*\0mod3.alias=a:xy\0mod4.alias=a:x?\0mod4.alias=a:[x]y\0mod1.alias=a:xy\0",
  });
  assert.deepEqual(names(dir, "a:x*"), ["mod1", "mod4", "mod1", "mod2"]);
});

test("the walk sees every key: `dmi` is a trie node (dmi: and dmi* patterns), so dmi*… is found twice", () => {
  // Given to Debian's depmod, `modprobe -C /dev/null -R 'dmi*:rvn*Kon*:'` printed
  // mod3 mod2 mod3 mod2: once through the node's `*` child, once walking the `*` literally.
  const dir = modulesDir({
    "modules.alias": "",
    "modules.builtin.modinfo":
      "mod1.alias=dmi:bv*\0mod2.alias=dmi*:rvn*Kon*:\0mod3.alias=dmi*:svn*\0mod3.alias=dmi*:rvn*\0",
  });
  assert.deepEqual(names(dir, "dmi*:rvn*Kon*:"), ["mod3", "mod2", "mod3", "mod2"]);
  assert.deepEqual(names(dir, "dmi:bvX"), ["mod1"]);
});

test("a match whose module and alias overflow libkmod's PATH_MAX key fails the lookup (ENAMETOOLONG)", () => {
  // modprobe -R on `a:` + 4088 x printed mod1; on `a:` + 4089 x: "Could not create module".
  const dir = modulesDir({ "modules.alias": "", "modules.builtin.modinfo": "mod1.alias=a:*\0" });
  assert.deepEqual(names(dir, `a:${"x".repeat(4088)}`), ["mod1"]);
  assert.deepEqual(lookup(dir, `a:${"x".repeat(4089)}`), {
    stage: null,
    matches: [],
    invalid: "too long for libkmod (ENAMETOOLONG)",
    errno: "ENAMETOOLONG",
  });
});
