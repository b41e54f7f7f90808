// The flavourctl command lines the page runs, and the JSON they answer with. Pure (no DOM, no
// cockpit): test/cockpit/model.test.ts checks each command line against the real command.

/** The machine the page works on: the host's /sys, or a simulated one (`--machine M`). */
export type Machine = { kind: "host" } | { kind: "simulated"; name: string };

export const HOST: Machine = { kind: "host" };
export const DEMO: Machine = { kind: "simulated", name: "demo" };

export function machineArgs(machine: Machine): string[] {
  return machine.kind === "host" ? [] : ["--machine", machine.name];
}

export function machineLabel(machine: Machine): string {
  return machine.kind === "host" ? "this host" : `simulated machine ${machine.name}`;
}

/** What a set or unset asks for (the form in the details pane). */
export interface Action {
  address: string;
  /** unset: the kernel's own driver, and the device's address rule removed. */
  flavour: "vfio" | "default" | "driver" | "unset";
  /** --driver NAME: with "driver", the driver; with "vfio", an optional vfio driver. */
  driver: string;
  /** --group: every member of the IOMMU group (bridges excepted) moves together. */
  group: boolean;
  /** false: --no-save. */
  save: boolean;
}

/** The argument vector after `flavourctl`, always with --json (the page reads nothing else). */
export function actionArgs(action: Action, machine: Machine, dryRun: boolean): string[] {
  const args =
    action.flavour === "unset"
      ? ["unset", action.address]
      : [
          "set",
          action.address,
          ...(action.flavour === "driver" ? [] : [action.flavour]),
          ...(action.flavour !== "default" && action.driver.trim() !== ""
            ? ["--driver", action.driver.trim()]
            : []),
          ...(action.group && action.flavour !== "default" ? ["--group"] : []),
          ...(action.save ? [] : ["--no-save"]),
        ];
  return [...args, ...machineArgs(machine), ...(dryRun ? ["--dry-run"] : []), "--json"];
}

/** `flavourctl ARGS` as a shell would show it, for the dialog: what the page runs is said. */
export function commandLine(args: readonly string[]): string {
  return ["flavourctl", ...args]
    .map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`))
    .join(" ");
}

/** The README's exit-code table, as the dialog says it. */
export function exitMeaning(code: number): string {
  switch (code) {
    case 0:
      return "done";
    case 1:
      return "the action failed and the device was put back where it started";
    case 2:
      return "an input file is missing, unreadable or malformed";
    case 3:
      return "a safety check refused the action; nothing was changed";
    case 4:
      return "the action failed and the device could NOT be put back: look at it now";
    case 5:
      return "another flavourctl holds the host lock";
    case 6:
      return "the action needs privileges this session does not have";
    case 64:
      return "flavourctl refused the command line";
    case 70:
      return "a bug in flavourctl";
    default:
      return `exit status ${code}`;
  }
}

export interface Plan {
  address: string;
  from: { driver: string | null; driverOverride: string | null };
  target: {
    flavour: string;
    module: string | null;
    driver: string | null;
    reason: string;
    vfio: boolean;
  } | null;
  checks: { name: string; ok: boolean; message: string; hard?: boolean }[];
  steps: Record<string, unknown>[];
  done: boolean;
}

export interface Outcome {
  outcome: string;
  log: string[];
  final?: { driver: string | null; driverOverride: string | null };
}

/** One device's part of a set or unset: its plan, and its result once run. */
export interface MemberDocument {
  plan: Plan | null;
  result: Outcome | null;
}

/**
 * set/unset --json (README "set, unset"): `{plan, result}`, or with --group `{members: [{plan,
 * refused, result}], restored}`.
 */
export type PlanDocument =
  | MemberDocument
  | { members: (MemberDocument & { refused: string[] })[]; restored: boolean };

/** Every device the document speaks of, one or the members of a group, in its order. */
export function members(document: PlanDocument): MemberDocument[] {
  return "members" in document
    ? document.members.map((member) => ({ plan: member.plan, result: member.result ?? null }))
    : [document];
}

/** One plan step in words: its action, then its other fields. */
export function stepText(step: Record<string, unknown>): string {
  const { action, ...rest } = step;
  const detail = Object.entries(rest)
    .map(([key, value]) => `${key} ${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(", ");
  return detail === "" ? String(action) : `${String(action)}: ${detail}`;
}

/** The JSON a command printed, or null when it printed none (a usage error says it on stderr). */
export function parseJson<T>(stdout: string): T | null {
  const text = stdout.trim();
  if (text === "") return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}
