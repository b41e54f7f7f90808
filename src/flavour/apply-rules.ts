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
import { type GiveResult, giveFlavour, type Machine } from "./give.ts";
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
  try {
    for (const { address, rule, error } of named) {
      if (!rule) {
        outcomes.push({ address, rule: "?", error });
        continue;
      }
      try {
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

/** A device held above gets its starting override back (its own plan holds it again). */
function release(machine: Machine, held: Map<PciAddress, string | null>, address: PciAddress): void {
  if (!held.has(address)) return;
  const override = held.get(address) ?? null;
  held.delete(address);
  if (machine.host.device(address).driverOverride === HOLD_OVERRIDE)
    machine.host.writeOverride(address, override);
}
