// Running a scenario on a fresh simulated machine: boot it, carry out each action, and return
// the trace (kernel log, uevents, udev, modprobe, sysfs writes, flavourctl) and the checks.
// Rules and the run directory live in a temporary directory removed afterwards.
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { wireSimHooks } from "../flavour/sim-hooks.ts";
import { SimControl } from "../host/sim/control.ts";
import { KernelError } from "../host/sim/kernel.ts";
import { SimMachine } from "../host/sim/machine.ts";
import type { MachineSpec } from "../host/sim/machine-format.ts";
import { machineModules } from "../host/sim/modules-tree.ts";
import { machineSource, type OpenedMachine } from "../host/sim/open.ts";
import type { TraceEvent } from "../host/sim/trace.ts";
import type { ModulesDir } from "../modules/modules-dir.ts";
import { makeNewDirectory } from "../safe-write.ts";
import { type Action, placeOutsideScenario, type Scenario } from "./scenario.ts";

export interface ScenarioResult {
  name: string;
  trace: TraceEvent[];
  /** Failed `expect`s and actions that ended otherwise than the scenario said. */
  failures: string[];
  /** Every device's driver at the end. */
  bindings: Record<string, string | null>;
}

/**
 * What a scenario's flavourctl step hands the command line it runs: where its output goes, its
 * environment, and the scenario's machine (already open, in this process) to work on.
 */
export interface ScenarioStep {
  output(text: string): void;
  env: Record<string, string>;
  machine: { opened: OpenedMachine; modules: ModulesDir };
}

/**
 * Runs a flavourctl command line in this process for a step: handed in by the caller (the CLI
 * adapts its main, cli/scenario-step.ts), so the runner never imports the CLI above it.
 */
export type CommandRunner = (argv: string[], step: ScenarioStep) => Promise<number>;

/**
 * `machine` overrides the scenario's own (a name, a machine file, or snapshot:DIR,modules=DIR:
 * the differential runs a scenario on the machine captured from the real guest).
 */
export async function runScenario(
  scenario: Scenario,
  runCommand: CommandRunner,
  options: { machine?: string } = {},
): Promise<ScenarioResult> {
  const named = options.machine ?? (typeof scenario.machine === "string" ? scenario.machine : undefined);
  const { spec, modules } =
    named !== undefined
      ? await machineSource(named)
      : { spec: scenario.machine as MachineSpec, modules: machineModules(scenario.machine as MachineSpec) };
  const machine = new SimMachine(spec, modules, scenario.seed);
  const control = new SimControl(machine);
  const dir = makeNewDirectory(join(tmpdir(), "flavourctl-sim-"));
  const opened: OpenedMachine = {
    machine,
    control,
    dir,
    rulesDir: join(dir, "rules.d"),
    runDir: join(dir, "run"),
    booted: true,
    unlock: () => {},
  };
  wireSimHooks(machine, control, modules, opened);
  const kernel = machine.kernel;
  const failures: string[] = [];
  try {
    kernel.trace.enabled = scenario.traceBoot;
    machine.boot();
    kernel.trace.enabled = true;
    for (const [i, action] of scenario.actions.entries()) {
      if (action.do !== "note")
        kernel.trace.push({ t: kernel.now, source: "scenario", text: `» ${describe(action)}` });
      const failure = await perform(action, opened, runCommand, modules);
      if (failure) failures.push(`action ${i + 1} (${describe(action)}): ${failure}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const bindings: Record<string, string | null> = {};
  for (const address of control.addresses())
    bindings[address] = kernel.devices.get(address)?.driver?.name ?? null;
  return { name: scenario.name, trace: kernel.trace.events, failures, bindings };
}

function describe(action: Action): string {
  switch (action.do) {
    case "note":
      return action.text;
    case "hotplug":
      return `hotplug ${action.device.address}`;
    case "remove":
      return `echo 1 > /sys/bus/pci/devices/${action.address}/remove`;
    case "modprobe":
      return `modprobe ${action.module}`;
    case "modprobe -r":
      return `modprobe -r ${action.module}`;
    case "blacklist":
      return action.remove
        ? `rm /etc/modprobe.d/${blacklistFile(action.module)}`
        : `echo "blacklist ${action.module}" > /etc/modprobe.d/${blacklistFile(action.module)}`;
    case "write":
      return `echo ${JSON.stringify(action.value)} > ${action.path}`;
    case "flavourctl":
      return `flavourctl ${action.args.join(" ")}`;
    case "fault":
      return `fault ${JSON.stringify(action.fault)}`;
    case "wait":
      return `sleep ${action.ms / 1000}`;
    case "open-vfio-group":
      return `open /dev/vfio/${action.group}`;
    case "close-vfio-group":
      return `close /dev/vfio/${action.group}`;
    case "expect":
      return `expect ${Object.entries(action.bindings)
        .map(([a, d]) => `${a}=${d ?? "(none)"}`)
        .join(" ")}`;
  }
}

/** The file a `blacklist` action writes in /etc/modprobe.d on a real machine. */
export const blacklistFile = (module: string) => `flavourctl-scenario-${module}.conf`;

/** modprobe's exit status against the scenario's (0 unless it says otherwise). */
export function exitDiffers(code: number, expected: number | undefined, message: string): string | undefined {
  if (code === (expected ?? 0)) return undefined;
  return code === 0 ? `exit 0, expected ${expected}` : message || `exit ${code}`;
}

/** Carries out one action; returns why it went otherwise than the scenario said, if it did. */
async function perform(
  action: Action,
  opened: OpenedMachine,
  runCommand: CommandRunner,
  modules: OpenedMachine["machine"]["modules"],
): Promise<string | undefined> {
  const { machine } = opened;
  const kernel = machine.kernel;
  const say = (source: TraceEvent["source"], text: string) =>
    kernel.trace.push({ t: ++kernel.now, source, text });
  const errno = (error: unknown) => {
    if (error instanceof KernelError) return error.code;
    throw error;
  };
  switch (action.do) {
    case "note":
      say("scenario", `# ${action.text}`);
      return;
    case "hotplug":
      if (action.device.parent !== null && !kernel.devices.has(action.device.parent))
        return `no bridge ${action.device.parent} on the machine`;
      machine.hotplug(action.device);
      return;
    case "remove":
      machine.write(`/sys/bus/pci/devices/${action.address}/remove`, "1");
      return;
    case "modprobe":
    case "modprobe -r": {
      const run =
        action.do === "modprobe"
          ? machine.modprobe.run(action.module, { blacklist: false })
          : machine.modprobe.remove(action.module);
      machine.udev.settle();
      return exitDiffers(run.ok ? 0 : 1, action.exit, run.message);
    }
    case "blacklist": {
      const blacklist = modules.config.blacklist;
      if (action.remove) blacklist.delete(action.module);
      else blacklist.add(action.module);
      return;
    }
    case "write": {
      let code: string | undefined;
      try {
        machine.write(action.path, action.value);
      } catch (error) {
        code = errno(error);
      }
      if (code === action.fails) return;
      return code ? `failed with ${code}` : `succeeded, expected ${action.fails}`;
    }
    case "flavourctl": {
      // the runner's rule (scenario.ts): read scenarios were checked; those made in code are here
      const outside = placeOutsideScenario(action.args);
      if (outside !== undefined) return `'${outside}' names a place outside the scenario's machine: not run`;
      const output: string[] = [];
      const { dir } = opened;
      const step: ScenarioStep = {
        output: (text) => output.push(text),
        // a home, state and caches of its own: `--machine demo` or `sim reset` in a step stay here
        env: {
          HOME: join(dir, "home"),
          XDG_STATE_HOME: join(dir, "state"),
          XDG_CACHE_HOME: join(dir, "cache"),
          FLAVOURCTL_INDEX_CACHE: "off",
        },
        machine: { opened, modules },
      };
      // a bare name a step gives (snapshot NAME, --output NAME, --config NAME) is made here
      const cwd = process.cwd();
      process.chdir(dir);
      let code: number;
      try {
        code = await runCommand(action.args, step);
      } finally {
        process.chdir(cwd);
      }
      for (const line of output.join("").split("\n")) if (line !== "") say("flavourctl", `  ${line}`);
      say("flavourctl", `  exit ${code}`);
      const want = action.exit ?? 0;
      return code === want ? undefined : `exit ${code}, expected ${want}`;
    }
    case "fault":
      kernel.faults.add({ ...action.fault });
      return;
    case "wait":
      kernel.advance(action.ms);
      machine.udev.settle();
      return;
    case "open-vfio-group": {
      let code: string | undefined;
      try {
        kernel.openVfioGroup(action.group);
      } catch (error) {
        code = errno(error);
      }
      if (code === action.fails) return;
      return code ? `failed with ${code}` : `succeeded, expected ${action.fails}`;
    }
    case "close-vfio-group":
      kernel.closeVfioGroup(action.group);
      return;
    case "expect": {
      const wrong = Object.entries(action.bindings).filter(
        ([address, driver]) => (kernel.devices.get(address as never)?.driver?.name ?? null) !== driver,
      );
      return wrong.length === 0
        ? undefined
        : wrong
            .map(
              ([a, d]) =>
                `${a} is on ${kernel.devices.get(a as never)?.driver?.name ?? "no driver"}, expected ${d ?? "no driver"}`,
            )
            .join("; ");
    }
  }
}
