// A scenario stays inside its simulated machine (issue 15, defect 2: `sim run` of a scenario
// whose steps ran `udev-rule --output FILE`, `set … --config DIR` or `snapshot DEST` wrote those
// files on the real file system, and `udev-rule --install` would write /etc/udev/rules.d).
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { installPath } from "../../src/cli/commands/udev-rule.ts";
import { recordingIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { scenarioStepRunner } from "../../src/cli/scenario-step.ts";
import { runScenario } from "../../src/sim/run.ts";
import { placeOutsideScenario, readScenario } from "../../src/sim/scenario.ts";
import { tempDir } from "../support/tmp.ts";

function scenario(steps: string[][]) {
  return {
    format: "flavourctl-scenario/1",
    name: "confined",
    machine: "demo",
    actions: steps.map((args) => ({ do: "flavourctl", args })),
  };
}

/** Every file under dir, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).sort();
}

test("a step naming a place outside (absolute, .., ~, --name=/x, snapshot:/x) is refused when the scenario is read, naming the argument", async () => {
  const outside = tempDir("outside");
  const steps: [string[], number][] = [
    [["udev-rule", "--output", join(outside, "r.rules")], 2],
    [["udev-rule", `--output=${join(outside, "r.rules")}`], 1],
    [["set", "0000:03:00.0", "vfio", "--config", join(outside, "rules.d")], 4],
    [["snapshot", join(outside, "snap")], 1],
    [["set", "0000:03:00.0", "vfio", "--config", "../rules.d"], 4],
    [["set", "0000:03:00.0", "vfio", "--config=.."], 3],
    [["hook", "--run-dir", "~/run"], 2],
    [["list", "--machine", "snapshot:/sys,modules=/lib/modules/x"], 2],
    [["list", "--sysfs", "/sys"], 2],
  ];
  for (const [args, at] of steps) {
    assert.equal(placeOutsideScenario(args), args[at]);
    assert.throws(
      () => readScenario(scenario([args]), "s.json"),
      (error: Error) =>
        error.message.startsWith(`s.json: $.actions[0].args[${at}]: '`) &&
        error.message.includes("names a place outside the scenario's machine"),
      args.join(" "),
    );
  }
  // through the CLI: exit 2, nothing written (run from a temporary directory two levels down,
  // so that were the rule broken, '..' would still be a temporary directory)
  const file = join(tempDir("scenario-file"), "s.json");
  writeFileSync(file, JSON.stringify(scenario(steps.map(([args]) => args))));
  const { io, recorded } = recordingIo("", { XDG_STATE_HOME: tempDir("state") });
  const cwd = process.cwd();
  const below = join(tempDir("below"), "a/b");
  mkdirSync(below, { recursive: true });
  process.chdir(below);
  try {
    assert.equal(await main(["sim", "run", file], io), 2);
  } finally {
    process.chdir(cwd);
  }
  assert.deepEqual(filesUnder(join(below, "../..")), ["a", "a/b"]);
  assert.match(recorded.stderr, /\$\.actions\[0\]\.args\[2\]: '.*r\.rules' names a place outside/);
  assert.deepEqual(filesUnder(outside), []);
  // and a scenario made in code, not read, meets the same rule in the runner
  const made = readScenario(scenario([["rules"]]), "s.json");
  made.actions.push({ do: "flavourctl", args: ["udev-rule", "--output", join(outside, "r.rules")] });
  const result = await runScenario(made, scenarioStepRunner(main));
  assert.match(result.failures.join("\n"), /names a place outside the scenario's machine: not run/);
  assert.deepEqual(filesUnder(outside), []);
});

test("steps that write (bare names, --machine demo, sim reset) write inside the scenario's directory only", async () => {
  const cwd = tempDir("cwd");
  const home = tempDir("home");
  const saved = { cwd: process.cwd(), HOME: process.env.HOME, XDG_STATE_HOME: process.env.XDG_STATE_HOME };
  process.chdir(cwd);
  process.env.HOME = home;
  process.env.XDG_STATE_HOME = join(home, "state");
  try {
    const steps = [
      ["udev-rule", "--output", "r.rules"],
      ["set", "0000:03:00.0", "vfio", "--config", "rules.d"],
      ["set", "0000:02:00.0", "vfio", "--machine", "demo"],
      ["sim", "reset", "demo", "--all"],
      ["hook", "--run-dir", "run-elsewhere"],
      ["vfs", "0000:01:00.0", "0", "--config", "."],
    ];
    const result = await runScenario(readScenario(scenario(steps), "s.json"), scenarioStepRunner(main));
    assert.deepEqual(result.failures, []);
    const trace = result.trace.map((e) => e.text).join("\n");
    assert.match(trace, /wrote r\.rules;/);
    assert.match(trace, /saved rules\.d\//);
    assert.equal(result.bindings["0000:03:00.0"], "virtio_vfio_pci");
    assert.deepEqual(filesUnder(cwd), [], "the working directory");
    assert.deepEqual(filesUnder(home), [], "the home directory");
    assert.equal(process.cwd(), cwd, "the working directory is given back");
  } finally {
    process.chdir(saved.cwd);
    for (const key of ["HOME", "XDG_STATE_HOME"] as const) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
});

// --install is not run here: were the rule broken, this test (run as root) would write /etc.
test("udev-rule --install in a scenario's step targets the machine's own directory, not /etc/udev/rules.d", async () => {
  const made = readScenario(scenario([["rules"]]), "s.json");
  let target = "";
  await runScenario(made, async (_argv, step) => {
    target = installPath(step);
    return 0;
  });
  assert.match(target, /\/flavourctl-sim-[^/]+\/udev\/60-flavourctl\.rules$/);
  assert.equal(installPath({}), "/etc/udev/rules.d/60-flavourctl.rules");
});
