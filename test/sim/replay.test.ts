// The differential harness: replaying a scenario's actions on a real root, reading what
// `udevadm monitor --kernel --property` printed, and comparing with the simulated run.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { main } from "../../src/cli/main.ts";
import { scenarioStepRunner } from "../../src/cli/scenario-step.ts";
import { bundledScenario } from "../../src/sim/bundled-scenarios.ts";
import { compareRuns, notReplayable, parseUdevMonitor, realMachine, replay } from "../../src/sim/replay.ts";
import { runScenario } from "../../src/sim/run.ts";
import { readScenario } from "../../src/sim/scenario.ts";
import { tempDir } from "../support/tmp.ts";

// What udevadm monitor --kernel --property prints for a virtio-net hotplugged with no driver
// loaded (systemd's monitor format: a KERNEL[...] header, the properties, a blank line).
const MONITOR = `monitor will print the received events for:
KERNEL - the kernel uevent

KERNEL[51.404721] add      /devices/pci0000:00/0000:00:03.0 (pci)
ACTION=add
DEVPATH=/devices/pci0000:00/0000:00:03.0
SUBSYSTEM=pci
PCI_CLASS=20000
PCI_ID=1AF4:1041
PCI_SUBSYS_ID=1AF4:1100
PCI_SLOT_NAME=0000:00:03.0
MODALIAS=pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00
SEQNUM=2031

KERNEL[51.460137] add      /module/virtio_pci (module)
ACTION=add
DEVPATH=/module/virtio_pci
SUBSYSTEM=module
SEQNUM=2032

KERNEL[51.463520] bind     /devices/pci0000:00/0000:00:03.0 (pci)
ACTION=bind
DEVPATH=/devices/pci0000:00/0000:00:03.0
SUBSYSTEM=pci
DRIVER=virtio-pci
PCI_CLASS=20000
PCI_ID=1AF4:1041
PCI_SUBSYS_ID=1AF4:1100
PCI_SLOT_NAME=0000:00:03.0
MODALIAS=pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00
SEQNUM=2034

`;

test("udevadm monitor output parses; a matching real run shows no difference, a different one does", async () => {
  const events = parseUdevMonitor(MONITOR);
  assert.deepEqual(
    events.map((e) => [e.action, e.devpath]),
    [
      ["add", "/devices/pci0000:00/0000:00:03.0"],
      ["add", "/module/virtio_pci"],
      ["bind", "/devices/pci0000:00/0000:00:03.0"],
    ],
  );
  const simulated = await runScenario(
    readScenario(await bundledScenario("device-added"), "device-added"),
    scenarioStepRunner(main),
  );
  const real = { bindings: { ...simulated.bindings }, uevents: events };
  assert.deepEqual(compareRuns(simulated, real), []);
  real.bindings["0000:00:03.0"] = null;
  assert.deepEqual(compareRuns(simulated, { ...real, uevents: events.slice(0, 2) }), [
    "0000:00:03.0: simulated ends on virtio-pci, real on no driver",
    "0000:00:03.0: simulated bind virtio-pci; real (none)",
  ]);
});

test("replay on a real root: writes land at their /sys paths, errors are errnos, bindings are read from links", async () => {
  const root = tempDir("replay");
  const device = join(root, "sys/bus/pci/devices/0000:00:03.0");
  mkdirSync(device, { recursive: true });
  writeFileSync(join(device, "driver_override"), "(null)\n"); // sysfs has it; writes never create
  mkdirSync(join(root, "sys/bus/pci/drivers/virtio-pci"), { recursive: true });
  symlinkSync("../../../../bus/pci/drivers/virtio-pci", join(device, "driver"));
  const scenario = readScenario(
    {
      format: "flavourctl-scenario/1",
      name: "r",
      machine: "thread",
      actions: [
        { do: "write", path: "/sys/bus/pci/devices/0000:00:03.0/driver_override", value: "vfio-pci" },
        {
          do: "write",
          path: "/sys/bus/pci/devices/0000:09:00.0/driver_override",
          value: "x",
          fails: "ENOENT",
        },
        { do: "flavourctl", args: ["--version"] },
        { do: "expect", bindings: { "0000:00:03.0": "virtio-pci" } },
      ],
    },
    "r.json",
  );
  const commands: string[][] = [];
  const result = await replay(
    scenario,
    realMachine(root, async (args) => {
      commands.push(args);
      return 0;
    }),
  );
  assert.deepEqual(result.failures, []);
  assert.equal(readFileSync(join(device, "driver_override"), "utf8"), "vfio-pci");
  assert.deepEqual(commands, [["--version"]]);
  assert.deepEqual(result.bindings, { "0000:00:03.0": "virtio-pci" });
});

test("scenarios that need the simulator (hotplug, faults, group opens) say they cannot be replayed", async () => {
  const hotplug = readScenario(await bundledScenario("device-added"), "device-added");
  assert.match(notReplayable(hotplug) ?? "", /action 'hotplug' has no real-machine equivalent/);
  const coldplug = readScenario(await bundledScenario("overlap-v1-coldplug"), "overlap-v1-coldplug");
  assert.equal(notReplayable(coldplug), undefined, "remove + rescan + expect: replayable");
});
