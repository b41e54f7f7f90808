// The differential's scenarios (test/kernel/differential/*.json, replayed on the real kernel by
// test/kernel/guest/7-sim-differential.test.ts) run here on the simulator alone, on the
// machine built from the bench guest's captured tree and its modules: every action must end
// as the scenario says — the outcomes and bindings written there are the real kernel's.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { basename, join } from "node:path";
import { test } from "node:test";
import { main } from "../../src/cli/main.ts";
import { scenarioStepRunner } from "../../src/cli/scenario-step.ts";
import { notReplayable } from "../../src/sim/replay.ts";
import { runScenario } from "../../src/sim/run.ts";
import { readScenario } from "../../src/sim/scenario.ts";
import { BENCH_MODULES, debianModules } from "../support/modules.ts";
import { SYSFS_FIXTURES, sysfsTree } from "../support/sysfs-trees.ts";

const dir = new URL("../kernel/differential/", import.meta.url).pathname;
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .sort();

test("the differential has at least 10 scenarios, all replayable on a real machine", () => {
  assert.ok(files.length >= 10, `${files.length} scenarios`);
  for (const file of files) {
    const scenario = readScenario(JSON.parse(readFileSync(join(dir, file), "utf8")), file);
    assert.equal(notReplayable(scenario), undefined, file);
  }
});

for (const file of files) {
  test(`differential scenario on the bench snapshot: ${file}`, async () => {
    const scenario = readScenario(JSON.parse(readFileSync(join(dir, file), "utf8")), file);
    const machine = `snapshot:${sysfsTree(SYSFS_FIXTURES.bench)},modules=${debianModules(BENCH_MODULES)}`;
    const result = await runScenario(scenario, scenarioStepRunner(main), { machine });
    assert.deepEqual(result.failures, []);
    assert.ok(
      scenario.actions.some((a) => a.do === "expect"),
      "the scenario checks bindings",
    );
  });
}

test("a machine built from the bench snapshot boots to the snapshot's bindings (refused probes stay refused)", async () => {
  const tree = sysfsTree(SYSFS_FIXTURES.bench);
  const machine = `snapshot:${tree},modules=${debianModules(BENCH_MODULES)}`;
  const empty = readScenario({ format: "flavourctl-scenario/1", name: "boot", machine, actions: [] }, "boot");
  const booted = await runScenario(empty, scenarioStepRunner(main), { machine });
  const devices = join(tree, "bus/pci/devices");
  const captured = Object.fromEntries(
    readdirSync(devices)
      .sort()
      .map((a) => {
        try {
          return [a, basename(readlinkSync(join(devices, a, "driver")))];
        } catch {
          return [a, null];
        }
      }),
  );
  assert.deepEqual(booted.bindings, captured);
  assert.equal(captured["0000:00:1f.0"], null, "lpc_ich refused the LPC bridge");
  assert.equal(captured["0000:01:00.0"], null, "pcieport and shpchp refused the PCIe-to-PCI bridge");
});
