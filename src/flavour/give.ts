// Giving one device a flavour, the path every command shares (set, unset, apply, the udev
// hook, vfs): choose the target, check, plan, and — unless it is a dry run or refused — apply.
import type { HostControl } from "../host/control.ts";
import type { ModulesDir } from "../modules/modules-dir.ts";
import type { PciAddress } from "../pci/address.ts";
import { type ApplyResult, applyPlan } from "./apply.ts";
import { type Plan, planFlavour } from "./plan.ts";
import { safetyChecks } from "./safety.ts";
import { chooseTarget, type TargetRequest } from "./target.ts";

export interface Machine {
  modules: ModulesDir;
  host: HostControl;
}

export interface GiveOptions {
  force?: boolean;
  dryRun?: boolean;
}

export interface GiveResult {
  plan: Plan;
  /** Failed checks that stopped it (empty when it went ahead). */
  refused: string[];
  /** Absent for dry runs and refusals. */
  result?: ApplyResult;
}

export function giveFlavour(
  machine: Machine,
  address: PciAddress,
  request: TargetRequest,
  options: GiveOptions = {},
): GiveResult {
  const device = machine.host.device(address);
  const target = chooseTarget(machine.modules, machine.host, device, request);
  const checks = safetyChecks(machine.host, device, target);
  const plan = planFlavour(device, target, checks);
  const refused = options.force || plan.done ? [] : checks.filter((c) => !c.ok).map((c) => c.message);
  if (refused.length > 0 || options.dryRun) return { plan, refused };
  return { plan, refused, result: applyPlan(machine.host, plan) };
}
