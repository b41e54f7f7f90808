// Bringing present devices to their saved flavours (flavourctl apply, and the udev hook's
// first pass at boot). Idempotent: a device that already has its flavour is left alone.
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
  const outcomes: RuleOutcome[] = [];
  for (const address of addresses) {
    let rule: Rule | undefined;
    try {
      rule = ruleFor(rules, subjectOf(machine, address));
      if (!rule) continue;
      outcomes.push({
        address,
        rule: rule.name,
        give: giveFlavour(machine, address, requestOf(rule), options),
      });
    } catch (error) {
      outcomes.push({
        address,
        rule: rule?.name ?? "?",
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return outcomes;
}
