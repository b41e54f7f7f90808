// flavourctl sim: the simulated machines — run a scenario, look at a machine, write to its
// sysfs (driver_flavour included), inject a fault, reset it.
import { ExitCode, FlavourError, InputError, UsageError } from "../../errors.ts";
import { readFault } from "../../host/sim/faults.ts";
import { KernelError } from "../../host/sim/kernel.ts";
import { formatTrace } from "../../host/sim/trace.ts";
import { printable } from "../../pci/address.ts";
import { RefusedFile, readRegularText } from "../../safe-read.ts";
import { BUNDLED_SCENARIOS, bundledScenario } from "../../sim/bundled-scenarios.ts";
import { runScenario } from "../../sim/run.ts";
import { readScenario } from "../../sim/scenario.ts";
import { parseCommandLine } from "../args.ts";
import type { Command, RunCommand } from "../command.ts";
import { openSimulated } from "../host.ts";
import type { Io } from "../io.ts";
import { scenarioStepRunner } from "../scenario-step.ts";

const help = `usage: flavourctl sim run SCENARIO [--machine M] [--seed N] [--json] [--properties]
       flavourctl sim devices MACHINE [--json]
       flavourctl sim write MACHINE PATH VALUE
       flavourctl sim fault MACHINE FAULT-JSON
       flavourctl sim reset MACHINE [--all]
       flavourctl sim scenarios

MACHINE is a bundled machine (demo, thread), a machine JSON file, or snapshot:DIR,modules=DIR.
  run        boots a fresh machine, carries out the scenario's actions and prints the trace
             (kernel log, uevents, udev, modprobe, sysfs writes, flavourctl); SCENARIO is a
             bundled scenario (see 'sim scenarios') or a scenario JSON file. Exit 1 when an
             'expect' or an action's expected outcome fails. --properties prints every uevent
             variable (udevadm monitor --property); --json the trace and checks as JSON;
             --machine M runs it on another machine (e.g. a snapshot of the real guest);
             --seed N replaces the scenario's seed (how udev interleaves events).
  devices    every device of the machine with its ids, driver, override and IOMMU group
  write      echo VALUE > PATH on the machine's sysfs (e.g. .../driver_flavour), then prints
             what it caused
  fault      adds a fault: {"kind":"probe-fails","driver":"vfio-pci"} (man flavourctl, sim: Faults)
  reset      powers the machine off: the next command boots it again; --all also forgets its
             rules
`;

export const command: Command = {
  summary: "simulated machines: run scenarios, inspect, write, reset",
  async run(args, io, runCommand) {
    const { values, positionals } = parseCommandLine(args, {
      json: { type: "boolean" },
      properties: { type: "boolean" },
      all: { type: "boolean" },
      machine: { type: "string" },
      seed: { type: "string", check: (n: string) => (/^\d{1,9}$/.test(n) ? undefined : "a number") },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      io.out(help);
      return 0;
    }
    const [verb, ...rest] = positionals;
    switch (verb) {
      case "run":
        return run(one(rest, "SCENARIO"), io, runCommand, values);
      case "scenarios":
        for (const name of BUNDLED_SCENARIOS) io.out(`${name}\n`);
        return 0;
      case "devices":
        return devices(one(rest, "MACHINE"), io, values.json === true);
      case "write":
        return write(rest, io);
      case "fault":
        return fault(rest, io);
      case "reset": {
        const { machineSource, resetMachine } = await import("../../host/sim/open.ts");
        const source = await machineSource(one(rest, "MACHINE"));
        io.out(`reset ${resetMachine(source.key, io.env, values.all === true)}\n`);
        return 0;
      }
      default:
        throw new UsageError(
          `sim: expected run, devices, write, fault, reset or scenarios, not '${printable(verb ?? "")}'`,
        );
    }
  },
};

function one(rest: string[], what: string): string {
  if (rest.length !== 1) throw new UsageError(`sim: expected one ${what}`);
  return rest[0] as string;
}

async function loadScenario(text: string) {
  const bundled = bundledScenario(text);
  if (bundled) return readScenario(await bundled, `bundled scenario ${text}`);
  let raw: string;
  try {
    raw = readRegularText(text, "machine");
  } catch (error) {
    if (error instanceof RefusedFile) throw error;
    throw new InputError(
      `${text}: no bundled scenario of that name and no such file (${(error as NodeJS.ErrnoException).code}); see 'flavourctl sim scenarios'`,
    );
  }
  try {
    return readScenario(JSON.parse(raw), text);
  } catch (error) {
    if (error instanceof SyntaxError) throw new InputError(`${text}: not JSON: ${error.message}`);
    throw error;
  }
}

async function run(
  text: string,
  io: Io,
  runCommand: RunCommand,
  values: { json?: boolean; properties?: boolean; machine?: string; seed?: string },
): Promise<number> {
  const scenario = await loadScenario(text);
  if (values.seed !== undefined) {
    scenario.seed = Number(values.seed);
  }
  const result = await runScenario(scenario, scenarioStepRunner(runCommand), {
    machine: values.machine,
  });
  if (values.json) io.out(`${JSON.stringify(result, null, 2)}\n`);
  else {
    io.out(`# scenario ${scenario.name}\n${scenario.description ? `# ${scenario.description}\n` : ""}`);
    io.out(formatTrace(result.trace, { properties: values.properties }));
    for (const failure of result.failures) io.err(`flavourctl sim: FAILED ${failure}\n`);
    if (result.failures.length === 0) io.out("# every expectation held\n");
  }
  return result.failures.length > 0 ? ExitCode.failedRolledBack : ExitCode.ok;
}

async function devices(text: string, io: Io, json: boolean): Promise<number> {
  const { opened } = await openSimulated(text, io.env);
  const kernel = opened.machine.kernel;
  const rows = [...kernel.devices.values()]
    .sort((a, b) => (a.address < b.address ? -1 : 1))
    .map((d) => ({
      address: d.address,
      id: `${hex(d.ids.vendor)}:${hex(d.ids.device)}`,
      subsystem: `${hex(d.ids.subvendor)}:${hex(d.ids.subdevice)}`,
      class: d.ids.classCode.toString(16).padStart(6, "0"),
      driver: d.driver?.name ?? null,
      override: d.driverOverride,
      flavour: d.flavour,
      group: d.iommuGroup,
      name: d.name,
    }));
  if (json) io.out(`${JSON.stringify(rows, null, 2)}\n`);
  else
    for (const r of rows)
      io.out(
        `${r.address}  ${r.id} ${r.subsystem} ${r.class}  group ${String(r.group ?? "-").padEnd(4)} ${(r.driver ?? "-").padEnd(18)}${r.override ? ` override=${r.override}` : ""}${r.flavour ? ` flavour=${r.flavour}` : ""}  ${r.name ?? ""}\n`,
      );
  return 0;
}

const hex = (n: number) => n.toString(16).padStart(4, "0");

async function write(rest: string[], io: Io): Promise<number> {
  const [machineText, path, value, ...extra] = rest;
  if (machineText === undefined || path === undefined || value === undefined || extra.length > 0)
    throw new UsageError("usage: flavourctl sim write MACHINE PATH VALUE");
  // locked before its state is read: a write must not be saved over another command's change
  const { opened } = await openSimulated(machineText, io.env, 5000);
  const kernel = opened.machine.kernel;
  kernel.trace.enabled = true;
  const from = kernel.trace.events.length;
  try {
    opened.machine.write(path, value);
  } catch (error) {
    if (!(error instanceof KernelError)) throw error;
    io.out(formatTrace(kernel.trace.events.slice(from)));
    throw new FlavourError(`write ${path}: ${error.code}`, ExitCode.failedRolledBack);
  } finally {
    writeState(opened);
    opened.unlock();
  }
  io.out(formatTrace(kernel.trace.events.slice(from)));
  return 0;
}

function writeState(opened: Awaited<ReturnType<typeof openSimulated>>["opened"]): void {
  // Any lever saves the state; a no-op pause does it without changing anything.
  opened.control.pause(0);
}

async function fault(rest: string[], io: Io): Promise<number> {
  const [machineText, json, ...extra] = rest;
  if (machineText === undefined || json === undefined || extra.length > 0)
    throw new UsageError("usage: flavourctl sim fault MACHINE FAULT-JSON");
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new UsageError(`sim fault: not JSON: ${(error as Error).message}`);
  }
  const parsed = readFault(value, "FAULT-JSON");
  const { opened } = await openSimulated(machineText, io.env, 5000);
  try {
    opened.machine.kernel.faults.add(parsed);
    writeState(opened);
  } finally {
    opened.unlock();
  }
  io.out(`fault added to ${opened.control.description}\n`);
  return 0;
}
