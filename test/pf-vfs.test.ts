// Issue 15, defect 6: `set PF vfio --force` destroyed the PF's VFs silently (the PF driver's
// remove disables SR-IOV), a VF whose IOMMU group a VM held open included: exit 0, "done".
// Now the VFs are checked before anything removes them, the plan shows their removal as its
// own step (and a dry run does), --force is needed for it, and a VF a VM holds is refused even
// with --force.
import assert from "node:assert/strict";
import { test } from "node:test";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { exitCodeOf } from "../src/cli/report.ts";
import { giveFlavour } from "../src/flavour/give.ts";
import { SimControl } from "../src/host/sim/control.ts";
import { SimMachine } from "../src/host/sim/machine.ts";
import { readMachine } from "../src/host/sim/machine-format.ts";
import demo from "../src/host/sim/machines/demo.json" with { type: "json" };
import { machineModules } from "../src/host/sim/modules-tree.ts";
import type { PciAddress } from "../src/pci/address.ts";
import { tempDir } from "./support/tmp.ts";

const PF = "0000:01:00.0" as PciAddress;
const VF1 = "0000:01:00.1" as PciAddress;
const VF2 = "0000:01:00.2" as PciAddress;

function demoMachine() {
  const spec = readMachine(demo, "demo.json");
  const sim = new SimMachine(spec, machineModules(spec), 1).boot();
  const host = new SimControl(sim);
  return { sim, host, machine: { modules: sim.modules, host } };
}

test("without --force: refused, the plan names the VFs and shows their removal as a step; nothing changes", () => {
  const { host, machine } = demoMachine();
  const give = giveFlavour(machine, PF, { flavour: "vfio" });
  assert.match(
    give.refused.join("\n"),
    /0000:01:00\.0 is a PF with 2 VFs enabled, and unbinding it removes them: 0000:01:00\.1 \(mlx5_core\), 0000:01:00\.2 \(mlx5_core\)/,
  );
  const steps = give.plan.steps.map((s) => s.action);
  assert.ok(
    steps.indexOf("remove-vfs") >= 0 && steps.indexOf("remove-vfs") < steps.indexOf("unbind"),
    steps.join(" "),
  );
  assert.deepEqual(host.virtfns(PF), [VF1, VF2]);
  assert.equal(host.device(PF).driver, "mlx5_core");
});

test("with --force: the VFs are removed by a step the output names, then the PF goes to vfio-pci", () => {
  const { host, machine } = demoMachine();
  const give = giveFlavour(machine, PF, { flavour: "vfio" }, { force: true });
  assert.equal(give.result?.outcome, "done");
  assert.ok(
    give.result?.log.includes("sriov_numvfs = 0: removed VFs 0000:01:00.1, 0000:01:00.2"),
    give.result?.log.join("\n"),
  );
  assert.equal(host.device(PF).driver, "vfio-pci");
  assert.deepEqual(host.virtfns(PF), []);
});

test("a VF whose group a VM holds open: refused even with --force, the VF and the PF untouched", () => {
  const { sim, host, machine } = demoMachine();
  const vf = giveFlavour(machine, VF1, { flavour: "vfio" });
  assert.equal(vf.result?.outcome, "done");
  const group = host.device(VF1).iommuGroup as number;
  sim.kernel.openVfioGroup(group);
  const give = giveFlavour(machine, PF, { flavour: "vfio" }, { force: true });
  assert.equal(give.result, undefined);
  assert.match(
    give.refused.join("\n"),
    /VF 0000:01:00\.1 of 0000:01:00\.0 is in use: a process holds \/dev\/vfio\/11 open .*refused even with --force/,
  );
  assert.equal(exitCodeOf(give), 3);
  assert.deepEqual(host.virtfns(PF), [VF1, VF2]);
  assert.equal(host.device(VF1).driver, "mlx5_vfio_pci");
  assert.equal(host.device(PF).driver, "mlx5_core");
  // and any other plan that unbinds the PF the same
  assert.match(
    giveFlavour(machine, PF, { flavour: "driver", driver: "pci-stub" }, { force: true }).refused.join(),
    /refused even with --force/,
  );
});

test("a failure after the VFs went is not reported as rolled back (exit 4)", () => {
  const { sim, host, machine } = demoMachine();
  sim.kernel.faults.add({ kind: "probe-fails", driver: "vfio-pci" });
  const give = giveFlavour(machine, PF, { flavour: "vfio" }, { force: true });
  assert.equal(give.result?.outcome, "not-rolled-back", give.result?.log.join("\n"));
  assert.equal(exitCodeOf(give), 4);
  assert.match(
    give.result?.log.join("\n") ?? "",
    /the VFs 0000:01:00\.1, 0000:01:00\.2 were removed and are not created again/,
  );
  assert.equal(host.device(PF).driver, "mlx5_core", "the PF itself is back on its driver");
});

test("the CLI: --dry-run shows the removal, --force prints it as done (never a bare 'done')", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  const run = async (args: string[]) => {
    const { io, recorded } = recordingIo("", env);
    return { code: await main(args, io), ...recorded };
  };
  const dry = await run(["set", PF, "vfio", "--machine", "demo", "--dry-run", "--force"]);
  assert.match(dry.stdout, /step {3}sriov_numvfs = 0: REMOVES the VFs 0000:01:00\.1, 0000:01:00\.2/);
  const set = await run(["set", PF, "vfio", "--machine", "demo", "--force", "--no-save"]);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /check {2}FAIL 0000:01:00\.0 is a PF with 2 VFs enabled/);
  assert.match(set.stdout, /did {4}sriov_numvfs = 0: removed VFs 0000:01:00\.1, 0000:01:00\.2/);
});

test("vfs with a vfs-of rule on a named machine: the VFs' hooks run inside vfs without waiting for its own lock", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  const run = async (args: string[]) => {
    const { io, recorded } = recordingIo("", env);
    return { code: await main(args, io), ...recorded };
  };
  assert.equal((await run(["set", VF1, "vfio", "--match", "vfs-of", "--machine", "demo"])).code, 0);
  assert.equal((await run(["vfs", PF, "0", "--machine", "demo"])).code, 0);
  const started = Date.now();
  // it waited 30 s for the lock it held, twice, and exited 5
  const vfs = await run(["vfs", PF, "2", "--machine", "demo", "--wait", "2"]);
  assert.equal(vfs.code, 0, vfs.stdout + vfs.stderr);
  assert.ok(Date.now() - started < 10_000, `${Date.now() - started} ms`);
  const after = await run(["sim", "devices", "demo", "--json"]);
  const drivers = (JSON.parse(after.stdout) as { address: string; driver: string | null }[])
    .filter((d) => d.address === VF1 || d.address === VF2)
    .map((d) => d.driver);
  assert.deepEqual(drivers, ["mlx5_vfio_pci", "mlx5_vfio_pci"]);
});
