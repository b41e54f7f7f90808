// How plans and their results are printed, shared by set, unset, apply, vfs and the hook.

import { ExitCode } from "../errors.ts";
import type { GiveResult } from "../flavour/give.ts";
import type { Step } from "../flavour/plan.ts";
import type { Io } from "./io.ts";
import { oneLine } from "./terminal-safe.ts";

function describeStep(step: Step): string {
  switch (step.action) {
    case "hold":
      return `driver_override = ${step.override} (no driver matches it: nothing binds the device while modules load)`;
    case "load-module":
      return `modprobe ${step.module}`;
    case "find-driver":
      return `read the driver name from /sys/module/${step.module}/drivers`;
    case "write-override":
      return step.driver === null
        ? "clear driver_override (write a newline)"
        : `driver_override = ${step.driver === "target" ? "(that driver)" : step.driver}`;
    case "remove-vfs":
      return `sriov_numvfs = 0: REMOVES the VFs ${step.vfs.join(", ")}`;
    case "unbind":
      return `unbind from ${step.driver}`;
    case "probe":
      return "drivers_probe";
    case "verify":
      return "verify the binding (driver link, vfio-dev/, /dev/vfio/GROUP)";
  }
}

export function printGive(io: Io, give: GiveResult): void {
  // one line each, whatever a driver name or override read from the machine holds
  const say = (text: string) => io.out(`${oneLine(text)}\n`);
  const { plan, result } = give;
  const target = plan.target;
  const name = target.driver
    ? `driver ${target.driver}`
    : target.module
      ? `module ${target.module}`
      : target.flavour === "default"
        ? "the kernel's choice"
        : "?";
  say(`${plan.address}: ${target.flavour} → ${name}`);
  say(`  why    ${target.reason}`);
  const override = plan.from.driverOverride ? ` (override ${plan.from.driverOverride})` : "";
  say(`  from   ${plan.from.driver ?? "no driver"}${override}`);
  for (const check of plan.checks) say(`  check  ${check.ok ? "ok  " : "FAIL"} ${check.message}`);
  if (plan.done) say("  nothing to do: the device already has this flavour");
  for (const step of result ? [] : plan.steps) say(`  step   ${describeStep(step)}`);
  for (const line of result?.log ?? []) say(`  did    ${line}`);
  if (result) say(`${plan.address}: ${result.outcome}, now on ${result.final.driver ?? "no driver"}`);
}

/** The exit code a give result stands for; refusals are reported by the caller. */
export function exitCodeOf(give: GiveResult): number {
  if (give.refused.length > 0) return ExitCode.refused;
  if (give.result?.outcome === "rolled-back") return ExitCode.failedRolledBack;
  if (give.result?.outcome === "not-rolled-back") return ExitCode.failedNotRolledBack;
  return ExitCode.ok;
}

/** The worst of several exit codes: a device that could not be put back outranks everything. */
export function worstExitCode(codes: number[]): number {
  const rank = [ExitCode.failedNotRolledBack, ExitCode.failedRolledBack, ExitCode.refused, ExitCode.badInput];
  for (const code of rank) if (codes.includes(code)) return code;
  return codes.find((c) => c !== 0) ?? ExitCode.ok;
}
