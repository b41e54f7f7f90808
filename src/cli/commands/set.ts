// flavourctl set ADDRESS FLAVOUR / unset ADDRESS: plan, check, apply, report, and save the
// flavour as a rule (set) or remove the device's rule (unset).

import { join } from "node:path";
import { ExitCode, FlavourError, systemErrorExitCode, UsageError } from "../../errors.ts";
import { subjectOf } from "../../flavour/apply-rules.ts";
import { giveFlavour, giveGroup, groupMovers, type Machine } from "../../flavour/give.ts";
import type { Plan } from "../../flavour/plan.ts";
import {
  parseSelector,
  type Rule,
  type RuleSubject,
  ruleFor,
  ruleName,
  type Selector,
  selectorMatches,
} from "../../flavour/rules.ts";
import { DEFAULT_RULES_DIR, loadRules, removeRule } from "../../flavour/rules-store.ts";
import {
  checkSaves,
  type PlannedSave,
  type RuleChange,
  type SavedAhead,
  saveAhead,
  saveChanges,
} from "../../flavour/save-check.ts";
import { FLAVOURS, type Flavour, type TargetRequest } from "../../flavour/target.ts";
import { type PciAddress, parseAddress, printable } from "../../pci/address.ts";
import { hex } from "../../pci/ids.ts";
import { makeDirectory } from "../../safe-write.ts";
import { parseCommandLine } from "../args.ts";
import type { Command } from "../command.ts";
import {
  commandMachineOptions,
  driverOption,
  LOCK_HELP,
  lockOption,
  lockWaitMs,
  MACHINE_HELP,
  openCommandMachine,
} from "../host.ts";
import type { Io } from "../io.ts";
import { exitCodeOf, printGive } from "../report.ts";

const commonOptions = {
  ...commandMachineOptions,
  ...lockOption,
  "dry-run": { type: "boolean" },
  force: { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const setHelp = `usage: flavourctl set ADDRESS FLAVOUR [--driver NAME] [--match KIND] [--no-save] [--dry-run] [--force] [--json]
       flavourctl set ADDRESS --driver NAME [...]

Gives the device at ADDRESS (DDDD:BB:DD.F or BB:DD.F) a flavour, and saves it as a rule so the
udev hook gives it again after a reboot, hotplug or VF re-creation:
  vfio           the best vfio driver: the vfio-pci variant whose vfio_pci: alias matches
                 with the fewest wildcards, else vfio-pci
  default        no override: the kernel's own driver (and the device's address rule is removed)
  --driver NAME  an explicit driver (or module) name, e.g. pci-stub or virtio_vfio_pci; with
                 FLAVOUR vfio it must be a vfio driver

  --match KIND    what the saved rule names: address (default), id (vendor:device),
                  subsystem (vendor:device:subvendor:subdevice), class, vfs-of (every VF of
                  this device's PF)
  --no-save       do not save a rule
  --group         move every member of the device's IOMMU group (bridges excepted), all or none
  --config DIR    the rules directory (default ${DEFAULT_RULES_DIR})
  --dry-run       print the plan (checks and steps) and change nothing
  --force         go on when a safety check fails, or the driver's tables do not list the device
  --json          print the plan and the result as JSON
  --sysfs DIR     work on the sysfs tree at DIR instead of /sys
  --modules DIR   the modules directory (default /lib/modules/$(uname -r))
  --kernel VER    use /lib/modules/VER
${MACHINE_HELP}${LOCK_HELP}`;

const unsetHelp = `usage: flavourctl unset ADDRESS [--dry-run] [--force] [--json] [--config DIR] [--sysfs DIR | --machine M] [--modules DIR]

Gives the device back to the kernel's own choice: clears driver_override, unbinds, loads the
modules udev would load for it and reprobes; removes the device's address rule. A selector
rule (ids, class, VFs of a PF) that still names the device is reported, not removed.
`;

export const command: Command = {
  summary: "give a device a flavour: vfio, default or an explicit driver",
  run: (args, io) => runSet(args, io, false),
};

export const unsetCommand: Command = {
  summary: "give a device back to the kernel's own driver",
  run: (args, io) => runSet(args, io, true),
};

async function runSet(args: string[], io: Io, unset: boolean): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...commonOptions,
    ...(unset
      ? {}
      : {
          ...driverOption,
          match: {
            type: "string",
            check: (kind: string) => (MATCH_KINDS.includes(kind) ? undefined : MATCH_KINDS.join(", ")),
          },
          "no-save": { type: "boolean" },
          group: { type: "boolean" },
        }),
  });
  if (values.help) {
    io.out(unset ? unsetHelp : setHelp);
    return 0;
  }
  const [addressText, flavourText, ...extra] = positionals;
  if (addressText === undefined) throw new UsageError("missing ADDRESS");
  if (extra.length > 0 || (unset && flavourText !== undefined)) {
    throw new UsageError(`unexpected argument '${printable(extra[0] ?? flavourText ?? "")}'`);
  }
  const address = parseAddress(addressText);
  const driver = typeof values.driver === "string" ? values.driver : undefined;
  const flavour = unset ? "default" : toFlavour(flavourText, driver);
  const save = !unset && values["no-save"] !== true && flavour !== "default";
  const matchKind = typeof values.match === "string" ? values.match : "address";

  const wait = lockWaitMs(values);
  const opened = await openCommandMachine(values, io, { lockMs: values["dry-run"] ? undefined : wait });
  const { modules, host, rulesDir, release } = opened;
  const machine = { modules, host };
  try {
    // where the rule goes is made before the device is touched: a directory that cannot be
    // made (a file, /proc/x, a read-only place) refuses here, not after the device moved
    if (save && !values["dry-run"]) makeDirectory(rulesDir);
    const ruleFlavour = flavour === "vfio" ? "vfio" : "driver";
    if (values.group === true) {
      const saves = save
        ? groupMovers(host, address).map((member) => {
            const selector: Selector = { kind: "address", address: member };
            const rule: Rule = {
              name: ruleName(selector),
              selector,
              flavour: ruleFlavour,
              driver,
              group: true,
            };
            return { rule, subject: subjectOf(machine, member) };
          })
        : [];
      checkSaves(rulesDir, saves);
      const rules = saveChanges(rulesDir, saves);
      return setGroup(io, machine, address, { flavour, driver }, { ...values, saves, rulesDir, rules });
    }
    const subject = subjectOf(machine, address);
    const selector = save ? selectorFor(matchKind, subject) : undefined;
    const rule: Rule | undefined = selector && {
      name: ruleName(selector),
      selector,
      flavour: ruleFlavour,
      ...(driver === undefined ? {} : { driver }),
    };
    // before anything changes: a rule that could not be saved, or would not decide the device
    const saves = rule ? [{ rule, subject }] : [];
    checkSaves(rulesDir, saves);
    const forgets = flavour === "default" && values["no-save"] !== true;
    const rules = [
      ...saveChanges(rulesDir, saves),
      ...(forgets ? addressRuleRemovals(rulesDir, subject) : []),
    ];
    let ahead: SavedAhead | undefined;
    const give = undoOnThrow(
      () =>
        giveFlavour(
          machine,
          address,
          { flavour, driver },
          {
            force: values.force,
            dryRun: values["dry-run"],
            beforeChange: () => {
              ahead = saveFirst(address, rulesDir, saves);
            },
          },
        ),
      () => ahead,
    );
    for (const warning of modules.allWarnings()) io.err(`flavourctl: warning: ${warning}\n`);
    if (values.json)
      io.out(`${JSON.stringify({ plan: give.plan, result: give.result ?? null, rules }, null, 2)}\n`);
    else printGive(io, give);
    if (give.refused.length > 0) {
      throw new FlavourError(
        `refused: ${give.refused.join("; ")} (${forceHint([give.plan])})`,
        ExitCode.refused,
      );
    }
    const code = exitCodeOf(give);
    if (code !== ExitCode.ok) {
      (ahead as SavedAhead | undefined)?.undo();
      io.err(
        `flavourctl: ${address}: ${give.result?.error ?? "failed"}${code === ExitCode.failedNotRolledBack ? "; COULD NOT ROLL BACK — check the device now" : "; rolled back"}\n`,
      );
      return code;
    }
    if (values["dry-run"]) return code;
    if (!values.json)
      for (const path of (ahead as SavedAhead | undefined)?.paths ?? []) io.out(`saved ${path}\n`);
    // unset, and set ADDRESS default (its help says so): the address rule goes too
    if (forgets && !forgetDevice(io, rulesDir, subject, values.json === true)) return ExitCode.badInput;
    return code;
  } finally {
    release();
  }
}

/** set --group: every member of the device's IOMMU group, all or none. */
function setGroup(
  io: Io,
  machine: Machine,
  address: PciAddress,
  request: TargetRequest,
  options: {
    force?: boolean;
    "dry-run"?: boolean;
    json?: boolean;
    saves: PlannedSave[];
    rulesDir: string;
    rules: RuleChange[];
  },
): number {
  let ahead: SavedAhead | undefined;
  const group = undoOnThrow(
    () =>
      giveGroup(machine, address, request, {
        force: options.force,
        dryRun: options["dry-run"],
        beforeChange: () => {
          ahead = saveFirst(address, options.rulesDir, options.saves);
        },
      }),
    () => ahead,
  );
  if (options.json) io.out(`${JSON.stringify({ ...group, rules: options.rules }, null, 2)}\n`);
  else for (const member of group.members) printGive(io, member);
  const refused = group.members.flatMap((m) => m.refused);
  if (refused.length > 0) {
    throw new FlavourError(
      `refused: ${refused.join("; ")} (${forceHint(group.members.map((m) => m.plan))})`,
      ExitCode.refused,
    );
  }
  if (group.failedAt) {
    (ahead as SavedAhead | undefined)?.undo();
    io.err(
      `flavourctl: group move failed at ${group.failedAt}; ${group.restored ? "every member put back" : "COULD NOT put every member back — check them now"}\n`,
    );
    return group.restored ? ExitCode.failedRolledBack : ExitCode.failedNotRolledBack;
  }
  if (!options.json)
    for (const path of (ahead as SavedAhead | undefined)?.paths ?? []) io.out(`saved ${path}\n`);
  return ExitCode.ok;
}

/**
 * The rules are saved before the first change (see save-check.ts): a file that cannot be
 * written stops the command with nothing changed.
 */
function saveFirst(address: PciAddress, dir: string, saves: PlannedSave[]): SavedAhead {
  try {
    return saveAhead(dir, saves);
  } catch (error) {
    const exitCode = systemErrorExitCode(error);
    if (exitCode === undefined) throw error;
    throw new FlavourError(
      `${address}: its rule cannot be saved (${(error as Error).message}): nothing changed`,
      exitCode,
    );
  }
}

/** A command that throws after its rules were saved ahead puts them back before the error goes up. */
function undoOnThrow<T>(run: () => T, ahead: () => SavedAhead | undefined): T {
  try {
    return run();
  } catch (error) {
    ahead()?.undo();
    throw error;
  }
}

function toFlavour(text: string | undefined, driver: string | undefined): Flavour {
  if (text === undefined) {
    if (driver === undefined)
      throw new UsageError(`missing FLAVOUR (one of: ${FLAVOURS.join(", ")}) or --driver NAME`);
    return "driver";
  }
  if (text === "vfio") return "vfio";
  if (text === "default") {
    if (driver !== undefined) throw new UsageError("--driver does not go with the default flavour");
    return "default";
  }
  throw new UsageError(
    `unknown flavour '${printable(text)}' (one of: ${FLAVOURS.join(", ")}; or --driver NAME)`,
  );
}

const MATCH_KINDS = ["address", "id", "subsystem", "class", "vfs-of"];

function selectorFor(kind: string, device: RuleSubject): Selector {
  const ids = device.ids;
  const text: Record<string, string | undefined> = {
    address: `address ${device.address}`,
    id: `id ${hex(ids.vendor, 4)}:${hex(ids.device, 4)}`,
    subsystem: `id ${hex(ids.vendor, 4)}:${hex(ids.device, 4)}:${hex(ids.subvendor, 4)}:${hex(ids.subdevice, 4)}`,
    class: `class ${hex(ids.classCode, 6)}`,
    "vfs-of": device.physfn ? `vfs-of ${device.physfn}` : undefined,
  };
  const selectorText = text[kind];
  if (selectorText === undefined) throw new UsageError(`--match vfs-of: ${device.address} is not a VF`);
  return parseSelector(selectorText) as Selector;
}

/** The address rules unset (and `set … default`) removes: `--json`'s `rules`, read before. */
function addressRuleRemovals(dir: string, device: RuleSubject): RuleChange[] {
  return loadRules(dir)
    .rules.filter((r) => r.selector.kind === "address" && selectorMatches(r.selector, device))
    .map((r) => ({ name: r.name, path: join(dir, `${r.name}.rule`), change: "remove" }));
}

/**
 * unset: drop the device's address rule; say which selector rules still name it. False when a
 * damaged rule file could not be read: it may name the device still (reported, exit 2).
 */
function forgetDevice(io: Io, dir: string, device: RuleSubject, json: boolean): boolean {
  const address = device.address as PciAddress;
  const { rules, errors } = loadRules(dir);
  for (const error of errors)
    io.err(
      `flavourctl: ${error.message} (a damaged rule, not read: it may still name ${address}; fix or remove it)\n`,
    );
  for (const rule of rules.filter(
    (r) => r.selector.kind === "address" && selectorMatches(r.selector, device),
  )) {
    removeRule(dir, rule.name);
    if (!json) io.out(`removed rule ${rule.file}\n`);
  }
  const still = ruleFor(
    rules.filter((r) => r.selector.kind !== "address"),
    device,
  );
  if (still)
    io.err(
      `flavourctl: note: rule ${still.file} still names ${address}; remove it with 'flavourctl rules --remove ${still.name}'\n`,
    );
  return errors.length === 0;
}

/** Whether --force would change the answer: not when a failed check is one it does not bypass. */
function forceHint(plans: readonly Plan[]): string {
  const hard = plans.some((plan) => plan.checks.some((check) => !check.ok && check.hard));
  return hard ? "nothing changed; --force does not override this" : "nothing changed; --force overrides";
}
