// list --json against lspci -k on every captured tree: for every device, `driver` must be
// lspci's "Kernel driver in use" and `modules` its "Kernel modules", and both must list the
// same devices. lspci reads the modules of /lib/modules/$(uname -r); test/support/lspci.ts
// points that path at the oracle's tree in a private mount namespace. The q35 tree was
// captured on Debian's 6.12.117 and is checked with that kernel's modules; there is no
// modules tree of the Firecracker guest's 6.18 (it loads no modules: virtio-pci is built in),
// so it is checked with 6.12 — the newest Debian tree here. Both trees are also checked with
// Debian's 6.1, a second real alias table with a different module order. Each is asked of this
// machine's lspci 3.9 (libkmod 30) and of Debian sid's lspci 3.15 (libkmod 34; oracle.ts
// sidCommand), the latter also with sid's 7.2.13 tree, whose depmod was kmod 34 (issue 16).
import assert from "node:assert/strict";
import { cpSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { DeviceReport } from "../src/cli/device-report.ts";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import {
  benchOracleModules,
  lspciKernel,
  oracleModules,
  PCIUTILS_NAME,
  type Pciutils,
} from "./support/lspci.ts";
import { BENCH_MODULES, DEBIAN_61, DEBIAN_72, DEBIAN_612, debianModules } from "./support/modules.ts";
import { SYSFS_FIXTURES, sysfsTree } from "./support/sysfs-trees.ts";
import { tempDir } from "./support/tmp.ts";

export async function listJson(tree: string, modules: string): Promise<DeviceReport[]> {
  const { io, recorded } = recordingIo();
  const code = await main(["list", "--json", "--sysfs", tree, "--modules", modules], io);
  assert.equal(code, 0, recorded.stderr);
  return JSON.parse(recorded.stdout) as DeviceReport[];
}

// withModules: devices lspci gives "Kernel modules" (6.12 builds virtio_pci in, 6.1 as a module),
// so a tree that silently was not read cannot pass.
const cases: { tree: string; kernel: string; devices: number; withModules: number; pciutils: Pciutils }[] =
  [];
for (const pciutils of ["host", "sid"] as const) {
  cases.push(
    { tree: SYSFS_FIXTURES.q35, kernel: DEBIAN_612, devices: 25, withModules: 12, pciutils },
    { tree: SYSFS_FIXTURES.firecracker, kernel: DEBIAN_612, devices: 6, withModules: 0, pciutils },
    { tree: SYSFS_FIXTURES.bench, kernel: DEBIAN_612, devices: 26, withModules: 9, pciutils },
    // The bench's tree is also read as its guest read it: list with the committed copy of the
    // guest's modules files (BENCH_MODULES, virtio_vfio_pci's vfio_pci: alias included), lspci
    // with the guest's modules tree itself.
    { tree: SYSFS_FIXTURES.bench, kernel: BENCH_MODULES, devices: 26, withModules: 9, pciutils },
  );
}
cases.push(
  { tree: SYSFS_FIXTURES.q35, kernel: DEBIAN_61, devices: 25, withModules: 17, pciutils: "host" },
  { tree: SYSFS_FIXTURES.firecracker, kernel: DEBIAN_61, devices: 6, withModules: 5, pciutils: "host" },
  // 7.2's built-in drivers have aliases (modules.builtin.modinfo): every q35 device gets a
  // module, built-in ones included (virtio_pci, shpchp, intel_agp: none on 6.12)
  { tree: SYSFS_FIXTURES.q35, kernel: DEBIAN_72, devices: 25, withModules: 25, pciutils: "sid" },
  { tree: SYSFS_FIXTURES.firecracker, kernel: DEBIAN_72, devices: 6, withModules: 5, pciutils: "sid" },
  { tree: SYSFS_FIXTURES.bench, kernel: DEBIAN_72, devices: 26, withModules: 26, pciutils: "sid" },
);

for (const { tree: name, kernel, devices, withModules: expectedWithModules, pciutils } of cases) {
  test(`list equals ${PCIUTILS_NAME[pciutils]} -k: ${name} with ${kernel} modules`, async (t) => {
    const tree = sysfsTree(name);
    const bench = kernel === BENCH_MODULES;
    const modules = bench ? benchOracleModules() : oracleModules(kernel, pciutils);
    const ours = await listJson(tree, bench ? debianModules(BENCH_MODULES) : modules);
    const theirs = lspciKernel(tree, modules, pciutils);
    assert.equal(ours.length, devices);
    assert.deepEqual(
      ours.map((d) => d.address),
      [...theirs.keys()],
      "the same devices in the same order",
    );
    const differences: string[] = [];
    let withModules = 0;
    for (const device of ours) {
      const oracle = theirs.get(device.address);
      if (!oracle) continue;
      if (device.driver !== oracle.driver) {
        differences.push(`${device.address}: driver ${device.driver} != lspci ${oracle.driver}`);
      }
      if (JSON.stringify(device.modules) !== JSON.stringify(oracle.modules)) {
        differences.push(`${device.address}: modules ${device.modules} != lspci ${oracle.modules}`);
      }
      if (oracle.modules.length > 0) withModules++;
    }
    t.diagnostic(
      `${ours.length} devices, ${withModules} with kernel modules, ${differences.length} differences`,
    );
    assert.deepEqual(differences, []);
    assert.equal(withModules, expectedWithModules, "devices with kernel modules");
    assert.equal(ours.filter((d) => d.driver !== null).length > 0, true, "some device has a driver");
  });
}

// The captured trees have no device that several modules claim, so libkmod's order and
// lspci's folding of repeats are checked on a copy of the q35 tree whose first devices are
// given the ids of devices that several modules claim (radeon and amdgpu twice; ata_piix and
// ata_generic twice; yenta_socket twice).
const SHARED_IDS = [
  "pci:v00001002d00006798sv00001002sd00000B00bc03sc00i00",
  "pci:v00008086d00007111sv00001AF4sd00001100bc01sc01i80",
  "pci:v0000104Cd0000AC8Esv00001028sd00000000bc06sc07i00",
];

function giveIds(tree: string, address: string, modalias: string): void {
  const fields = /^pci:v0000(.{4})d0000(.{4})sv0000(.{4})sd0000(.{4})bc(..)sc(..)i(..)$/.exec(modalias);
  if (!fields) throw new Error(`not a modalias: ${modalias}`);
  const [, vendor, device, subvendor, subdevice, base, sub, progIf] = fields.map((f) => f.toLowerCase());
  const dir = realpathSync(join(tree, "bus/pci/devices", address));
  writeFileSync(join(dir, "vendor"), `0x${vendor}\n`);
  writeFileSync(join(dir, "device"), `0x${device}\n`);
  writeFileSync(join(dir, "subsystem_vendor"), `0x${subvendor}\n`);
  writeFileSync(join(dir, "subsystem_device"), `0x${subdevice}\n`);
  writeFileSync(join(dir, "class"), `0x${base}${sub}${progIf}\n`);
  writeFileSync(join(dir, "modalias"), `${modalias}\n`);
}

for (const pciutils of ["host", "sid"] as const)
  test(`list equals ${PCIUTILS_NAME[pciutils]} -k where several modules claim a device (order, folded repeats)`, async (t) => {
    const tree = join(tempDir("shared-ids"), "tree");
    cpSync(sysfsTree(SYSFS_FIXTURES.q35), tree, { recursive: true, verbatimSymlinks: true });
    const addresses = ["0000:00:00.0", "0000:00:08.0", "0000:00:09.0"];
    for (const [i, address] of addresses.entries()) giveIds(tree, address, SHARED_IDS[i] as string);
    const modules = oracleModules(DEBIAN_612, pciutils);
    const ours = await listJson(tree, modules);
    const theirs = lspciKernel(tree, modules, pciutils);
    const picked = addresses.map((address) => ({
      ours: ours.find((d) => d.address === address)?.modules,
      lspci: theirs.get(address)?.modules,
    }));
    t.diagnostic(JSON.stringify(picked));
    assert.deepEqual(
      picked.map((p) => p.lspci),
      [["radeon", "amdgpu"], ["ata_piix", "ata_generic"], ["yenta_socket"]],
    );
    assert.deepEqual(
      picked.map((p) => p.ours),
      picked.map((p) => p.lspci),
    );
  });

test("the bench tree with its guest's modules: the virtio-net's vfio module is virtio_vfio_pci, from its vfio_pci: alias", async () => {
  const ours = await listJson(sysfsTree(SYSFS_FIXTURES.bench), debianModules(BENCH_MODULES));
  const vfio = (vendor: string, device: string) =>
    ours.find((d) => d.vendor === vendor && d.device === device)?.vfio;
  assert.equal(vfio("1af4", "1041")?.module, "virtio_vfio_pci");
  assert.deepEqual(vfio("1af4", "1041")?.candidates, ["virtio_vfio_pci", "vfio_pci"]);
  assert.equal(vfio("1af4", "1042")?.module, "vfio_pci", "virtio_vfio_pci's table has the net device only");
  const plain = await listJson(sysfsTree(SYSFS_FIXTURES.bench), debianModules(DEBIAN_612));
  const net = plain.find((d) => d.vendor === "1af4" && d.device === "1041");
  assert.equal(net?.vfio?.module, "vfio_pci", "without the guest's aliases there is no variant");
});
