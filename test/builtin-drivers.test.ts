// Drivers built into the kernel, as Linux 6.18+ trees describe them (modules.builtin.modinfo's
// aliases, modules.builtin.alias.bin): show says the answer came from a built-in driver (text and
// --json), list --json marks it, and set plans no module load for a built-in driver — on the
// captured q35 tree with Debian sid's 7.2.13 modules, against 6.12's where virtio_pci, built in
// there too, has no alias line at all.
import assert from "node:assert/strict";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { DeviceReport } from "../src/cli/device-report.ts";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { DEBIAN_72, DEBIAN_612, debianModules } from "./support/modules.ts";
import { SYSFS_FIXTURES, sysfsTree } from "./support/sysfs-trees.ts";
import { tempDir } from "./support/tmp.ts";

/** The q35 tree's virtio filesystem (1af4:1009), on virtio-pci: built into Debian's kernels. */
const VIRTIO = "0000:00:02.0";
const NIC = "0000:01:00.0";

async function run(...args: string[]) {
  const { io, recorded } = recordingIo();
  const code = await main(args, io);
  assert.equal(code, 0, recorded.stderr);
  return recorded.stdout;
}
const where = (modules: string) => ["--sysfs", sysfsTree(SYSFS_FIXTURES.q35), "--modules", modules];

test("show: a modalias a built-in driver's alias answers is said to be built in (text and --json); 6.12 has no such alias", async () => {
  const text = await run("show", VIRTIO, ...where(debianModules(DEBIAN_72)));
  assert.match(
    text,
    /\n {2}modules +virtio_pci {2}\(built into the kernel: nothing for udev to load, the driver is registered from boot; the built-in alias stage answered\)\n +\S+\/modules\.builtin\.modinfo:\d+ {2}pci:v00001AF4d\*sv\*sd\*bc\*sc\*i\* → virtio_pci\n/,
  );
  const json = JSON.parse(await run("show", VIRTIO, "--json", ...where(debianModules(DEBIAN_72))));
  assert.equal(json.explain.modules.stage, "built-in alias");
  assert.equal(json.explain.modules.builtIn, true);
  assert.deepEqual(json.modules, ["virtio_pci"]);
  assert.equal(json.modulesBuiltIn, true);
  assert.equal(json.vfio.builtIn, false, "vfio_pci is a module in Debian's 7.2");

  const old = JSON.parse(await run("show", VIRTIO, "--json", ...where(debianModules(DEBIAN_612))));
  assert.deepEqual(old.modules, []);
  assert.equal(old.modulesBuiltIn, false);
  assert.equal(old.explain.modules.builtIn, false);
  const nic = JSON.parse(await run("show", NIC, "--json", ...where(debianModules(DEBIAN_72))));
  assert.deepEqual(
    [nic.modules, nic.modulesBuiltIn, nic.explain.modules.stage],
    [["e1000e"], false, "modules.alias"],
  );
});

test("list --json: modulesBuiltIn on every device whose modules a built-in alias gave (7.2.13: the virtio, bridge and host-bridge devices)", async () => {
  const list = JSON.parse(await run("list", "--json", ...where(debianModules(DEBIAN_72)))) as DeviceReport[];
  const builtIn = list.filter((d) => d.modulesBuiltIn).map((d) => `${d.address} ${d.modules?.join(",")}`);
  assert.ok(builtIn.includes(`${VIRTIO} virtio_pci`), builtIn.join("; "));
  assert.ok(
    builtIn.some((d) => d.endsWith(" shpchp")),
    builtIn.join("; "),
  );
  assert.ok(!builtIn.some((d) => d.startsWith(`${NIC} `)));
  const old = JSON.parse(await run("list", "--json", ...where(debianModules(DEBIAN_612)))) as DeviceReport[];
  assert.deepEqual(
    old.filter((d) => d.modulesBuiltIn),
    [],
  );
});

test("set default: a built-in driver is no module to load — the plan has no load step, and says why", async () => {
  const plan = JSON.parse(
    await run(
      "set",
      VIRTIO,
      "default",
      "--dry-run",
      "--json",
      "--no-save",
      ...where(debianModules(DEBIAN_72)),
    ),
  ).plan;
  assert.deepEqual(plan.target.modules, []);
  assert.match(plan.target.reason, /virtio_pci: built into the kernel, nothing to load/);
  assert.deepEqual(
    plan.steps.filter((s: { action: string }) => s.action === "load-module"),
    [],
  );
});

test("vfio choice: a vfio_pci built into the kernel, with its alias in modules.builtin.modinfo, is chosen as built in, not loaded", async () => {
  // Debian's 7.2 with vfio-pci built in (CONFIG_VFIO_PCI=y): its alias moves from modules.alias
  // to modules.builtin.modinfo, its path from modules.dep to modules.builtin
  const dir = tempDir("vfio-builtin");
  cpSync(debianModules(DEBIAN_72), dir, { recursive: true });
  const edit = (name: string, change: (text: string) => string) =>
    writeFileSync(join(dir, name), change(readFileSync(join(dir, name), "latin1")), "latin1");
  edit("modules.alias", (t) => t.replace("alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\n", ""));
  edit("modules.dep", (t) => t.replace(/^kernel\/drivers\/vfio\/pci\/vfio-pci\.ko[^\n]*\n/m, ""));
  edit("modules.builtin", (t) => `${t}kernel/drivers/vfio/pci/vfio-pci.ko\n`);
  edit("modules.builtin.modinfo", (t) => `${t}vfio_pci.alias=vfio_pci:v*d*sv*sd*bc*sc*i*\0`);
  const json = JSON.parse(await run("show", NIC, "--json", ...where(dir)));
  assert.equal(json.vfio.module, "vfio_pci");
  assert.equal(json.vfio.builtIn, true);
  assert.match(json.vfio.reason, /generic vfio-pci \(built into the kernel: nothing to load\)/);
  const plan = JSON.parse(
    await run("set", NIC, "vfio", "--dry-run", "--json", "--no-save", ...where(dir)),
  ).plan;
  assert.equal(plan.target.module, null, "nothing to load");
  assert.deepEqual(
    plan.steps.filter((s: { action: string }) => s.action === "load-module"),
    [],
  );
});
