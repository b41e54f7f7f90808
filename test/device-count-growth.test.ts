// Growth with the number of devices (issue 19: "make each at most linear"), shown by counts,
// never timings (bench/scale-devices.ts has those): on the 1,032-device ConnectX machine
// (test/fixtures/machines/connectx-1000.json), `list` walks the simulated bus a fixed number of
// times, not once per device (each device's IOMMU group used to be found by a walk of the whole
// bus); the group index that replaces the walk stays equal to it as devices come and go; and
// a simulated machine's state is saved after each change as that change alone (a journal line
// beside state.json), not as the whole bus each time, and reads back equal to the machine.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { openSimulated } from "../src/cli/host.ts";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { SimControl } from "../src/host/sim/control.ts";
import type { SimKernel } from "../src/host/sim/kernel.ts";
import { SimMachine } from "../src/host/sim/machine.ts";
import { machineSource, openMachine } from "../src/host/sim/open.ts";
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

/** The ConnectX machine with `vfs` of each PF's VFs (bench/scale-devices.ts makes the same). */
function connectxWith(vfs: number): string {
  const machine = JSON.parse(readFileSync(CONNECTX, "utf8")) as {
    name: string;
    devices: { physfn?: string }[];
  };
  const seen = new Map<string, number>();
  machine.devices = machine.devices.filter((d) => {
    if (d.physfn === undefined) return true;
    seen.set(d.physfn, (seen.get(d.physfn) ?? 0) + 1);
    return (seen.get(d.physfn) as number) <= vfs;
  });
  machine.name = `connectx-${vfs}`;
  const file = join(tempDir("machine"), `connectx-${vfs}.json`);
  writeFileSync(file, JSON.stringify(machine));
  return file;
}

const normal = (state: unknown) => JSON.parse(JSON.stringify(state)) as unknown;

test("apply and the hook's boot pass save each change as one journal line of its own size, and the state read back equals the machine after every change", async () => {
  const file = connectxWith(2); // 8 PFs with 2 VFs each: 32 devices
  const env = { XDG_STATE_HOME: tempDir("journal") };
  const rules = join(tempDir("rules"), "rules.d");
  mkdirSync(rules);
  writeFileSync(join(rules, "vfs.rule"), "match id 15b3:101e\nflavour vfio\n");
  const source = await machineSource(file);
  const dir = join(env.XDG_STATE_HOME, "flavourctl/machines", source.key);
  const journal = join(dir, "state.journal");

  const lineLengths: number[] = [];
  let checked = 0;
  const levers = SimControl.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originals = { write: levers.write, modprobe: levers.modprobe, pause: levers.pause };
  for (const name of ["write", "modprobe", "pause"] as const) {
    const original = originals[name] as (...args: unknown[]) => unknown;
    levers[name] = function (this: SimControl, ...args: unknown[]) {
      try {
        return original.apply(this, args);
      } finally {
        // what another process would read now (a kill -9 here leaves exactly this)
        const lines = readFileSync(journal, "utf8").split("\n").slice(1, -1);
        lineLengths.push((lines.at(-1) as string).length);
        const read = openMachine(source, env, () => {});
        assert.deepEqual(
          normal(read.machine.save()),
          normal(this.machine.save()),
          `after change ${checked + 1}`,
        );
        checked++;
      }
    };
  }
  try {
    const cli = async (args: string[], extra: Record<string, string> = {}) => {
      const { io, recorded } = recordingIo("", { ...env, ...extra });
      const code = await main(args, io);
      assert.equal(code, 0, recorded.stderr);
      return recorded.stdout;
    };
    await cli(["list", "--machine", file]); // boots it
    await cli(["apply", "--machine", file, "--config", rules]);
    const afterApply = checked;
    assert.ok(afterApply >= 16 * 3, `apply made ${afterApply} changes for 16 VFs`);
    assert.equal(
      existsSync(journal),
      false,
      "the command's end writes the whole state and drops the journal",
    );
    assert.equal((await cli(["sim", "reset", file])).length > 0, true);
    await cli(["hook", "--machine", file, "--config", rules], {
      ACTION: "add",
      PCI_SLOT_NAME: "0000:00:01.0",
    });
    assert.ok(checked > afterApply + 16 * 3, "the boot pass's changes were checked too");
    assert.equal(existsSync(journal), false);
    assert.match(await cli(["sim", "devices", file]), /0000:10:00\.2 .*mlx5_vfio_pci/);
    // devices that go and come (the bus order is saved with such a change)
    const beforeVfs = checked;
    await cli(["sim", "write", file, "/sys/bus/pci/devices/0000:10:00.0/sriov_numvfs", "0"]);
    await cli(["sim", "write", file, "/sys/bus/pci/devices/0000:10:00.0/sriov_numvfs", "3"]);
    assert.equal(checked, beforeVfs + 2);
    assert.match(await cli(["sim", "devices", file]), /0000:10:00\.3 /);
  } finally {
    Object.assign(levers, originals);
  }
  // a change's line holds what it touched, not the bus: far below the whole state's size
  const whole = readFileSync(join(dir, "state.json"), "utf8").length;
  assert.ok(
    Math.max(...lineLengths) < whole / 4,
    `longest line ${Math.max(...lineLengths)}, whole state ${whole}`,
  );
});
