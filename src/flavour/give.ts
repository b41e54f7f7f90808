// Giving one device a flavour, the path every command shares (set, unset, apply, the udev
// hook, vfs): choose the target, check, plan, and — unless it is a dry run or refused — apply.
import type { HostControl } from "../host/control.ts";
import type { ModulesDir } from "../modules/modules-dir.ts";
import type { PciAddress } from "../pci/address.ts";
import { type ApplyResult, applyPlan, rollback } from "./apply.ts";
import { type Plan, planFlavour } from "./plan.ts";
import { safetyChecks, UNFORCEABLE } from "./safety.ts";
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
  const refused = refusals(checks, plan.done, options.force === true);
  if (refused.length > 0 || options.dryRun) return { plan, refused };
  return { plan, refused, result: applyPlan(machine.host, plan) };
}

export interface GroupResult {
  members: GiveResult[];
  /** Set when a member failed and the members done before it were put back. */
  failedAt?: PciAddress;
  restored: boolean;
}

/**
 * --group: every non-bridge member of the device's IOMMU group gets the flavour, so the group
 * becomes viable as a whole. Members are moved one by one; when one fails, the ones already
 * moved are put back where they started.
 */
export function giveGroup(
  machine: Machine,
  address: PciAddress,
  request: TargetRequest,
  options: GiveOptions = {},
): GroupResult {
  const host = machine.host;
  const group = host.device(address).iommuGroup;
  const members =
    group === null
      ? [address]
      : host
          .groupMembers(group)
          .filter((m) => m.headerType === 0 || m.headerType === null)
          .map((m) => m.address);
  const starts = members.map((member) => host.device(member));
  const moving = new Set<string>(members);
  // Every member's plan and checks first: a refusal anywhere moves nobody.
  const planned: GiveResult[] = starts.map((device) => {
    const target = chooseTarget(machine.modules, host, device, request);
    // The other members move too: the group check is about those that stay (its bridges).
    const checks = safetyChecks(host, device, target, moving);
    const plan = planFlavour(device, target, checks);
    const refused = refusals(checks, plan.done, options.force === true);
    return { plan, refused };
  });
  if (options.dryRun || planned.some((p) => p.refused.length > 0))
    return { members: planned, restored: true };
  const results: GiveResult[] = [];
  for (const [i, member] of planned.entries()) {
    const result = applyPlan(host, member.plan);
    results.push({ ...member, result });
    if (result.outcome !== "done" && result.outcome !== "nothing-to-do") {
      const log: string[] = [];
      const restored = starts
        .slice(0, i)
        .map((start) => rollback(host, start, log))
        .every(Boolean);
      result.log.push(...log.map((line) => `group ${line}`));
      return {
        members: results,
        failedAt: member.plan.address,
        restored: restored && result.outcome === "rolled-back",
      };
    }
  }
  return { members: results, restored: true };
}

/**
 * The failed checks that refuse the plan. With nothing to do the device's state is not at
 * stake, but a target that is itself wrong (`vfio --driver pci-stub`) still refuses: its rule
 * would be refused at every later apply and boot. --force leaves only the UNFORCEABLE ones.
 */
function refusals(
  checks: readonly { name: string; ok: boolean; message: string }[],
  done: boolean,
  force: boolean,
): string[] {
  return checks
    .filter((c) => !c.ok && (force ? UNFORCEABLE.has(c.name) : !done || c.name === "target"))
    .map((c) => c.message);
}
