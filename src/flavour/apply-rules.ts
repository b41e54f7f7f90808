// Bringing present devices to their saved flavours (flavourctl apply, and the udev hook's
// first pass at boot). Idempotent: a device that already has its flavour is left alone.
//
// The first device's modprobe may load a host driver's module (a variant's dependency:
// virtio_vfio_pci → virtio_pci), and driver_register binds every unbound device it matches,
// a device whose turn comes later included. So every device whose plan would hold it is held
// before any device is given its flavour; at its turn it gets its starting override back and
// is planned afresh (what the devices before it changed counts), and its plan holds it again.
import { messageOf } from "../errors.ts";
import { HOLD_OVERRIDE } from "../host/control.ts";
import type { PciAddress } from "../pci/address.ts";
import { type GiveResult, giveFlavour, giveGroup, groupMovers, type Machine } from "./give.ts";
import { type Rule, type RuleSubject, ruleFor } from "./rules.ts";

export interface RuleOutcome {
  address: PciAddress;
  rule: string;
  give?: GiveResult;
  /** An unexpected error for this device; the others still run. */
  error?: string;
}

export function subjectOf(machine: Machine, address: PciAddress): RuleSubject {
  const state = machine.host.device(address);
  return { address, ids: state.ids, modalias: state.modalias, physfn: state.physfn };
}

/** The flavour request a rule makes. */
export function requestOf(rule: Rule) {
  return { flavour: rule.flavour, driver: rule.driver };
}

export function applyRules(
  machine: Machine,
  rules: readonly Rule[],
  addresses: readonly PciAddress[],
  options: { dryRun?: boolean; force?: boolean } = {},
): RuleOutcome[] {
  const host = machine.host;
  const named: { address: PciAddress; rule?: Rule; error?: string }[] = [];
  for (const address of addresses) {
    try {
      const rule = ruleFor(rules, subjectOf(machine, address));
      if (rule) named.push({ address, rule });
    } catch (error) {
      named.push({ address, error: messageOf(error) });
    }
  }
  /** The devices held here, with the override each is given back at its turn. */
  const held = new Map<PciAddress, string | null>();
  if (!options.dryRun && named.length > 1) {
    for (const { address, rule } of named) {
      if (!rule) continue;
      try {
        const give = giveFlavour(machine, address, requestOf(rule), { ...options, dryRun: true });
        if (give.refused.length > 0 || give.plan.steps[0]?.action !== "hold") continue;
        host.writeOverride(address, HOLD_OVERRIDE);
        held.set(address, give.plan.from.driverOverride);
      } catch {
        // not held; its own turn plans it again and reports what fails
      }
    }
  }
  const outcomes: RuleOutcome[] = [];
  /** Devices a group rule already moved (or tried to), with their group. */
  const moved = new Set<PciAddress>();
  try {
    for (const { address, rule, error } of named) {
      if (moved.has(address)) continue;
      if (!rule) {
        outcomes.push({ address, rule: "?", error });
        continue;
      }
      try {
        if (rule.group) {
          outcomes.push(...applyGroupRule(machine, rules, rule, address, held, options));
          for (const o of outcomes) moved.add(o.address);
          continue;
        }
        release(machine, held, address);
        outcomes.push({
          address,
          rule: rule.name,
          give: giveFlavour(machine, address, requestOf(rule), options),
        });
      } catch (error) {
        outcomes.push({ address, rule: rule.name, error: messageOf(error) });
      }
    }
  } finally {
    for (const address of [...held.keys()]) release(machine, held, address);
  }
  return outcomes;
}

/**
 * A group rule (saved by `set --group`) moves the present non-bridge members of its device's
 * IOMMU group together, in one pass, as `set --group` did: each member to the flavour of the
 * rule that decides it (the group rule's own when none does), all or none. Moved one at a
 * time, a member whose group is not viable yet is refused, and which member's event (or which
 * device in apply's order) comes first decides whether the group ends on its flavour.
 */
function applyGroupRule(
  machine: Machine,
  rules: readonly Rule[],
  rule: Rule,
  address: PciAddress,
  held: Map<PciAddress, string | null>,
  options: { dryRun?: boolean; force?: boolean },
): RuleOutcome[] {
  const members = groupMovers(machine.host, address);
  const ruleOf = (member: PciAddress) =>
    member === address ? rule : (ruleFor(rules, subjectOf(machine, member)) ?? rule);
  for (const member of members) release(machine, held, member);
  const group = giveGroup(machine, address, (member) => requestOf(ruleOf(member)), options);
  return group.members.map((give) => ({
    address: give.plan.address,
    rule: ruleOf(give.plan.address).name,
    give,
  }));
}

/** A device held above gets its starting override back (its own plan holds it again). */
function release(machine: Machine, held: Map<PciAddress, string | null>, address: PciAddress): void {
  if (!held.has(address)) return;
  const override = held.get(address) ?? null;
  held.delete(address);
  if (machine.host.device(address).driverOverride === HOLD_OVERRIDE)
    machine.host.writeOverride(address, override);
}
