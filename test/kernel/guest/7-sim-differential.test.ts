// The simulated kernel against the real one (issue 8). Each scenario of test/kernel/differential/
// is replayed on the guest's real /sys (sysfs writes, modprobe, modprobe.d, the bundled CLI)
// while `udevadm monitor --kernel --property` records the kernel's uevents, and run on a
// simulated machine built from the guest's own snapshot taken just before
// (--machine snapshot:DIR,modules=/lib/modules/$(uname -r)). Both must end with the same
// driver on every device and the same bind/unbind uevents, in order, on each device; every
// action must end as the scenario says on both. Each scenario leaves the guest as it found it
// (checked before each one). Results go to /run/results/differential.json.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { main } from "../../../src/cli/main.ts";
import { scenarioStepRunner } from "../../../src/cli/scenario-step.ts";
import { snapshot } from "../../../src/host/snapshot.ts";
import {
  compareRuns,
  parseUdevMonitor,
  type RealMachine,
  realMachine,
  replay,
} from "../../../src/sim/replay.ts";
import { runScenario } from "../../../src/sim/run.ts";
import { readScenario } from "../../../src/sim/scenario.ts";
import { addresses, driverOf, flavourctl, overrideOf, run, sleep } from "./support.ts";

const dir = join(process.cwd(), "test/kernel/differential");
const work = "/run/flavourctl-differential";

/**
 * The real guest, with `udevadm settle` after each lever, as the simulator settles, and udevd
 * told to reload after each modprobe.d change, as the simulator's udev reads modprobe.d at each
 * event. udevd on its own notices a changed modprobe.d only at an event more than 3 s after its
 * last check (systemd 252 udevd.c manager_reload: "check for changed config, every 3 seconds at
 * most"; builtin-kmod.c: kmod_validate_resources): until then its kmod builtin autoloads with
 * the config it read before, so a blacklist written less than 3 s after an event is not
 * honoured by the next autoload.
 */
function guest(): RealMachine {
  const base = realMachine("/", async (args) => flavourctl(...args).status);
  const settle = () => run("udevadm", ["settle", "--timeout=30"]);
  return {
    ...base,
    blacklist(module, remove) {
      base.blacklist(module, remove);
      const reload = run("udevadm", ["control", "--reload"]);
      if (reload.status !== 0) throw new Error(`udevadm control --reload: ${reload.stderr.trim()}`);
    },
    write(path, value) {
      const code = base.write(path, value);
      settle();
      return code;
    },
    modprobe(args) {
      const result = base.modprobe(args);
      settle();
      return result;
    },
  };
}

function dirty(start: Record<string, string | null>): string[] {
  return addresses()
    .filter((a) => driverOf(a) !== (start[a] ?? null) || overrideOf(a) !== null)
    .map((a) => `${a} on ${driverOf(a)}, override ${overrideOf(a)}, expected ${start[a]}`);
}

const files = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .sort();
/** Where the guest stood before the first scenario: each one must leave it so. */
const start = Object.fromEntries(addresses().map((a) => [a, driverOf(a)]));
const results: { name: string; differences: string[]; real: string[]; simulated: string[] }[] = [];

test("at least 10 scenarios share the data of the simulator and the replayer", () => {
  assert.ok(files.length >= 10, `${files.length} scenarios in ${dir}`);
});

for (const file of files) {
  test(`differential: ${file}`, async (t) => {
    const scenario = readScenario(JSON.parse(readFileSync(join(dir, file), "utf8")), file);
    assert.deepEqual(dirty(start), [], "the guest is not as coldplug left it");
    const tree = join(work, scenario.name);
    rmSync(tree, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    snapshot("/sys", tree, (message) => t.diagnostic(`snapshot: ${message}`));

    const log = join(work, `${scenario.name}.uevents`);
    const fd = openSync(log, "w");
    const monitor = spawn("udevadm", ["monitor", "--kernel", "--property", "--subsystem-match=pci"], {
      stdio: ["ignore", fd, "ignore"],
    });
    closeSync(fd);
    const until = Date.now() + 5000;
    while (Date.now() < until && !readFileSync(log, "utf8").includes("KERNEL - the kernel uevent")) sleep(50);
    sleep(200);
    let real: Awaited<ReturnType<typeof replay>>;
    try {
      real = await replay(scenario, guest());
    } finally {
      run("udevadm", ["settle", "--timeout=30"]);
      sleep(300);
      monitor.kill();
    }
    await new Promise((resolve) => monitor.once("exit", resolve));
    const uevents = parseUdevMonitor(readFileSync(log, "utf8"));

    const simulated = await runScenario(scenario, scenarioStepRunner(main), {
      machine: `snapshot:${tree},modules=/lib/modules/${release()}`,
    });
    const differences = compareRuns(simulated, { bindings: real.bindings, uevents });
    results.push({ name: scenario.name, differences, real: real.failures, simulated: simulated.failures });
    writeFileSync("/run/results/differential.json", JSON.stringify(results, null, 1));
    t.diagnostic(
      `${scenario.name}: ${uevents.filter((u) => u.action === "bind" || u.action === "unbind").length} bind/unbind uevents, ${differences.length} differences`,
    );
    for (const line of [...differences, ...real.failures.map((f) => `real: ${f}`)]) t.diagnostic(line);
    for (const line of simulated.failures) t.diagnostic(`simulated: ${line}`);
    assert.deepEqual(real.failures, [], "on the real kernel, actions ended otherwise than the scenario says");
    assert.deepEqual(
      simulated.failures,
      [],
      "on the simulator, actions ended otherwise than the scenario says",
    );
    assert.deepEqual(differences, []);
  });
}
