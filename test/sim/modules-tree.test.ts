// The simulated modules tree follows its kernel's version: from Linux 6.18 the built-in drivers'
// aliases are in modules.builtin.modinfo (libkmod's last lookup stage answers from them), before
// that a built-in driver has no alias line anywhere.
import assert from "node:assert/strict";
import { test } from "node:test";
import { bundledMachine } from "../../src/host/sim/bundled.ts";
import { readMachine } from "../../src/host/sim/machine-format.ts";
import { kernelAtLeast, machineModules, modulesTreeFiles } from "../../src/host/sim/modules-tree.ts";
import { lookup } from "../../src/modules/lookup.ts";

const BRIDGE = "pci:v00008086d0000347Asv00000000sd00000000bc06sc04i00";

test("simulated modules tree: a 7.2 kernel carries built-in aliases, a 6.12 one does not", async () => {
  const demo = readMachine(await bundledMachine("demo"), "demo");
  assert.equal(
    modulesTreeFiles(demo).get("modules.builtin.modinfo"),
    "pcieport.alias=pci:v*d*sv*sd*bc06sc04i00*\0pcieport.alias=pci:v*d*sv*sd*bc06sc04i01*\0pcieport.alias=pci:v*d*sv*sd*bc08sc07i00*\0",
  );
  const found = lookup(machineModules(demo), BRIDGE);
  assert.deepEqual(
    found.matches.map((m) => m.module),
    ["pcieport"],
  );
  assert.match(String(found.stage), /built-in alias/);

  const old = { ...demo, kernel: "6.12.117-sim" };
  assert.equal(modulesTreeFiles(old).has("modules.builtin.modinfo"), false);
  assert.deepEqual(lookup(machineModules(old), BRIDGE).matches, []);
});

test("kernelAtLeast reads MAJOR.MINOR of a release string", () => {
  assert.equal(kernelAtLeast("6.18.0-sim", 6, 18), true);
  assert.equal(kernelAtLeast("6.17.9", 6, 18), false);
  assert.equal(kernelAtLeast("7.0-rc1", 6, 18), true);
  assert.equal(kernelAtLeast("6.9", 6, 18), false);
  assert.equal(kernelAtLeast("sim", 6, 18), false);
});
