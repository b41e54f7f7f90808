// vfs when the kernel refuses the write that puts sriov_drivers_autoprobe back: the device is
// not where it started, so the command says so and exits 4 (issue 15, defect 1).
import assert from "node:assert/strict";
import { test } from "node:test";
import { simMachine, VFIO_PCI } from "../../test/support/sim.ts";
import { ExitCode, FlavourError } from "../errors.ts";
import type { PciAddress } from "../pci/address.ts";
import { createVfs } from "./vfs.ts";

const PF = "0000:01:00.0" as PciAddress;

function machine() {
  const { sim, control, modules } = simMachine({
    modules: [
      {
        name: "e1000e",
        drivers: [{ name: "e1000e", sriov: true, ids: [{ vendor: "8086", device: "10d3" }] }],
      },
      ...VFIO_PCI,
    ],
    devices: [
      {
        address: PF,
        vendor: "8086",
        device: "10d3",
        class: "020000",
        iommuGroup: 1,
        sriov: { totalVfs: 2, vfDevice: "10ed" },
      },
    ],
  });
  // the second write of sriov_drivers_autoprobe (putting it back) fails: a fault set after the first
  const setAutoprobe = control.setSriovAutoprobe.bind(control);
  let writes = 0;
  control.setSriovAutoprobe = (pf, on) => {
    if (++writes === 2)
      sim.kernel.faults.add({ kind: "sysfs-write-fails", attribute: "sriov_drivers_autoprobe" });
    setAutoprobe(pf, on);
  };
  return { sim, host: control, modules };
}

function failure(run: () => unknown): FlavourError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof FlavourError, String(error));
    return error;
  }
  assert.fail("no error");
}

test("vfs: autoprobe cannot be put back after the VFs are made: exit 4, saying it stays 0", () => {
  const m = machine();
  const error = failure(() => createVfs(m, PF, 2, { flavour: "vfio" }, []));
  assert.equal(error.exitCode, ExitCode.failedNotRolledBack);
  assert.match(
    error.message,
    /sriov_drivers_autoprobe failed: EIO: sriov_drivers_autoprobe of 0000:01:00\.0 stays 0/,
  );
  assert.equal(m.host.sriovAutoprobe(PF), false);
});

test("vfs: sriov_numvfs refused, then autoprobe cannot be put back: both said, exit 4", () => {
  const m = machine();
  m.sim.kernel.faults.add({ kind: "sysfs-write-fails", attribute: "sriov_numvfs", errno: "ENOMEM" });
  const error = failure(() => createVfs(m, PF, 2, undefined, []));
  assert.equal(error.exitCode, ExitCode.failedNotRolledBack);
  assert.match(
    error.message,
    /sriov_numvfs failed: ENOMEM .*no VF was created.*; then writing '1' to .*sriov_drivers_autoprobe failed: EIO/,
  );
});
