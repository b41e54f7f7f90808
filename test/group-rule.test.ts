// Issue 15, defect 4: a flavour saved with `set --group` was not restored. The members' rules
// were applied one device at a time, so the GPU was refused while its audio function was still
// on snd_hda_intel (apply exited 3; the hook, after remove and rescan, left the GPU driverless
// in about half the event orders). A group rule moves its group together, in one pass.
//
// Every order of the events that bring the group back: each member's add (the kernel binds what
// matches at once), each member's udev worker (the hook of 60-flavourctl.rules, then the kmod
// load of 80-drivers.rules, as udevd runs them for one event), and an `apply` anywhere among
// them; each order ends with both members on the flavour `set --group` saved.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { main } from "../src/cli/main.ts";
import { scenarioStepRunner } from "../src/cli/scenario-step.ts";
import { applyRules } from "../src/flavour/apply-rules.ts";
import { giveGroup } from "../src/flavour/give.ts";
import { runHook } from "../src/flavour/hook.ts";
import { type Rule, ruleName, type Selector } from "../src/flavour/rules.ts";
import { loadRules, saveRule } from "../src/flavour/rules-store.ts";
import { SimControl } from "../src/host/sim/control.ts";
import { SimMachine } from "../src/host/sim/machine.ts";
import { readMachine } from "../src/host/sim/machine-format.ts";
import demo from "../src/host/sim/machines/demo.json" with { type: "json" };
import { machineModules } from "../src/host/sim/modules-tree.ts";
import type { PciAddress } from "../src/pci/address.ts";
import { runScenario } from "../src/sim/run.ts";
import { readScenario } from "../src/sim/scenario.ts";
import { tempDir } from "./support/tmp.ts";

const GPU = "0000:0a:00.0" as PciAddress;
const AUDIO = "0000:0a:00.1" as PciAddress;

type Step = "add GPU" | "add AUDIO" | "udev GPU" | "udev AUDIO" | "apply";

/** Every interleaving of the two members' add → udev chains, with apply at every place. */
function orders(): Step[][] {
  const chains: Step[][] = [];
  const walk = (gpu: number, audio: number, seq: Step[]) => {
    if (gpu === 2 && audio === 2) chains.push(seq);
    if (gpu < 2) walk(gpu + 1, audio, [...seq, gpu === 0 ? "add GPU" : "udev GPU"]);
    if (audio < 2) walk(gpu, audio + 1, [...seq, audio === 0 ? "add AUDIO" : "udev AUDIO"]);
  };
  walk(0, 0, []);
  return chains.flatMap((chain) =>
    Array.from({ length: chain.length + 1 }, (_, i) => [
      ...chain.slice(0, i),
      "apply" as Step,
      ...chain.slice(i),
    ]),
  );
}

/** The demo machine after `set GPU vfio --group` saved its rules, with both members removed. */
function removedGroup() {
  const spec = readMachine(demo, "demo.json");
  const sim = new SimMachine(spec, machineModules(spec), 1).boot();
  const host = new SimControl(sim);
  const machine = { modules: sim.modules, host };
  const rulesDir = tempDir("group-rules");
  const runDir = tempDir("group-run");
  writeFileSync(join(runDir, "boot-pass-done"), "booted\n");
  const moved = giveGroup(machine, GPU, { flavour: "vfio" });
  assert.equal(moved.failedAt, undefined);
  for (const address of [GPU, AUDIO]) {
    const selector: Selector = { kind: "address", address };
    const rule: Rule = { name: ruleName(selector), selector, flavour: "vfio", group: true };
    saveRule(rulesDir, rule);
  }
  // udevd is driven by hand below, one event's worker at a time
  sim.kernel.onUevent = () => {};
  sim.kernel.removeByUser(AUDIO);
  sim.kernel.removeByUser(GPU);
  return { sim, host, machine, rulesDir, runDir };
}

test("a group rule brings the whole group back, in every order of add events, udev workers and apply", () => {
  const all = orders();
  assert.equal(all.length, 30);
  const failures: string[] = [];
  for (const order of all) {
    const { sim, host, machine, rulesDir, runDir } = removedGroup();
    const { rules } = loadRules(rulesDir);
    const codes: string[] = [];
    for (const step of order) {
      const [verb, who] = step.split(" ");
      const address = who === "GPU" ? GPU : AUDIO;
      if (verb === "add") {
        const spec = sim.kernel.removed.get(address);
        assert.ok(spec);
        sim.kernel.removed.delete(address);
        sim.kernel.addDevice(spec);
      } else if (verb === "udev") {
        const run = runHook(machine, () => rules, address, runDir);
        for (const o of run.outcomes)
          if (o.give?.refused.length || o.error) codes.push(`${step}: refused or failed`);
        sim.modprobe.run(sim.kernel.device(address).modalias, { blacklist: true });
      } else {
        for (const o of applyRules(machine, rules, host.addresses()))
          if (o.give?.refused.length || o.error) codes.push(`apply: ${o.address} refused or failed`);
      }
    }
    for (const address of [GPU, AUDIO]) {
      const state = host.device(address);
      if (state.driver !== "vfio-pci" || state.driverOverride !== "vfio-pci")
        failures.push(
          `${order.join(", ")}: ${address} on ${state.driver ?? "no driver"} ${codes.join("; ")}`,
        );
    }
  }
  console.log(`# group rule: ${all.length} orders tried, ${failures.length} left a member off its flavour`);
  assert.deepEqual(failures, []);
});

test("apply after both functions were given back by hand: one pass, exit 0, both on vfio-pci", () => {
  const { sim, host, machine, rulesDir } = removedGroup();
  for (const address of [GPU, AUDIO]) {
    const spec = sim.kernel.removed.get(address);
    assert.ok(spec);
    sim.kernel.removed.delete(address);
    sim.kernel.addDevice(spec);
  }
  assert.equal(host.device(AUDIO).driver, "snd_hda_intel");
  assert.equal(host.device(GPU).driver, null);
  const outcomes = applyRules(machine, loadRules(rulesDir).rules, host.addresses());
  assert.deepEqual(
    outcomes.map((o) => [o.address, o.give?.refused ?? [], o.give?.result?.outcome]),
    [
      [GPU, [], "done"],
      [AUDIO, [], "done"],
    ],
  );
});

test("the reported reproduction: set --group, remove and rescan, on 40 seeds of udev's worker order", async () => {
  const scenario = readScenario(
    {
      format: "flavourctl-scenario/1",
      name: "group-rescan",
      description: "a group rule after remove and rescan",
      machine: "demo",
      actions: [
        { do: "flavourctl", args: ["set", GPU, "vfio", "--group"] },
        { do: "write", path: "/sys/bus/pci/devices/0000:09:08.0/remove", value: "1" },
        { do: "write", path: "/sys/bus/pci/rescan", value: "1" },
        { do: "expect", bindings: { [GPU]: "vfio-pci", [AUDIO]: "vfio-pci" } },
        { do: "write", path: `/sys/bus/pci/devices/${AUDIO}/remove`, value: "1" },
        { do: "write", path: `/sys/bus/pci/devices/${GPU}/remove`, value: "1" },
        { do: "write", path: "/sys/bus/pci/rescan", value: "1" },
        { do: "expect", bindings: { [GPU]: "vfio-pci", [AUDIO]: "vfio-pci" } },
      ],
    },
    "group-rescan",
  );
  const failed: number[] = [];
  for (let seed = 1; seed <= 40; seed++) {
    const result = await runScenario({ ...scenario, seed }, scenarioStepRunner(main));
    if (result.failures.length > 0) failed.push(seed);
  }
  console.log(`# group rule after remove and rescan: 40 seeds tried, ${failed.length} failed`);
  assert.deepEqual(failed, []);
});
