// Growth with the number of devices (issue 19: "make each at most linear"), shown by counts,
// never timings (bench/scale-devices.ts has those): on the 1,032-device ConnectX machine
// (test/fixtures/machines/connectx-1000.json), `list` walks the simulated bus a fixed number of
// times, not once per device (each device's IOMMU group used to be found by a walk of the whole
// bus); and the group index that replaces the walk stays equal to it as devices come and go.
import assert from "node:assert/strict";
import { test } from "node:test";
import { openSimulated } from "../src/cli/host.ts";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import type { SimKernel } from "../src/host/sim/kernel.ts";
import { SimMachine } from "../src/host/sim/machine.ts";
import { tempDir } from "./support/tmp.ts";

const CONNECTX = new URL("./fixtures/machines/connectx-1000.json", import.meta.url).pathname;

/** Counts the walks of the whole device map (every way Map offers to iterate it). */
function countWalks(devices: Map<unknown, unknown>): { walks: number } {
  const counter = { walks: 0 };
  for (const name of ["keys", "values", "entries", "forEach", Symbol.iterator] as const) {
    const original = Map.prototype[name] as (...args: unknown[]) => unknown;
    Object.defineProperty(devices, name, {
      value(this: Map<unknown, unknown>, ...args: unknown[]) {
        counter.walks++;
        return original.apply(this, args);
      },
    });
  }
  return counter;
}

function bruteForceGroup(kernel: SimKernel, group: number): string[] {
  return [...kernel.devices.values()]
    .filter((d) => d.iommuGroup === group)
    .map((d) => d.address)
    .sort();
}

test("list on 1,032 devices walks the simulated bus a few times, not once per device", async () => {
  const env = { XDG_STATE_HOME: tempDir("growth") };
  const machine = await openSimulated(CONNECTX, env);
  const devices = machine.opened.machine.kernel.devices;
  assert.equal(devices.size, 1032);
  const counter = countWalks(devices);
  const { io, recorded } = recordingIo("", env);
  io.machine = machine;
  const code = await main(["list"], io);
  assert.equal(code, 0, recorded.stderr);
  assert.equal(recorded.stdout.trim().split("\n").length, 1 + 1032);
  assert.ok(counter.walks > 0, "the counter sees the walks");
  assert.ok(counter.walks <= 10, `list walked all 1,032 devices ${counter.walks} times`);
});

test("the simulated kernel's IOMMU groups equal a walk of the bus: after boot, VFs disabled and enabled, remove and rescan, and a restored state", async () => {
  const env = { XDG_STATE_HOME: tempDir("groups") };
  const { opened } = await openSimulated(CONNECTX, env);
  const { machine } = opened;
  const check = (kernel: SimKernel, when: string) => {
    const groups = new Set([...kernel.devices.values()].map((d) => d.iommuGroup));
    groups.add(123456); // a group with no device
    for (const g of groups) {
      if (g === null) continue;
      const indexed = kernel.groupMembers(g).map((d) => d.address);
      assert.deepEqual(indexed, bruteForceGroup(kernel, g), `${when}: group ${g}`);
    }
  };
  check(machine.kernel, "booted");
  const pf = "0000:10:00.0";
  machine.write(`/sys/bus/pci/devices/${pf}/sriov_numvfs`, "0\n");
  assert.equal(
    machine.kernel.groupMembers(1001).length,
    0,
    "the VFs' groups are empty once the VFs are gone",
  );
  check(machine.kernel, "VFs disabled");
  machine.write(`/sys/bus/pci/devices/${pf}/sriov_numvfs`, "3\n");
  assert.deepEqual(
    machine.kernel.groupMembers(1001).map((d) => d.address),
    ["0000:10:00.1"],
    "a VF made again joins its group",
  );
  check(machine.kernel, "3 VFs enabled");
  machine.write("/sys/bus/pci/devices/0000:00:01.0/remove", "1\n");
  check(machine.kernel, "root port removed");
  machine.write("/sys/bus/pci/rescan", "1\n");
  check(machine.kernel, "rescanned");

  const restored = new SimMachine(machine.spec, machine.modules).restore(machine.save());
  check(restored.kernel, "restored");
});
