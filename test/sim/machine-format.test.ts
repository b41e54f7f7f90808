// Bad machine files: each error names the file, the JSON path and what is wrong.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ExitCode, InputError } from "../../src/errors.ts";
import { bundledMachine } from "../../src/host/sim/bundled.ts";
import { readMachine } from "../../src/host/sim/machine-format.ts";
import { PCIEPORT, ROOT_PORT } from "../support/sim.ts";

const NIC = {
  address: "0000:01:00.0",
  vendor: "8086",
  device: "10d3",
  class: "020000",
  parent: "0000:00:01.0",
};

function error(machine: Record<string, unknown>): string {
  try {
    readMachine(
      { format: "flavourctl-machine/1", name: "bad", modules: [PCIEPORT], devices: [ROOT_PORT], ...machine },
      "bad.json",
    );
  } catch (e) {
    assert.ok(e instanceof InputError, String(e));
    assert.equal(e.exitCode, ExitCode.badInput);
    assert.doesNotMatch(e.message, /\n/, "one line");
    return e.message;
  }
  assert.fail("accepted");
}

const cases: [string, Record<string, unknown>, RegExp][] = [
  [
    "duplicate address",
    { devices: [ROOT_PORT, NIC, NIC] },
    /^bad\.json: \$\.devices\[2\]\.address: duplicate address 0000:01:00\.0 \(also \$\.devices\[1\]\)$/,
  ],
  [
    "unknown device field",
    { devices: [ROOT_PORT, { ...NIC, colour: "red" }] },
    /^bad\.json: \$\.devices\[1\]\.colour: unknown field/,
  ],
  ["unknown top-level field", { extra: 1 }, /^bad\.json: \$\.extra: unknown field/],
  [
    "partial class mask",
    {
      modules: [
        PCIEPORT,
        { name: "m", drivers: [{ name: "m", ids: [{ class: "020000", classMask: "fff000" }] }] },
      ],
    },
    /^bad\.json: \$\.modules\[1\]\.drivers\[0\]\.ids\[0\]\.classMask: mask byte f0 is neither 00 nor ff/,
  ],
  [
    "VF without PF",
    { devices: [ROOT_PORT, { ...NIC, physfn: "0000:05:00.0" }] },
    /^bad\.json: \$\.devices\[1\]\.physfn: VF without PF: no device 0000:05:00\.0/,
  ],
  [
    "VF of a device without SR-IOV",
    { devices: [ROOT_PORT, NIC, { ...NIC, address: "0000:01:00.1", physfn: "0000:01:00.0" }] },
    /\$\.devices\[2\]\.physfn: VF without PF: 0000:01:00\.0 has no sriov capability/,
  ],
  [
    "bad address",
    { devices: [{ ...ROOT_PORT, address: "00:01.0" }] },
    /\$\.devices\[0\]\.address: not a PCI address/,
  ],
  [
    "bad hex",
    { devices: [{ ...ROOT_PORT, vendor: "80866" }] },
    /\$\.devices\[0\]\.vendor: expected 4 hex digits/,
  ],
  [
    "missing field",
    { devices: [{ address: "0000:00:02.0", vendor: "8086", device: "1234" }] },
    /\$\.devices\[0\]\.class: missing/,
  ],
  [
    "parent unknown",
    { devices: [ROOT_PORT, { ...NIC, parent: "0000:00:09.0" }] },
    /\$\.devices\[1\]\.parent: no device 0000:00:09\.0/,
  ],
  [
    "parent not a bridge",
    { devices: [ROOT_PORT, NIC, { ...NIC, address: "0000:01:00.1", parent: "0000:01:00.0" }] },
    /is not a bridge/,
  ],
  [
    "duplicate driver",
    { modules: [PCIEPORT, { name: "a", drivers: [{ name: "pcieport" }] }] },
    /\$\.modules\[1\]\.drivers\[0\]\.name: driver pcieport is already registered/,
  ],
  [
    "unknown dependency",
    { modules: [PCIEPORT, { name: "a", depends: ["b"] }] },
    /\$\.modules\[1\]\.depends\[0\]: no module b/,
  ],
  [
    "module name with a dash",
    { modules: [PCIEPORT, { name: "vfio-pci" }] },
    /\$\.modules\[1\]\.name: module names use '_'/,
  ],
  ["wrong format", { format: "x" }, /\$\.format: expected "flavourctl-machine\/1"/],
  ["not an object", { devices: [ROOT_PORT, 5] }, /\$\.devices\[1\]: expected an object/],
];

for (const [name, machine, expected] of cases) {
  test(`machine file: ${name}`, () => assert.match(error(machine), expected));
}

test("the bundled demo machine reads cleanly and cites the kernel source of every table", async () => {
  const demo = readMachine(await bundledMachine("demo"), "demo");
  assert.ok(demo.devices.length >= 20);
  for (const m of demo.modules)
    assert.match(m.source ?? "", /^linux-source-7\.2 \(Debian 7\.2\.13-1\) \S+\.c/, m.name);
});
