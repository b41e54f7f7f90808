// aliases --source on a small made-up tree: which modules a config builds (Kbuild's obj-y,
// obj-m, directories), built-in drivers, modpost's dropped override_only values, and bad
// input (an unreadable config, a dangling source file, an unknown module).
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { recordingIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { tempDir } from "../support/tmp.ts";

const table = (name: string, ...entries: string[]) =>
  `#include <linux/pci.h>\nstatic const struct pci_device_id ${name}[] = {\n${entries
    .map((e) => `\t{ ${e} },\n`)
    .join("")}\t{ 0, }\n};\nMODULE_DEVICE_TABLE(pci, ${name});\n`;

function makeTree(): string {
  const tree = tempDir("kbuild");
  const files: Record<string, string> = {
    "include/linux/pci_ids.h": "#define PCI_VENDOR_ID_TEST 0x1234\n",
    "include/linux/pci.h":
      "#define PCI_ANY_ID (~0)\n#define PCI_DEVICE(vend,dev) .vendor = (vend), .device = (dev), .subvendor = PCI_ANY_ID, .subdevice = PCI_ANY_ID\n",
    "include/linux/mod_devicetable.h": "",
    "arch/x86/Makefile": "drivers-$(CONFIG_PCI) += arch/x86/pci/\n",
    "arch/x86/pci/Makefile": "obj-y += fixup.o\n",
    "arch/x86/pci/fixup.c": table("fixup_ids", "PCI_DEVICE(PCI_VENDOR_ID_TEST, 0x0009)"),
    Kbuild: "obj-y += drivers/\nobj-y += $(ARCH_DRIVERS)\n",
    "drivers/Makefile": [
      "obj-$(CONFIG_FOO) += foo/",
      "obj-$(CONFIG_OFF) += off/",
      "obj-$(CONFIG_BAR) += bar.o",
      "obj-$(CONFIG_INSIDE) += inside.o",
      "ifeq ($(CONFIG_ODD),m)",
      "obj-m += odd.o",
      "endif",
      "obj-m += dangling.o guarded.o",
      "",
    ].join("\n"),
    "drivers/foo/Makefile": "obj-$(CONFIG_FOO_DRV) += foo-drv.o\nfoo-drv-y := main.o\n",
    "drivers/foo/main.c": table("foo_ids", "PCI_DEVICE(PCI_VENDOR_ID_TEST, 0x0001)"),
    "drivers/off/Makefile": "obj-m += off.o\n",
    "drivers/off/off.c": table("off_ids", "PCI_DEVICE(PCI_VENDOR_ID_TEST, 0x0001)"),
    // its one entry is under #ifdef: without a config it has no alias
    "drivers/guarded.c": table("guarded_ids", "PCI_DEVICE(PCI_VENDOR_ID_TEST, 0x0004)").replace(
      /^(\t\{ PCI_DEVICE.*\n)/m,
      "#ifdef CONFIG_GUARD\n$1#endif\n",
    ),
    "drivers/bar.c": table("bar_ids", "PCI_DEVICE(PCI_VENDOR_ID_TEST, 0x0001)"),
    "drivers/inside.c": table("inside_ids", "PCI_DEVICE(PCI_VENDOR_ID_TEST, 0x0001)"),
    "drivers/odd.c": table(
      "odd_ids",
      "PCI_DEVICE(PCI_VENDOR_ID_TEST, 0x0002)",
      "PCI_DEVICE(PCI_VENDOR_ID_TEST, 0x0003), .override_only = 2",
    ),
    config: [
      "CONFIG_X86=y",
      "CONFIG_PCI=y",
      "CONFIG_FOO=y",
      "CONFIG_FOO_DRV=m",
      "# CONFIG_OFF is not set",
      "# CONFIG_BAR is not set",
      "CONFIG_INSIDE=y",
      "CONFIG_ODD=m",
      "CONFIG_GUARD=y",
      "",
    ].join("\n"),
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(tree, path)), { recursive: true });
    writeFileSync(join(tree, path), text);
  }
  writeFileSync(join(tree, "config.gz"), gzipSync(files.config as string));
  return tree;
}

async function run(...args: string[]) {
  const { io, recorded } = recordingIo();
  const code = await main(args, io);
  return { code, ...recorded };
}

const modulesOf = (stdout: string) => [
  ...new Set(
    stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(" ")[2]),
  ),
];

test("aliases --source --config: only the modules Kbuild builds from the config; built-in ones print no line", async () => {
  const tree = makeTree();
  for (const config of ["config", "config.gz"]) {
    const r = await run("aliases", "--source", tree, "--config", join(tree, config));
    assert.equal(r.code, 0, r.stderr);
    // bar (unset), off (its directory unset), dangling (unreadable) are not built; inside and
    // arch/x86/pci's fixup are built in
    assert.deepEqual(modulesOf(r.stdout).sort(), ["foo_drv", "guarded", "odd"]);
    assert.match(
      r.stderr,
      /note: .*config(\.gz)?: 2 modules with pci tables not built \(left out\): bar, off; 2 built in/,
    );
  }
  const json = JSON.parse(
    (await run("aliases", "--source", tree, "--config", join(tree, "config"), "--json")).stdout,
  );
  assert.deepEqual(
    json.builtIn.map((l: { module: string; origin: string }) => `${l.module} ${l.origin}`),
    ["fixup arch/x86/pci/fixup.c:3 (built in)", "inside drivers/inside.c:3 (built in)"],
  );
});

test("aliases --source without a config: every file with a table is a module, and a note says so", async () => {
  const tree = makeTree();
  const r = await run("aliases", "--source", tree);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(modulesOf(r.stdout).sort(), ["bar", "fixup", "foo_drv", "inside", "odd", "off"]);
  assert.match(
    r.stderr,
    /note: no kernel config .*every CONFIG_ option is unset .*\(1 module with tables got no alias line\)/,
  );
});

test("overlaps --source --config: built-in drivers claim devices too, unbuilt ones do not", async () => {
  const tree = makeTree();
  const r = await run("overlaps", "--source", tree, "--config", join(tree, "config"));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /identical +foo_drv inside|identical +inside foo_drv/);
  assert.doesNotMatch(r.stdout, /\bbar\b|\boff\b/);
  // the note aliases prints: what the config left out
  assert.match(r.stderr, /^flavourctl overlaps: note: .*not built \(left out\)/m);
});

test("aliases --source: an .override_only other than 0 and 1 is dropped and reported, as modpost does", async () => {
  const tree = makeTree();
  const r = await run("aliases", "--source", tree, "--config", join(tree, "config"), "--module", "odd");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "alias pci:v00001234d00000002sv*sd*bc*sc*i* odd\n");
  assert.match(r.stderr, /unresolved: drivers\/odd\.c:4: odd_ids: unknown driver_override value 2/);
});

test("aliases --source: bad input is one line naming the file, never a stack", async () => {
  const tree = makeTree();
  const dir = await run("aliases", "--source", tree, "--config", tree);
  assert.equal(dir.code, 2);
  assert.match(dir.stderr, new RegExp(`${tree}: cannot read the kernel config \\(EISDIR\\)`));
  const truncated = join(tree, "truncated.gz");
  writeFileSync(truncated, gzipSync("CONFIG_FOO=y\n".repeat(100)).subarray(0, 20));
  const gz = await run("aliases", "--source", tree, "--config", truncated);
  assert.equal(gz.code, 2);
  assert.match(gz.stderr, /truncated\.gz: not a readable gzip file \(unexpected end of file\)/);
  for (const r of [dir, gz]) assert.doesNotMatch(r.stderr, /\n\s+at /);
  // a dangling symlink is a problem; the rest goes on
  symlinkSync(join(tree, "nowhere.c"), join(tree, "drivers/dangling.c"));
  const dangling = await run("aliases", "--source", tree, "--config", join(tree, "config"));
  assert.equal(dangling.code, 0, dangling.stderr);
  assert.match(dangling.stderr, /unresolved: drivers\/dangling\.c: cannot read \(ENOENT\)/);
  assert.deepEqual(modulesOf(dangling.stdout).sort(), ["foo_drv", "guarded", "odd"]);
  // a module that exists but is not built: nothing printed, the note names it
  const unbuilt = await run("aliases", "--source", tree, "--config", join(tree, "config"), "--module", "bar");
  assert.equal(unbuilt.code, 0, unbuilt.stderr);
  assert.equal(unbuilt.stdout, "");
  assert.match(unbuilt.stderr, /1 module with pci tables not built \(left out\): bar;/);
  const none = await run("aliases", "--source", tree, "--module", "nosuch");
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no module 'nosuch' has a pci MODULE_DEVICE_TABLE/);
});
