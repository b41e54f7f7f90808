// Scenarios: a machine and a list of actions, as data (README "sim run"). Every action is
// something a person does on a real machine — a sysfs write by its /sys path, modprobe,
// a flavourctl command, a device hotplugged or removed — so the same list can be replayed on
// a real kernel (the QEMU bench) and the two traces compared. `expect` checks bindings.
import { InputError } from "../errors.ts";
import { type Fault, readFault } from "../host/sim/faults.ts";
import { type DeviceSpec, type MachineSpec, readMachine } from "../host/sim/machine-format.ts";
import { isAddress, type PciAddress, printable } from "../pci/address.ts";

export type Action =
  | { do: "note"; text: string }
  | { do: "hotplug"; device: DeviceSpec }
  | { do: "remove"; address: PciAddress }
  | { do: "modprobe"; module: string; exit?: number }
  | { do: "modprobe -r"; module: string; exit?: number }
  | { do: "blacklist"; module: string; remove?: boolean }
  | { do: "write"; path: string; value: string; fails?: string }
  | { do: "flavourctl"; args: string[]; exit?: number }
  | { do: "fault"; fault: Fault }
  | { do: "wait"; ms: number }
  | { do: "open-vfio-group"; group: number; fails?: string }
  | { do: "close-vfio-group"; group: number }
  | { do: "expect"; bindings: Record<string, string | null> };

export interface Scenario {
  name: string;
  description: string;
  /** A bundled machine's name, or a machine written inline. */
  machine: string | MachineSpec;
  seed: number;
  /** Show the boot's events in the trace (default: only what the actions cause). */
  traceBoot: boolean;
  actions: Action[];
}

const ACTIONS: Record<string, string[]> = {
  note: ["text"],
  hotplug: ["device"],
  remove: ["address"],
  modprobe: ["module", "exit"],
  "modprobe -r": ["module", "exit"],
  blacklist: ["module", "remove"],
  write: ["path", "value", "fails"],
  flavourctl: ["args", "exit"],
  fault: ["fault"],
  wait: ["ms"],
  "open-vfio-group": ["group", "fails"],
  "close-vfio-group": ["group"],
  expect: ["bindings"],
};

/**
 * The rule that keeps a scenario inside its simulated machine, whatever command and options a
 * step uses (no list of path options to forget one from): no argument of a flavourctl step —
 * operand, option value or `--name=value` — may name a place, so none holds a '/', is '..' or
 * starts with '~'. A bare name is a file in the scenario's own directory: the runner runs each
 * step there (run.ts), with a home, state and cache inside it too. The argument that breaks it.
 */
export function placeOutsideScenario(args: readonly string[]): string | undefined {
  return args.find((arg) => {
    const value = arg.startsWith("-") && arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : arg;
    return [arg, value].some((text) => text.includes("/") || text === ".." || text.startsWith("~"));
  });
}

export function readScenario(value: unknown, file: string): Scenario {
  const fail = (path: string, message: string): never => {
    throw new InputError(`${file}: ${path}: ${message}`);
  };
  const o = value as Record<string, unknown>;
  if (typeof o !== "object" || o === null || Array.isArray(o)) fail("$", "expected an object");
  for (const key of Object.keys(o))
    if (!["format", "name", "description", "machine", "seed", "traceBoot", "actions"].includes(key))
      fail(`$.${key}`, "unknown field");
  if (o.format !== "flavourctl-scenario/1") fail("$.format", 'expected "flavourctl-scenario/1"');
  if (typeof o.name !== "string") fail("$.name", "expected a string");
  const machine = typeof o.machine === "string" ? o.machine : readMachine(o.machine, `${file}: $.machine`);
  if (!Array.isArray(o.actions)) fail("$.actions", "expected an array");
  const actions = (o.actions as unknown[]).map((a, i) => {
    const path = `$.actions[${i}]`;
    const action = a as Record<string, unknown>;
    const kind = action?.do;
    const fields = typeof kind === "string" && Object.hasOwn(ACTIONS, kind) ? ACTIONS[kind] : undefined;
    if (!fields) fail(`${path}.do`, `expected one of ${Object.keys(ACTIONS).join(", ")}`);
    for (const key of Object.keys(action))
      if (key !== "do" && !fields?.includes(key)) fail(`${path}.${key}`, "unknown field");
    for (const key of fields ?? [])
      if (action[key] === undefined && !["fails", "exit", "remove"].includes(key))
        fail(`${path}.${key}`, "missing");
    if (action.do === "hotplug") {
      // The device alone (its bridge is on the machine, not in this list).
      const { parent, ...alone } = action.device as Record<string, unknown>;
      const spec = readMachine(
        { format: "flavourctl-machine/1", name: "x", modules: [], devices: [alone] },
        `${file}: ${path}.device`,
      );
      if (parent !== undefined && !isAddress(String(parent)))
        fail(`${path}.device.parent`, "not a PCI address");
      return {
        do: "hotplug",
        device: { ...spec.devices[0], parent: (parent as PciAddress) ?? null },
      } as Action;
    }
    if (action.do === "fault")
      return { do: "fault", fault: readFault(action.fault, `${file}: ${path}.fault`) } as Action;
    if (action.do === "remove" && !isAddress(String(action.address)))
      fail(`${path}.address`, "not a PCI address");
    if (
      action.do === "flavourctl" &&
      !(Array.isArray(action.args) && action.args.every((x) => typeof x === "string"))
    )
      fail(`${path}.args`, "expected an array of strings");
    if (action.do === "flavourctl") {
      const outside = placeOutsideScenario(action.args as string[]);
      if (outside !== undefined)
        fail(
          `${path}.args[${(action.args as string[]).indexOf(outside)}]`,
          `'${printable(outside)}' names a place outside the scenario's machine (a step takes bare names, kept in the scenario's own directory)`,
        );
    }
    if (action.do === "write" && (typeof action.path !== "string" || !action.path.startsWith("/sys/")))
      fail(`${path}.path`, "expected a /sys path");
    return action as unknown as Action;
  });
  return {
    name: o.name as string,
    description: typeof o.description === "string" ? o.description : "",
    machine,
    seed: typeof o.seed === "number" ? o.seed : 1,
    traceBoot: o.traceBoot === true,
    actions,
  };
}
