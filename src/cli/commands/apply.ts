// flavourctl apply: every present device to its saved flavour. Idempotent.
import { ExitCode } from "../../errors.ts";
import { applyRules } from "../../flavour/apply-rules.ts";
import { loadRules } from "../../flavour/rules-store.ts";
import { parseCommandLine, refuseExtraOperands } from "../args.ts";
import type { Command } from "../command.ts";
import {
  commandMachineOptions,
  LOCK_HELP,
  lockOption,
  lockWaitMs,
  MACHINE_HELP,
  openCommandMachine,
} from "../host.ts";
import { exitCodeOf, printGive, worstExitCode } from "../report.ts";

const help = `usage: flavourctl apply [--dry-run] [--force] [--json] [--config DIR] [--sysfs DIR | --machine M] [--modules DIR]

Brings every present device that a saved rule names to that rule's flavour. A device that
already has it is left alone, so a second run reports nothing to do. A damaged rule file is
reported (exit 2) and the other rules are still applied: one broken file must not leave every
other device on its host driver after a reboot.
${MACHINE_HELP}${LOCK_HELP}`;

export const command: Command = {
  summary: "bring every present device to its saved flavour",
  async run(args, io) {
    const { values, positionals } = parseCommandLine(args, {
      ...commandMachineOptions,
      ...lockOption,
      "dry-run": { type: "boolean" },
      force: { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      io.out(help);
      return 0;
    }
    refuseExtraOperands(positionals);
    const wait = lockWaitMs(values);
    const { modules, host, rulesDir, release } = await openCommandMachine(values, io, {
      lockMs: values["dry-run"] ? undefined : wait,
    });
    try {
      const { rules, errors } = loadRules(rulesDir);
      for (const error of errors) io.err(`flavourctl apply: ${error.message} (this rule is not applied)\n`);
      const outcomes = applyRules({ modules, host }, rules, host.addresses(), {
        dryRun: values["dry-run"],
        force: values.force,
      });
      const codes: number[] = errors.length > 0 ? [ExitCode.badInput] : [];
      const changed = outcomes.filter((o) => o.error || (o.give && !o.give.plan.done));
      if (values.json) io.out(`${JSON.stringify(outcomes, null, 2)}\n`);
      else if (changed.length === 0) io.out("nothing to do: every device named by a rule has its flavour\n");
      for (const outcome of outcomes) {
        if (outcome.error) {
          io.err(`flavourctl apply: ${outcome.address}: ${outcome.error}\n`);
          codes.push(ExitCode.failedRolledBack);
          continue;
        }
        const give = outcome.give;
        if (!give) continue;
        if (!values.json && !give.plan.done) {
          io.out(`rule ${outcome.rule}:\n`);
          printGive(io, give);
        }
        if (give.refused.length > 0)
          io.err(`flavourctl apply: ${outcome.address}: refused: ${give.refused.join("; ")}\n`);
        codes.push(exitCodeOf(give));
      }
      return worstExitCode(codes);
    } finally {
      release();
    }
  },
};
