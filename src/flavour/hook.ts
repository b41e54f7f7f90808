// The udev hook: runs for every PCI add event (RUN from 60-flavourctl.rules, so before the
// kmod builtin of 80-drivers.rules loads the device's host driver). It must be cheap when no
// rule names the device: it reads the rules directory and, only if a rule matches, anything
// else.
//
// At boot, udev handles the coldplug add events of many devices at once, and the first host
// driver module loaded binds every unbound device it matches. So the first hook of a boot
// gives every present device its saved flavour (under the host lock) before any RUN list can
// go on to load a host driver; it leaves a marker in the run directory (a tmpfs, gone at the
// next boot), and later hooks handle only their own device.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomically } from "../atomic-write.ts";
import type { PciAddress } from "../pci/address.ts";
import { makeDirectory } from "../safe-write.ts";
import { applyRules, type RuleOutcome, subjectOf } from "./apply-rules.ts";
import type { Machine } from "./give.ts";
import type { Rule } from "./rules.ts";
import { ruleFor } from "./rules.ts";

export interface HookRun {
  /** The devices the hook gave a flavour to (or tried to). */
  outcomes: RuleOutcome[];
  /** True when this run made the boot pass over every device. */
  bootPass: boolean;
}

/**
 * `readRules` is called twice when a rule may apply: once before the lock (the cheap test),
 * and again under it, since a `set` holding the lock meanwhile may have saved another rule.
 */
export function runHook(
  machine: Machine,
  readRules: () => readonly Rule[],
  address: PciAddress,
  runDir: string,
): HookRun {
  const seen = readRules();
  if (seen.length === 0) return { outcomes: [], bootPass: false };
  const marker = join(runDir, "boot-pass-done");
  if (existsSync(marker) && !ruleFor(seen, subjectOf(machine, address)))
    return { outcomes: [], bootPass: false };
  const release = machine.host.lock(30_000);
  try {
    const rules = readRules();
    if (!existsSync(marker)) {
      // the run directory first: one that cannot be made refuses before any device moves
      makeDirectory(runDir);
      const outcomes = applyRules(machine, rules, machine.host.addresses());
      writeFileAtomically(marker, `${new Date().toISOString()}\n`, { mode: 0o644 });
      return { outcomes, bootPass: true };
    }
    return { outcomes: applyRules(machine, rules, [address]), bootPass: false };
  } finally {
    release();
  }
}

/**
 * One line for what the hook did to one device, the same in the kernel log (a real host) and
 * in a simulated machine's trace. Plain ASCII: dmesg escapes other bytes outside a UTF-8 locale.
 */
export function describeHookOutcome(outcome: RuleOutcome, bootPass: boolean): string {
  const give = outcome.give;
  const what = outcome.error
    ? `error: ${outcome.error}`
    : give?.refused.length
      ? `refused: ${give.refused.join("; ")}`
      : give?.plan.done
        ? `already ${give.plan.from.driver}`
        : `${give?.result?.outcome} -> ${give?.result?.final.driver ?? "no driver"}`;
  return `${outcome.address}: rule ${outcome.rule}: ${what}${bootPass ? " (boot pass)" : ""}`;
}
