// Bridges in an IOMMU group (DESIGN.md section 2: a group is viable for vfio only when every
// member is bound to a vfio driver, pci-stub, a bridge/port driver that manages its own DMA,
// or nothing). The kernel's rule (Linux 6.12): pci_dma_configure (drivers/pci/pci-driver.c)
// calls iommu_device_use_default_domain, which counts the group's owner_cnt, for every driver
// without driver_managed_dma; pcieport (pcie/portdrv.c) and pci-stub set it, shpchp
// (hotplug/shpchp_core.c, shpc_driver) does not. vfio then refuses the group:
// vfio_group_ioctl_get_status (drivers/vfio/group.c) leaves out VFIO_GROUP_FLAGS_VIABLE while
// iommu_group_dma_owner_claimed(), and VFIO_GROUP_SET_CONTAINER fails in
// vfio_container_attach_group (drivers/vfio/container.c) since iommu_group_claim_dma_owner
// (drivers/iommu/iommu.c) returns -EPERM while owner_cnt is set. A bridge is never given to
// vfio (vfio-pci refuses bridges), so it stays on its driver even under --group.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { machineSource, openMachine } from "../src/host/sim/open.ts";
import { PCIEPORT, VFIO_PCI } from "./support/sim.ts";
import { tempDir } from "./support/tmp.ts";

const PORT = "0000:00:1c.0"; // a PCIe root port on pcieport, in the group of the NIC below it
const NET = "0000:01:00.0";
const PXH = "0000:00:1e.0"; // a PCIe-to-PCI bridge with an SHPC, on shpchp, in the group of the NIC behind it
const E1000 = "0000:02:01.0";

const MACHINE = {
  format: "flavourctl-machine/1",
  name: "bridges",
  kernel: "6.12.117-sim",
  modules: [
    // shpchp's table is a class match (PCI_DEVICE_CLASS(PCI_CLASS_BRIDGE_PCI_NORMAL, ~0)) and
    // shpc_probe refuses bridges without an SHPC, as pcie_portdrv_probe refuses conventional
    // ones; the simulator has no per-device probe refusal, so shpchp is given the bridge's ids.
    {
      name: "shpchp",
      builtin: true,
      drivers: [{ name: "shpchp", ids: [{ vendor: "8086", device: "0329" }] }],
    },
    PCIEPORT,
    { name: "virtio_pci", drivers: [{ name: "virtio-pci", ids: [{ vendor: "1af4" }] }] },
    { name: "e1000", drivers: [{ name: "e1000", ids: [{ vendor: "8086", device: "100e" }] }] },
    ...VFIO_PCI,
  ],
  devices: [
    { address: PORT, vendor: "8086", device: "a110", class: "060400", headerType: 1, iommuGroup: 5 },
    { address: NET, vendor: "1af4", device: "1041", class: "020000", parent: PORT, iommuGroup: 5 },
    { address: PXH, vendor: "8086", device: "0329", class: "060400", headerType: 1, iommuGroup: 6 },
    { address: E1000, vendor: "8086", device: "100e", class: "020000", parent: PXH, iommuGroup: 6 },
  ],
};

async function bench(machine: typeof MACHINE = MACHINE) {
  const file = join(tempDir("bridges"), "bridges.json");
  writeFileSync(file, JSON.stringify(machine));
  const env = { XDG_STATE_HOME: tempDir("bridges-state"), NO_COLOR: "1" };
  const run = async (args: string[]) => {
    const { io, recorded } = recordingIo("", env);
    const code = await main(args, io);
    return { code, ...recorded };
  };
  const cli = (...args: string[]) => run([...args, "--machine", file]);
  /** `echo VALUE > PATH` on the machine's sysfs. */
  const write = (path: string, value: string) => run(["sim", "write", file, path, value]);
  /** The machine as the last command left it: its kernel, to open a vfio group as a VM would. */
  const kernel = async () => openMachine(await machineSource(file), env, () => {}).machine.kernel;
  const driverOf = async (address: string) => (await kernel()).devices.get(address as never)?.driver?.name;
  return { cli, write, kernel, driverOf };
}

/** list --json: each device's iommuGroupBlockers (the other members bound to a host driver: list's '!'). */
async function listBlockers(cli: (...args: string[]) => Promise<{ stdout: string }>) {
  const devices = JSON.parse((await cli("list", "--json")).stdout) as {
    address: string;
    iommuGroupBlockers: string[];
  }[];
  return Object.fromEntries(devices.map((d) => [d.address, d.iommuGroupBlockers]));
}

function blocks(show: { stdout: string }) {
  const groups = JSON.parse(show.stdout).explain.iommuGroup as { address: string; blocks: string | null }[];
  return Object.fromEntries(groups.map((m) => [m.address, m.blocks]));
}

test("a group whose bridge is on pcieport stays viable: set vfio is accepted and the kernel lets vfio have the group", async () => {
  const { cli, kernel, driverOf } = await bench();
  assert.equal((await driverOf(PORT)) ?? null, "pcieport");
  // list: the NIC's group has no blocker but itself; the shpchp bridge blocks the e1000's
  assert.deepEqual(await listBlockers(cli), {
    [PORT]: [NET],
    [PXH]: [E1000],
    [NET]: [],
    [E1000]: [PXH],
  });
  // (the device itself blocks until it is moved)
  assert.deepEqual(blocks(await cli("show", NET, "--json")), {
    [PORT]: null,
    [NET]: "bound to host driver virtio-pci",
  });
  const set = await cli("set", NET, "vfio", "--no-save");
  assert.equal(set.code, 0, set.stdout + set.stderr);
  assert.match(set.stdout, /check {2}ok {3}IOMMU group 5 stays viable/);
  assert.equal(await driverOf(NET), "vfio-pci");
  assert.equal(await driverOf(PORT), "pcieport");
  (await kernel()).openVfioGroup(5); // does not throw: no member holds the default DMA domain
});

test("a group whose bridge is on shpchp is not viable: set vfio is refused (exit 3) naming the bridge, --group too; --force gets a group the kernel refuses", async () => {
  const { cli, kernel, driverOf } = await bench();
  assert.equal(await driverOf(PXH), "shpchp");
  assert.deepEqual(blocks(await cli("show", E1000, "--json")), {
    [PXH]: "bound to host driver shpchp",
    [E1000]: "bound to host driver e1000",
  });
  const refusal = new RegExp(
    `refused: IOMMU group 6 would not be viable for vfio: ${PXH} is bound to host driver shpchp \\(a bridge is not moved, not even by --group`,
  );
  for (const extra of [[], ["--group"]]) {
    const set = await cli("set", E1000, "vfio", "--no-save", ...extra);
    assert.equal(set.code, 3, `${extra}: ${set.stdout}${set.stderr}`);
    assert.match(set.stderr, refusal, `${extra}`);
    assert.equal(await driverOf(E1000), "e1000", `${extra}: nothing changed`);
  }
  // The kernel agrees: with --force the device binds, but no VM can have its group.
  const forced = await cli("set", E1000, "vfio", "--no-save", "--force");
  assert.equal(forced.code, 0, forced.stdout + forced.stderr);
  assert.equal(await driverOf(E1000), "vfio-pci");
  await assert.rejects(async () => (await kernel()).openVfioGroup(6), /\/dev\/vfio\/6/);
});

test("a bridge with no driver leaves its group viable: set vfio is accepted once shpchp lets go of it", async () => {
  const { cli, write, kernel, driverOf } = await bench();
  assert.equal((await write("/sys/bus/pci/drivers/shpchp/unbind", PXH)).code, 0);
  assert.equal((await driverOf(PXH)) ?? null, null);
  const set = await cli("set", E1000, "vfio", "--no-save");
  assert.equal(set.code, 0, set.stdout + set.stderr);
  assert.match(set.stdout, /IOMMU group 6 stays viable/);
  (await kernel()).openVfioGroup(6);
});

test("a bridge on shpchp and a second function on e1000 in one group: --group is advised for the function only, and moves it, but the bridge still refuses", async () => {
  const second = "0000:02:02.0";
  const { cli, driverOf } = await bench({
    ...MACHINE,
    devices: [
      ...MACHINE.devices,
      { address: second, vendor: "8086", device: "100e", class: "020000", parent: PXH, iommuGroup: 6 },
    ],
  });
  const alone = await cli("set", E1000, "vfio", "--no-save");
  assert.equal(alone.code, 3, alone.stdout + alone.stderr);
  assert.ok(
    alone.stderr.startsWith(
      `flavourctl set: refused: IOMMU group 6 would not be viable for vfio: ${PXH} is bound to host driver shpchp; ` +
        `${second} is bound to host driver e1000 (use --group to move the whole group; ` +
        `a bridge is not moved, not even by --group: unbind ${PXH} from its driver first)`,
    ),
    alone.stderr,
  );
  const grouped = await cli("set", E1000, "vfio", "--no-save", "--group");
  assert.equal(grouped.code, 3, grouped.stdout + grouped.stderr);
  assert.ok(
    grouped.stderr.includes(
      `IOMMU group 6 would not be viable for vfio: ${PXH} is bound to host driver shpchp ` +
        `(a bridge is not moved, not even by --group: unbind ${PXH} from its driver first)`,
    ),
    grouped.stderr,
  );
  assert.deepEqual([await driverOf(E1000), await driverOf(second)], ["e1000", "e1000"]);
});
