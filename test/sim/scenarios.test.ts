// The bundled scenarios: every expectation holds, the traces tell the thread's story in the
// kernel's order, and one seed gives one trace.
import assert from "node:assert/strict";
import { test } from "node:test";
import { main } from "../../src/cli/main.ts";
import { scenarioStepRunner } from "../../src/cli/scenario-step.ts";
import type { TraceEvent } from "../../src/host/sim/trace.ts";
import { BUNDLED_SCENARIOS, bundledScenario } from "../../src/sim/bundled-scenarios.ts";
import { runScenario } from "../../src/sim/run.ts";
import { readScenario } from "../../src/sim/scenario.ts";

async function run(name: string, seed?: number) {
  const scenario = readScenario(await bundledScenario(name), name);
  if (seed !== undefined) scenario.seed = seed;
  return runScenario(scenario, scenarioStepRunner(main));
}

/** Asserts that lines matching the patterns appear in this order. */
function inOrder(trace: TraceEvent[], patterns: RegExp[]): void {
  let from = 0;
  for (const p of patterns) {
    const i = trace.findIndex((e, k) => k >= from && p.test(`${e.source} ${e.text}`));
    assert.ok(
      i >= 0,
      `no ${p} after event ${from}:\n${trace
        .slice(from)
        .map((e) => `${e.source} ${e.text}`)
        .join("\n")}`,
    );
    from = i + 1;
  }
}

for (const name of BUNDLED_SCENARIOS) {
  test(`scenario ${name}: every expectation holds`, async () => {
    const result = await run(name);
    assert.deepEqual(result.failures, []);
  });
}

test("device added with no driver loaded: match loaded drivers → uevent → modprobe → bind", async () => {
  const { trace } = await run("device-added");
  inOrder(trace, [
    /^kernel pci 0000:00:03.0: \[1af4:1041\]/,
    /^uevent KERNEL add +\/devices\/pci0000:00\/0000:00:03.0 \(pci\)/,
    /^udev 0000:00:03.0: RUN\{builtin\} kmod load pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00/,
    /^modprobe insmod .*virtio_pci\.ko/,
    /^uevent KERNEL add +\/bus\/pci\/drivers\/virtio-pci/,
    /^kernel virtio-pci 0000:00:03.0: bound/,
    /^uevent KERNEL bind/,
  ]);
});

test("driver_flavour=vfio: unbind, change uevent with the flavoured modalias, the hook loads the variant", async () => {
  const { trace } = await run("flavour-variant-present");
  inOrder(trace, [
    /^sysfs echo "vfio" > \/sys\/bus\/pci\/devices\/0000:00:03.0\/driver_flavour/,
    /^kernel virtio-pci 0000:00:03.0: unbound/,
    /^uevent KERNEL unbind/,
    /^uevent KERNEL change/,
    /^udev 0000:00:03.0: driver_flavour=vfio: RUN "flavourctl hook" with vfio_pci:v00001AF4d00001041/,
    /^modprobe insmod .*virtio_vfio_pci\.ko/,
    /^sysfs echo "virtio_vfio_pci" > .*driver_override/,
    /^kernel virtio_vfio_pci 0000:00:03.0: bound \(vfio-dev\/vfio0, \/dev\/vfio\/3\)/,
    /^flavourctl driver_flavour hook: 0000:00:03.0: done -> virtio_vfio_pci/,
  ]);
  const change = trace.find((e) => e.vars?.ACTION === "change");
  assert.equal(change?.vars?.MODALIAS, "vfio_pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00");
  assert.equal(change?.vars?.DRIVER_FLAVOUR, "vfio");
});

test("driver_flavour=vfio with no variant falls back to vfio_pci", async () => {
  const { trace, bindings } = await run("flavour-variant-absent");
  assert.equal(bindings["0000:01:00.0"], "vfio-pci");
  inOrder(trace, [
    /^flavourctl driver_flavour hook: .*no variant driver matches; generic vfio-pci/,
    /^modprobe insmod .*vfio_pci\.ko/,
  ]);
});

test("overlap, v1 table: udev loads virtio_pci first (modules.order) and it wins; preloaded, mlx5_vfio_pci takes the disk", async () => {
  const coldplug = await run("overlap-v1-coldplug");
  inOrder(coldplug.trace, [
    /^modprobe modprobe -b pci:v00001AF4d00001042sv000015B3sd00000051bc01sc00i00: modules.alias → virtio_pci mlx5_vfio_pci$/,
    /^kernel virtio-pci 0000:01:00.0: bound/,
    /^kernel mlx5_vfio_pci: module loaded/,
  ]);
  const preloaded = await run("overlap-v1-preloaded");
  assert.equal(preloaded.bindings["0000:01:00.0"], "mlx5_vfio_pci");
  const override = await run("overlap-override-only");
  inOrder(override.trace, [
    /^kernel virtio-pci 0000:01:00.0: bound/,
    /^flavourctl +why +variant mlx5_vfio_pci matches with 4 wildcard fields, fewer than vfio_pci \(7\)/,
  ]);
});

test("faults: probe failure rolls back; a slow probe is waited for", async () => {
  const rollback = await run("rollback-probe-fails");
  inOrder(rollback.trace, [
    /probe rejects match -6/,
    /rollback: rebound to virtio-pci|rolled back: 0000:00:03.0 is on virtio-pci/,
  ]);
  const faults = await run("module-faults");
  inOrder(faults.trace, [
    /FATAL: Module virtio_vfio_pci not found/,
    /could not insert 'vfio_pci': No such device/,
    /vfio-pci 0000:01:00\.0: probe takes 800 ms/,
  ]);
});

test("one seed, one trace; another seed may interleave udev's workers differently but ends the same", async () => {
  const a = await run("overlap-v1-coldplug", 7);
  const b = await run("overlap-v1-coldplug", 7);
  assert.deepEqual(a.trace, b.trace);
  const c = await run("overlap-v1-coldplug", 8);
  assert.deepEqual(c.bindings, a.bindings);
});

test("a VM holds the device: unset, set and apply refuse to unbind it (also in --json) until --force", async () => {
  const { trace } = await run("vm-holds-device");
  const inUse = "0000:03:00.0 is in use: a process holds /dev/vfio/30 open \\(a VM\\?\\)";
  inOrder(trace, [
    /^kernel vfio: group 30 opened/,
    /^scenario » flavourctl unset 0000:03:00.0$/,
    new RegExp(`^flavourctl +check +FAIL ${inUse}`),
    new RegExp(`^flavourctl +flavourctl unset: refused: ${inUse}`),
    /^flavourctl +exit 3$/,
    /^flavourctl +"name": "vfio-in-use",$/,
    /^flavourctl +"ok": false,$/,
    /^flavourctl +exit 3$/,
    /^kernel virtio_vfio_pci 0000:03:00.0: unbound/,
    /^flavourctl +exit 0$/,
    /^scenario » flavourctl apply$/,
    new RegExp(`^flavourctl +flavourctl apply: 0000:03:00.0: refused: ${inUse}`),
    /^flavourctl +exit 3$/,
    /^kernel vfio-pci 0000:03:00.0: unbound/,
    /^flavourctl +exit 0$/,
    /^kernel vfio: group 30 closed/,
    /^flavourctl +check +ok +no process holds 0000:03:00.0's vfio nodes open/,
  ]);
  // One refusal each for unset, set and apply.
  const refusals = trace.filter((e) => /refused: .*is in use/.test(e.text));
  assert.equal(refusals.length, 3);
});

test("xe_vfio_pci: the module's name in driver_override binds nothing; set writes the driver's, xe-vfio-pci", async () => {
  const { trace, bindings } = await run("xe-driver-name");
  assert.equal(bindings["0000:0b:00.1"], "xe-vfio-pci");
  const lines = trace.map((e) => `${e.source} ${e.text}`);
  const byHand = lines.findIndex((l) =>
    /^sysfs echo "xe_vfio_pci" > .*0000:0b:00.1\/driver_override/.test(l),
  );
  const cleared = lines.findIndex((l) => /^sysfs echo "\\n" > .*0000:0b:00.1\/driver_override/.test(l));
  assert.ok(byHand >= 0 && cleared > byHand);
  // between the two: the VF left xe, and no driver bound it
  assert.deepEqual(
    lines.slice(byHand, cleared).filter((l) => /^kernel .*0000:0b:00.1: (un)?bound/.test(l)),
    ["kernel xe 0000:0b:00.1: unbound"],
  );
  inOrder(trace.slice(cleared), [
    /^kernel xe 0000:0b:00.1: bound/,
    /^sysfs echo "xe-vfio-pci" > \/sys\/bus\/pci\/devices\/0000:0b:00.1\/driver_override/,
    /^kernel xe-vfio-pci 0000:0b:00.1: bound \(vfio-dev\/vfio\d+/,
  ]);
});
