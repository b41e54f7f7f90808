// Giving one device a flavour, the path every command shares (set, unset, apply, the udev
// hook, vfs): choose the target, check, plan, and — unless it is a dry run or refused — apply.
import type { DeviceState, HostControl } from "../host/control.ts";
import type { ModulesDir } from "../modules/modules-dir.ts";
import type { PciAddress } from "../pci/address.ts";
import { type ApplyResult, applyPlan, rollback } from "./apply.ts";
import { type Plan, planFlavour } from "./plan.ts";
import { type Check, safetyChecks } from "./safety.ts";
import { chooseTarget, type TargetRequest } from "./target.ts";

export interface Machine {
  modules: ModulesDir;
  host: HostControl;
}

export interface GiveOptions {
  force?: boolean;
  dryRun?: boolean;
  /** Runs once the checks let the plan go ahead, before its first change (set saves its rule). */
  beforeChange?: () => void;
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
  const plan = planFlavour(device, target, checks, vfsOf(machine.host, device));
  const refused = refusals(checks, plan.done, options.force === true);
  if (refused.length > 0 || options.dryRun) return { plan, refused };
  options.beforeChange?.();
  return { plan, refused, result: applyPlan(machine.host, plan) };
}

export interface GroupResult {
  members: GiveResult[];
  /** Set when a member failed and the members done before it were put back. */
  failedAt?: PciAddress;
  restored: boolean;
}

/**
 * --group, and a group rule: every non-bridge member of the device's IOMMU group gets the
 * flavour (or each its own, when `request` is a function of the member), so the group
 * becomes viable as a whole. Members are moved one by one; when one fails, the ones already
 * moved are put back where they started.
 */
export function giveGroup(
  machine: Machine,
  address: PciAddress,
  request: TargetRequest | ((member: PciAddress) => TargetRequest),
  options: GiveOptions = {},
): GroupResult {
  const host = machine.host;
  const members = groupMovers(host, address);
  const starts = members.map((member) => host.device(member));
  const moving = new Set<string>(members);
  // Every member's plan and checks first: a refusal anywhere moves nobody.
  const planned: GiveResult[] = starts.map((device) => {
    const target = chooseTarget(
      machine.modules,
      host,
      device,
      typeof request === "function" ? request(device.address) : request,
    );
    // The other members move too: the group check is about those that stay (its bridges).
    const checks = safetyChecks(host, device, target, moving);
    const plan = planFlavour(device, target, checks, vfsOf(host, device));
    const refused = refusals(checks, plan.done, options.force === true);
    return { plan, refused };
  });
  if (options.dryRun || planned.some((p) => p.refused.length > 0))
    return { members: planned, restored: true };
  options.beforeChange?.();
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
        // the members after it were not tried: their plans, without a result
        members: [...results, ...planned.slice(i + 1)],
        failedAt: member.plan.address,
        restored: restored && result.outcome === "rolled-back",
      };
    }
  }
  return { members: results, restored: true };
}

function vfsOf(host: HostControl, device: DeviceState): PciAddress[] {
  return device.sriovNumVfs > 0 ? host.virtfns(device.address) : [];
}

/** The devices --group moves with ADDRESS: the non-bridge members of its IOMMU group. */
export function groupMovers(host: HostControl, address: PciAddress): PciAddress[] {
  const group = host.device(address).iommuGroup;
  if (group === null) return [address];
  return host
    .groupMembers(group)
    .filter((m) => m.headerType === 0 || m.headerType === null)
    .map((m) => m.address);
}

/**
 * The failed checks that refuse the plan; --force bypasses all but the hard ones. With nothing
 * to do the device's state is not at stake, but a target that is itself wrong (`vfio --driver
 * pci-stub`) still refuses: its rule would be refused at every later apply and boot.
 */
function refusals(checks: readonly Check[], done: boolean, force: boolean): string[] {
  return checks
    .filter((c) => !c.ok && (!force || c.hard) && (!done || c.name === "target"))
    .map((c) => c.message);
}
