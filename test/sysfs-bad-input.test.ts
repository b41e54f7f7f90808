// A damaged sysfs tree: missing attributes, unreadable files, dangling links, garbage in hex
// files, entries that are not addresses or lead outside the tree. Each problem is one warning
// on stderr naming the device and the file; a device whose identity cannot be read is left out
// (exit 2); every other device is still listed, and --json output stays clean JSON.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { DeviceReport } from "../src/cli/device-report.ts";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { DEBIAN_612, debianModules } from "./support/modules.ts";
import { buildTree, link } from "./support/sysfs-builder.ts";
import { tempDir } from "./support/tmp.ts";

const E1000E = { vendor: 0x8086, device: 0x10d3, classCode: 0x020000 };

function damagedTree(): string {
  const root = join(tempDir("bad-sysfs"), "sys");
  buildTree(root, [
    { address: "0000:00:01.0", ...E1000E, driver: "e1000e", group: 1 },
    // missing optional attributes: revision, subsystem ids, modalias, driver_override, config
    {
      address: "0000:00:02.0",
      ...E1000E,
      files: { revision: null, subsystem_vendor: null, modalias: null, driver_override: null, config: null },
    },
    // garbage in hex files: the identity (left out) and an optional id (warned, null)
    { address: "0000:00:03.0", ...E1000E, files: { vendor: "0xZZZZ\n" } },
    { address: "0000:00:04.0", ...E1000E, files: { subsystem_vendor: "garbage\n", numa_node: "node0\n" } },
    // unreadable: a directory where an attribute should be, a link loop
    { address: "0000:00:05.0", ...E1000E },
    { address: "0000:00:06.0", ...E1000E },
    // dangling driver and group links
    { address: "0000:00:07.0", ...E1000E },
    // a truncated modalias
    { address: "0000:00:08.0", ...E1000E, files: { modalias: "pci:v00008086d\n" } },
  ]);
  const dev = (address: string) => join(root, "devices/pci0000:00", address);
  mkdirSync(join(dev("0000:00:05.0"), "class-dir"));
  rmSync(join(dev("0000:00:05.0"), "class"));
  mkdirSync(join(dev("0000:00:05.0"), "class"));
  rmSync(join(dev("0000:00:06.0"), "modalias"));
  symlinkSync("modalias", join(dev("0000:00:06.0"), "modalias"));
  symlinkSync("../../../bus/pci/drivers/gone", join(dev("0000:00:07.0"), "driver"));
  symlinkSync("../../../kernel/iommu_groups/99", join(dev("0000:00:07.0"), "iommu_group"));
  // entries of bus/pci/devices that are not devices of this tree
  const bus = join(root, "bus/pci/devices");
  symlinkSync("../../../../../../../../etc", join(bus, "etc"));
  symlinkSync("../../../../../../../../etc", join(bus, "0000:00:09.0"));
  symlinkSync("../../../devices/pci0000:00/0000:00:0a.0", join(bus, "0000:00:0a.0"));
  writeFileSync(join(bus, "0000:00:1f.7"), "not a directory\n");
  // a device directory reached through a linked directory that leads outside the tree
  const elsewhere = tempDir("bad-sysfs-elsewhere");
  buildTree(elsewhere, [{ address: "0000:01:00.0", ...E1000E }]);
  symlinkSync(join(elsewhere, "devices/pci0000:00"), join(root, "devices/pci0000:01"));
  symlinkSync("../../../devices/pci0000:01/0000:01:00.0", join(bus, "0000:01:00.0"));
  link(join(bus, "0000:00:1f.6"), join(root, "devices/pci0000:00/0000:00:1f.6"));
  mkdirSync(join(root, "devices/pci0000:00/0000:00:1f.6"), { recursive: true });
  // an IOMMU group naming a device the tree does not have (a capture that left it out, a VF
  // removed while the listing ran)
  symlinkSync(
    "../../../../devices/pci0000:00/0000:00:1e.5",
    join(root, "kernel/iommu_groups/1/devices/0000:00:1e.5"),
  );
  return root;
}

async function list(root: string, json: boolean) {
  const { io, recorded } = recordingIo();
  const args = ["list", "--sysfs", root, "--modules", debianModules(DEBIAN_612), ...(json ? ["--json"] : [])];
  const code = await main(args, io);
  return { code, ...recorded };
}

test("a damaged tree: one clear warning per problem, the other devices still listed", async () => {
  const root = damagedTree();
  const { code, stdout, stderr } = await list(root, true);
  const devices = JSON.parse(stdout) as DeviceReport[];
  const warnings = stderr.trimEnd().split("\n");
  const says = (pattern: RegExp) =>
    assert.ok(
      warnings.some((w) => pattern.test(w)),
      `a warning matching ${pattern}:\n${stderr}`,
    );
  for (const warning of warnings) assert.match(warning, /^flavourctl list: warning: /);

  assert.equal(code, 2, "devices were left out");
  assert.deepEqual(
    devices.map((d) => d.address),
    ["0000:00:01.0", "0000:00:02.0", "0000:00:04.0", "0000:00:06.0", "0000:00:07.0", "0000:00:08.0"],
  );
  const byAddress = new Map<string, DeviceReport>(devices.map((d) => [d.address, d]));

  // the healthy device is whole
  assert.equal(byAddress.get("0000:00:01.0")?.driver, "e1000e");
  assert.deepEqual(byAddress.get("0000:00:01.0")?.modules, ["e1000e"]);

  // missing attributes
  says(/0000:00:02\.0: .*\/revision: missing/);
  says(/0000:00:02\.0: .*\/modalias: missing/);
  says(/0000:00:02\.0: .*\/config: missing/);
  const missing = byAddress.get("0000:00:02.0");
  assert.equal(missing?.revision, null);
  assert.equal(missing?.modules, null, "no modalias: modules unknown, not empty");

  // garbage
  says(/0000:00:03\.0: .*\/vendor: expected a hex number of 4 digits \(0x0000\), got '0xZZZZ'; left out/);
  says(/0000:00:04\.0: .*\/subsystem_vendor: expected a hex number .* got 'garbage'/);
  says(/0000:00:04\.0: .*\/numa_node: expected a decimal number, got 'node0'/);
  assert.equal(byAddress.get("0000:00:04.0")?.subsystemVendor, null);

  // unreadable
  says(/0000:00:05\.0: .*\/class: cannot read \(EISDIR\); left out/);
  says(/0000:00:06\.0: .*\/modalias: cannot read \(ELOOP\)/);

  // dangling links: warned, and null as the README promises (lspci would name 'gone': it only reads the link)
  says(/0000:00:07\.0: .*\/driver: dangling link to \.\.\/\.\.\/\.\.\/bus\/pci\/drivers\/gone/);
  says(/0000:00:07\.0: .*\/iommu_group: dangling link/);
  assert.equal(byAddress.get("0000:00:07.0")?.driver, null);
  assert.equal(byAddress.get("0000:00:07.0")?.iommuGroup, null);
  says(/0000:00:08\.0: .*\/modalias: not a PCI modalias: 'pci:v00008086d'/);

  // entries that are not devices of the tree
  says(/bus\/pci\/devices\/etc: not a PCI address \(DDDD:BB:DD\.F\); left out/);
  says(/0000:00:09\.0: .*points outside .*devices: \.\.\/.*etc; left out/);
  says(/0000:00:0a\.0: .*dangling link to \.\.\/\.\.\/\.\.\/devices\/pci0000:00\/0000:00:0a\.0; left out/);
  says(
    /0000:01:00\.0: .*bus\/pci\/devices\/0000:01:00\.0 points outside .*devices: \.\.\/\.\.\/\.\.\/devices\/pci0000:01\/0000:01:00\.0; left out/,
  );
  says(/0000:00:1f\.7: .*bus\/pci\/devices\/0000:00:1f\.7: cannot list \(ENOTDIR\); left out/);
  says(/0000:00:1f\.6: .*\/vendor: missing; left out/);
  says(/0000:00:1e\.5: not in .*bus\/pci\/devices; left out/);
});

test("a damaged tree as a table: the same warnings on stderr, a row for every readable device", async () => {
  const { code, stdout, stderr } = await list(damagedTree(), false);
  assert.equal(code, 2);
  assert.equal(stdout.trimEnd().split("\n").length, 1 + 6);
  assert.match(stdout, /^0000:00:07\.0 +\S.* - /m);
  assert.doesNotMatch(stdout, /gone/);
  assert.match(stderr, /0000:00:03\.0: .*vendor/);
});

test("show: strict addresses; a missing or unreadable device is an error naming it", async () => {
  const root = damagedTree();
  const show = async (...args: string[]) => {
    const { io, recorded } = recordingIo();
    const code = await main(["show", ...args, "--sysfs", root, "--modules", debianModules(DEBIAN_612)], io);
    return { code, ...recorded };
  };
  for (const address of [
    "../../etc",
    "0000:00:01.0/../../..",
    "00:01",
    "0000:00:20.0",
    " 00:01.0",
    "0000:00:01.0\n",
  ]) {
    const result = await show(address);
    assert.equal(result.code, 64, address);
    assert.match(result.stderr, /invalid PCI address/);
    assert.equal(result.stdout, "");
  }
  const absent = await show("0000:00:1e.0");
  assert.equal(absent.code, 64);
  assert.match(absent.stderr, /no PCI device 0000:00:1e\.0/);
  const unreadable = await show("00:03.0");
  assert.equal(unreadable.code, 2);
  assert.match(unreadable.stderr, /0000:00:03\.0: .*vendor: expected a hex number/);
  const outside = await show("00:09.0");
  assert.equal(outside.code, 2);
  assert.match(outside.stderr, /points outside/);
  const ok = await show("00:07.0");
  assert.equal(ok.code, 0);
  assert.match(ok.stdout, /driver +none/);
  assert.match(ok.stderr, /dangling link/);
});

test("a snapshot of a damaged tree copies nothing from outside it and reads back the same", async () => {
  const root = damagedTree();
  const dest = join(tempDir("bad-snapshot"), "copy");
  const { io, recorded } = recordingIo();
  assert.equal(await main(["snapshot", dest, "--sysfs", root], io), 0, recorded.stderr);
  assert.match(recorded.stderr, /0000:01:00\.0: links outside/);
  assert.match(recorded.stderr, /0000:00:09\.0: links outside/);
  assert.equal(existsSync(join(dest, "bus/pci/devices/0000:01:00.0")), false);
  assert.equal(existsSync(join(dest, "devices/pci0000:01")), false);
  const [original, copy] = [await list(root, true), await list(dest, true)];
  assert.deepEqual(JSON.parse(copy.stdout), JSON.parse(original.stdout));
});

test("a link whose target ends in '/' still names its driver and group (the control side reads it so too)", async () => {
  const root = join(tempDir("slash-sysfs"), "sys");
  buildTree(root, [{ address: "0000:00:01.0", ...E1000E, driver: "e1000e", group: 3 }]);
  const dev = join(root, "devices/pci0000:00/0000:00:01.0");
  rmSync(join(dev, "driver"));
  symlinkSync("../../../bus/pci/drivers/e1000e/", join(dev, "driver"));
  rmSync(join(dev, "iommu_group"));
  symlinkSync("../../../kernel/iommu_groups/3/", join(dev, "iommu_group"));
  const { code, stdout, stderr } = await list(root, true);
  assert.equal(stderr, "");
  assert.equal(code, 0);
  const [device] = JSON.parse(stdout) as DeviceReport[];
  assert.equal(device?.driver, "e1000e");
  assert.equal(device?.iommuGroup, 3);
});

test("bus/pci/devices linked out of the tree: its device directories are not read", async () => {
  const root = join(tempDir("busout-sysfs"), "sys");
  buildTree(root, [{ address: "0000:00:01.0", ...E1000E, driver: "e1000e", group: 1 }]);
  const elsewhere = join(tempDir("busout-elsewhere"), "devices");
  mkdirSync(join(elsewhere, "0000:00:02.0"), { recursive: true });
  for (const [name, value] of Object.entries({ vendor: "0x8086", device: "0x10d3", class: "0x020000" })) {
    writeFileSync(join(elsewhere, "0000:00:02.0", name), `${value}\n`);
  }
  rmSync(join(root, "bus/pci/devices"), { recursive: true });
  symlinkSync(elsewhere, join(root, "bus/pci/devices"));
  const { code, stdout, stderr } = await list(root, true);
  assert.deepEqual(JSON.parse(stdout), []);
  assert.match(stderr, /0000:00:02\.0: .*bus\/pci\/devices\/0000:00:02\.0 leads outside .*sys: .*; left out/);
  assert.equal(code, 2);
});
