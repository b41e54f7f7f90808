// flavourctl set ADDRESS FLAVOUR / unset ADDRESS: plan, check, apply, report.
import { ExitCode, FlavourError, UsageError } from "../../errors.ts";
import { type ApplyResult, applyPlan } from "../../flavour/apply.ts";
import { type Plan, planFlavour, type Step } from "../../flavour/plan.ts";
import { safetyChecks } from "../../flavour/safety.ts";
import { chooseTarget, FLAVOURS, type Flavour } from "../../flavour/target.ts";
import { parseAddress, printable } from "../../pci/address.ts";
import { parseCommandLine } from "../args.ts";
import { openHost, openModules } from "../host.ts";
import type { Io } from "../io.ts";
import type { Command } from "../main.ts";

const machineOptions = {
  sysfs: { type: "string" },
  modules: { type: "string" },
  kernel: { type: "string" },
  "dry-run": { type: "boolean" },
  force: { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const setHelp = `usage: flavourctl set ADDRESS FLAVOUR [--driver NAME] [--dry-run] [--force] [--json]
       flavourctl set ADDRESS --driver NAME [...]

Gives the device at ADDRESS (DDDD:BB:DD.F or BB:DD.F) a flavour:
  vfio      the best vfio driver: the vfio-pci variant whose vfio_pci: alias matches with the
            fewest wildcards, else vfio-pci
  default   no override: the kernel's own driver
  --driver NAME  an explicit driver (or module) name, e.g. pci-stub or virtio_vfio_pci; with
            FLAVOUR vfio it must be a vfio driver

  --dry-run       print the plan (checks and steps) and change nothing
  --force         go on when a safety check fails, or the driver's tables do not list the device
  --json          print the plan and the result as JSON
  --sysfs DIR     work on the sysfs tree at DIR instead of /sys
  --modules DIR   the modules directory (default /lib/modules/$(uname -r))
  --kernel VER    use /lib/modules/VER
`;

const unsetHelp = `usage: flavourctl unset ADDRESS [--dry-run] [--force] [--json] [--sysfs DIR] [--modules DIR]

Gives the device back to the kernel's own choice: clears driver_override, unbinds, loads the
modules udev would load for it and reprobes. The same as 'flavourctl set ADDRESS default'.
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
    ...machineOptions,
    ...(unset ? {} : { driver: { type: "string" } }),
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
  const driverName = typeof values.driver === "string" ? values.driver : undefined;
  const flavour = unset ? "default" : toFlavour(flavourText, driverName);

  const modules = openModules(values);
  const host = openHost(values, modules);
  const release = values["dry-run"] ? () => {} : host.lock(5000);
  try {
    const device = host.device(address);
    const target = chooseTarget(modules, host, device, { flavour, driver: driverName });
    const checks = safetyChecks(host, device, target);
    const plan = planFlavour(device, target, checks);
    const failed = checks.filter((c) => !c.ok);
    for (const warning of modules.allWarnings()) io.err(`flavourctl: warning: ${warning}\n`);
    if (failed.length > 0 && !values.force) {
      report(io, plan, undefined, values.json === true);
      throw new FlavourError(
        `refused: ${failed.map((c) => c.message).join("; ")} (nothing changed; --force overrides)`,
        ExitCode.refused,
      );
    }
    if (values["dry-run"]) {
      report(io, plan, undefined, values.json === true);
      return ExitCode.ok;
    }
    const result = applyPlan(host, plan);
    report(io, plan, result, values.json === true);
    if (result.outcome === "rolled-back") {
      io.err(`flavourctl: ${address}: ${result.error}; rolled back\n`);
      return ExitCode.failedRolledBack;
    }
    if (result.outcome === "not-rolled-back") {
      io.err(`flavourctl: ${address}: ${result.error}; COULD NOT ROLL BACK — check the device now\n`);
      return ExitCode.failedNotRolledBack;
    }
    return ExitCode.ok;
  } finally {
    release();
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

function describeStep(step: Step): string {
  switch (step.action) {
    case "load-module":
      return `modprobe ${step.module}`;
    case "find-driver":
      return `read the driver name from /sys/module/${step.module}/drivers`;
    case "write-override":
      return step.driver === null
        ? "clear driver_override (write a newline)"
        : `driver_override = ${step.driver === "target" ? "(that driver)" : step.driver}`;
    case "unbind":
      return `unbind from ${step.driver}`;
    case "probe":
      return "drivers_probe";
    case "verify":
      return "verify the binding (driver link, vfio-dev/, /dev/vfio/GROUP)";
  }
}

function report(io: Io, plan: Plan, result: ApplyResult | undefined, json: boolean): void {
  if (json) {
    io.out(`${JSON.stringify({ plan, result: result ?? null }, null, 2)}\n`);
    return;
  }
  const target = plan.target;
  const name = target.driver ?? target.module ?? (target.flavour === "default" ? "kernel's choice" : "?");
  io.out(`${plan.address}: ${target.flavour} → ${name}\n  why    ${target.reason}\n`);
  io.out(
    `  from   ${plan.from.driver ?? "no driver"}${plan.from.driverOverride ? ` (override ${plan.from.driverOverride})` : ""}\n`,
  );
  for (const check of plan.checks) io.out(`  check  ${check.ok ? "ok  " : "FAIL"} ${check.message}\n`);
  if (plan.done) io.out("  nothing to do: the device already has this flavour\n");
  for (const step of result ? [] : plan.steps) io.out(`  step   ${describeStep(step)}\n`);
  for (const line of result?.log ?? []) io.out(`  did    ${line}\n`);
  if (result) io.out(`${plan.address}: ${result.outcome}, now on ${result.final.driver ?? "no driver"}\n`);
}
