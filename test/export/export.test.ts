// flavourctl export on the demo machine: the three formats against golden files, what is
// exported and why (a rule by ids, a device its rule has not moved yet, one its rule cannot
// name a driver for), and bad input: one line on stderr, nothing on stdout, its exit code.
// The consumers' own parsers read these exports in consumers.test.ts.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { test } from "node:test";
import { demoMachine } from "./demo.ts";

const golden = (name: string) => new URL(`golden/${name}`, import.meta.url).pathname;

/** The golden file's text; FLAVOURCTL_UPDATE_GOLDEN=1 rewrites it instead (then read the diff). */
function expectGolden(name: string, actual: string) {
  if (process.env.FLAVOURCTL_UPDATE_GOLDEN === "1") writeFileSync(golden(name), actual);
  assert.equal(actual, readFileSync(golden(name), "utf8"), `${name} differs from test/export/golden/${name}`);
}

const demo = demoMachine();

for (const [format, file, extra] of [
  ["nova", "nova.conf", []],
  ["libvirt", "libvirt.xml", []],
  ["proxmox", "proxmox.txt", ["--node", "pve1"]],
] as const) {
  test(`export ${format} on the demo machine equals ${file}`, async () => {
    const { run } = await demo;
    const result = await run(["export", format, "--machine", "demo", ...extra]);
    assert.equal(result.stderr, "");
    assert.equal(result.code, 0);
    expectGolden(file, result.stdout);
  });
}

test("export nova: the VFs' rule by ids is one spec by ids with live_migratable; virtio by address with it (the demo runs 7.2: virtio_vfio_pci migrates since 6.13), vfio-pci by address without", async () => {
  const { run } = await demo;
  const { stdout } = await run(["export", "nova", "--machine", "demo", "--json"]);
  const document = JSON.parse(stdout);
  assert.deepEqual(document.nova.device_spec, [
    { vendor_id: "15b3", product_id: "101e", managed: "no", live_migratable: "yes" },
    { address: "0000:03:00.0", managed: "no", live_migratable: "yes" },
    { address: "0000:04:00.0", managed: "no" },
  ]);
  assert.deepEqual(
    document.devices.map((d: { address: string; driver: string; variant: boolean; deviceType: string }) => [
      d.address,
      d.driver,
      d.variant,
      d.deviceType,
    ]),
    [
      ["0000:01:00.1", "mlx5_vfio_pci", true, "type-VF"],
      ["0000:01:00.2", "mlx5_vfio_pci", true, "type-VF"],
      ["0000:03:00.0", "virtio_vfio_pci", true, "type-PCI"],
      ["0000:04:00.0", "vfio-pci", false, "type-PCI"],
    ],
  );
  assert.deepEqual(
    document.nova.alias.map((a: { name: string }) => a.name),
    ["mlx5_vfio_pci_15b3_101e", "virtio_vfio_pci_1af4_1041", "vfio_pci_144d_a80a"],
  );
});

test("export ADDRESS: only that device, by address even when a rule by ids names it", async () => {
  const { run } = await demo;
  const result = await run(["export", "nova", "0000:01:00.2", "--machine", "demo"]);
  assert.equal(result.code, 0);
  assert.match(
    result.stdout,
    /^device_spec = \{"address": "0000:01:00.2", "managed": "no", "live_migratable": "yes"\}$/m,
  );
  assert.equal(result.stdout.match(/^device_spec/gm)?.length, 1);
});

test("a rule by ids whose ids also take a device the host keeps: its devices are named by address, and said", async () => {
  const machine = await demoMachine();
  // 0000:01:00.2 goes back to mlx5_core, and an address rule (more specific) keeps it there
  assert.equal((await machine.run(["unset", "0000:01:00.2", "--machine", "demo"])).code, 0);
  machine.rule("keep-vf2", "match address 0000:01:00.2\nflavour driver\ndriver mlx5_core\n");
  const result = await machine.run(["export", "nova", "--machine", "demo", "--json"]);
  assert.equal(result.code, 0);
  assert.match(
    result.stderr,
    /^flavourctl export: warning: rule id-15b3:101e names 15b3:101e, but 0000:01:00.2 with those ids is not exported by it: its devices are named by address$/m,
  );
  const specs = JSON.parse(result.stdout).nova.device_spec;
  assert.deepEqual(specs[0], { address: "0000:01:00.1", managed: "no", live_migratable: "yes" });
  assert.ok(!JSON.stringify(specs).includes("vendor_id"), "no spec by ids");
});

test("a device its rule names but has not moved yet is exported with a warning; the spec by ids still takes both VFs", async () => {
  const machine = await demoMachine();
  assert.equal((await machine.run(["unset", "0000:01:00.2", "--machine", "demo"])).code, 0);
  const result = await machine.run(["export", "nova", "--machine", "demo", "--json"]);
  assert.equal(result.code, 0);
  assert.match(
    result.stderr,
    /^flavourctl export: warning: 0000:01:00\.2: not on mlx5_vfio_pci yet \(on mlx5_core\): its rule id-15b3:101e gives it$/m,
  );
  const document = JSON.parse(result.stdout);
  const vf2 = document.devices.find((d: { address: string }) => d.address === "0000:01:00.2");
  assert.equal(vf2.bound, false);
  assert.equal(vf2.driver, "mlx5_vfio_pci");
  assert.equal(document.nova.device_spec[0].vendor_id, "15b3");
});

test("a group another member keeps on a host driver: exported, and the warning names the member", async () => {
  const machine = await demoMachine();
  // the GPU 0000:0a:00.0 shares group 90 with its audio function, on snd_hda_intel
  const set = await machine.run([
    "set",
    "0000:0a:00.0",
    "--driver",
    "vfio-pci",
    "--machine",
    "demo",
    "--force",
  ]);
  assert.equal(set.code, 0, set.stderr);
  const result = await machine.run(["export", "libvirt", "0000:0a:00.0", "--machine", "demo"]);
  assert.equal(result.code, 0);
  assert.match(
    result.stderr,
    /^flavourctl export: warning: 0000:0a:00\.0: IOMMU group 90 is not viable for vfio while 0000:0a:00\.1 \(bound to host driver snd_hda_intel\) stays on host drivers: no guest can open it$/m,
  );
});

for (const c of [
  {
    name: "an ADDRESS without a vfio flavour",
    args: ["export", "nova", "0000:01:00.1", "0000:02:00.0"],
    code: 7,
    message:
      "flavourctl export: 0000:02:00.0 has no vfio flavour: it is on virtio-pci and no saved rule gives it a vfio driver (flavourctl set 0000:02:00.0 vfio)\n",
  },
  {
    name: "an ADDRESS that is not present",
    args: ["export", "libvirt", "0000:0f:00.0"],
    code: 64,
    message: "flavourctl export: no PCI device 0000:0f:00.0 in the machine's devices\n",
  },
  {
    name: "a malformed ADDRESS",
    args: ["export", "libvirt", "0000:0f:00"],
    code: 64,
    message:
      "flavourctl export: invalid PCI address '0000:0f:00': expected DDDD:BB:DD.F or BB:DD.F (hex), e.g. 0000:3b:00.2\n",
  },
  {
    name: "an unknown format",
    args: ["export", "ovirt"],
    code: 64,
    message: "flavourctl export: unknown format 'ovirt' (nova, libvirt, proxmox)\n",
  },
  {
    name: "no format",
    args: ["export"],
    code: 64,
    message: "flavourctl export: expected a format: nova, libvirt or proxmox (see --help)\n",
  },
  {
    name: "--node with another format than proxmox",
    args: ["export", "nova", "--node", "pve1"],
    code: 64,
    message: "flavourctl export: --node is for the proxmox format\n",
  },
  {
    name: "a --node Proxmox would refuse",
    args: ["export", "proxmox", "--node", "pve_1"],
    code: 64,
    message:
      "flavourctl export: option '--node' needs a Proxmox node name (letters, digits and '-' inside), not 'pve_1'\n",
  },
]) {
  test(`export: ${c.name} is one line, exit ${c.code}, nothing on stdout`, async () => {
    const { run } = await demo;
    const result = await run([...c.args, "--machine", "demo"]);
    assert.deepEqual(result, { code: c.code, stdout: "", stderr: c.message });
  });
}

test("export: a rule whose variant module is not loaded cannot name its driver: exit 7, nothing printed", async () => {
  const machine = await demoMachine();
  machine.rule("hisi", "match address 0000:06:00.1\nflavour vfio\n");
  const result = await machine.run(["export", "nova", "--machine", "demo"]);
  assert.equal(result.code, 7);
  assert.equal(result.stdout, "");
  assert.match(
    result.stderr,
    /^flavourctl export: 0000:06:00\.1: rule hisi gives it module hisi_acc_vfio_pci, which is not loaded, so the name of its driver is not known yet/,
  );
});

test("export: a damaged rule file is named with its line, exit 2, nothing printed", async () => {
  const machine = await demoMachine();
  machine.rule("broken", "match address 0000:06:00.1\nflavour vfio\nflavour vfio\n");
  const result = await machine.run(["export", "proxmox", "--node", "pve1", "--machine", "demo"]);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, "");
  assert.match(
    result.stderr,
    /^flavourctl export: .*\/rules\.d\/broken\.rule:3: 'flavour' given twice \(its rule is not applied, so not exported\)\n$/,
  );
});

test("export on a host where no device has a vfio flavour: nothing on stdout, a warning, exit 0; --json an empty document", async () => {
  const machine = await demoMachine();
  for (const address of ["0000:01:00.1", "0000:01:00.2", "0000:03:00.0", "0000:04:00.0"])
    assert.equal((await machine.run(["unset", address, "--machine", "demo"])).code, 0);
  assert.equal((await machine.run(["rules", "--remove", "id-15b3:101e", "--machine", "demo"])).code, 0);
  for (const format of ["nova", "libvirt", "proxmox"]) {
    const result = await machine.run([
      "export",
      format,
      "--machine",
      "demo",
      ...(format === "proxmox" ? ["--node", "n1"] : []),
    ]);
    assert.deepEqual(result, {
      code: 0,
      stdout: "",
      stderr: "flavourctl export: warning: no device has a vfio flavour: nothing to export\n",
    });
  }
  const json = await machine.run(["export", "nova", "--json", "--machine", "demo"]);
  assert.deepEqual(JSON.parse(json.stdout), {
    format: "nova",
    devices: [],
    nova: { device_spec: [], alias: [] },
  });
});

test("a device on vfio-pci whose rule gives it a variant: exported as bound, and the warning says the rule moves it", async () => {
  const machine = await demoMachine();
  const set = await machine.run([
    "set",
    "0000:03:00.0",
    "--driver",
    "vfio-pci",
    "--no-save",
    "--machine",
    "demo",
  ]);
  assert.equal(set.code, 0, set.stderr);
  const result = await machine.run(["export", "libvirt", "0000:03:00.0", "--machine", "demo"]);
  assert.equal(result.code, 0);
  assert.ok(!result.stdout.includes("<driver"), "on vfio-pci: no model");
  assert.equal(
    result.stderr,
    "flavourctl export: warning: 0000:03:00.0: on vfio-pci, but its rule address-0000:03:00.0 gives it virtio_vfio_pci: export again after 'flavourctl apply'\n",
  );
});

// Proxmox's own parsers are Perl packages not in Debian: the export is held to the patterns
// they check, copied from their sources — pve-guest-common src/PVE/Mapping/PCI.pm ($map_fmt),
// pve-common src/PVE/JSONSchema.pm ($CONFIGID_RE, pve_verify_node_name), qemu-server
// src/PVE/QemuServer/PCI.pm ($hostpci_fmt: mapping, driver enum vfio|keep, at most 16).
const PVE = {
  configId: /^[a-z][a-z0-9_-]+$/i,
  node: /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/,
  path: /^(?:[a-f0-9]{4,}:[a-f0-9]{2}:[a-f0-9]{2}(?:\.[a-f0-9])?;)*[a-f0-9]{4,}:[a-f0-9]{2}:[a-f0-9]{2}(?:\.[a-f0-9])?$/,
  id: /^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}$/,
};

test("export proxmox: every mapping id, map property and hostpci line matches Proxmox's own patterns, and names the device as assert_valid reads it", async () => {
  const { run } = await demo;
  const result = await run(["export", "proxmox", "--node", "pve1", "--json", "--machine", "demo"]);
  const { devices, proxmox } = JSON.parse(result.stdout);
  const byAddress = new Map(devices.map((d: { address: string }) => [d.address, d]));
  let maps = 0;
  for (const mapping of proxmox.mappings) {
    assert.match(mapping.id, PVE.configId);
    for (const line of mapping.map) {
      const props = Object.fromEntries(line.split(",").map((kv: string) => kv.split("=")));
      assert.deepEqual(Object.keys(props).sort(), ["id", "iommugroup", "node", "path", "subsystem-id"], line);
      assert.match(props.node, PVE.node);
      assert.match(props.path, PVE.path);
      assert.match(props.id, PVE.id);
      assert.match(props["subsystem-id"], PVE.id);
      assert.match(props.iommugroup, /^\d+$/);
      // assert_valid compares with sysfs's lower-case ids and the group link's number
      const device = byAddress.get(props.path) as Record<string, unknown>;
      assert.equal(props.id, `${device.vendor}:${device.device}`);
      assert.equal(props["subsystem-id"], `${device.subsystemVendor}:${device.subsystemDevice}`);
      assert.equal(Number(props.iommugroup), device.iommuGroup);
      maps++;
    }
  }
  assert.equal(maps, devices.length);
  assert.ok(proxmox.hostpci.length <= 16);
  proxmox.hostpci.forEach((line: string, n: number) => {
    assert.match(line, new RegExp(`^hostpci${n}: mapping=([a-z][a-z0-9_-]+)(,driver=(vfio|keep))?$`, "i"));
  });
});
