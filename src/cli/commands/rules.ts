// flavourctl rules: the saved rules and the devices each one decides now.
import { ExitCode, UsageError } from "../../errors.ts";
import { subjectOf } from "../../flavour/apply-rules.ts";
import { formatSelector, ruleFor } from "../../flavour/rules.ts";
import { DEFAULT_RULES_DIR, loadRules, removeRule } from "../../flavour/rules-store.ts";
import { printable } from "../../pci/address.ts";
import { parseCommandLine, refuseExtraOperands } from "../args.ts";
import type { Command } from "../command.ts";
import { commandMachineOptions, MACHINE_HELP, openCommandMachine } from "../host.ts";

const help = `usage: flavourctl rules [--config DIR] [--sysfs DIR | --machine M] [--json]
       flavourctl rules --remove NAME [--config DIR]

Lists the saved rules (one NAME.rule file each in DIR, default ${DEFAULT_RULES_DIR}) and the
present devices each rule decides (when several rules name a device, the most specific kind
wins: address, vfs-of, id, pattern, class; then the first name). Damaged rule files are listed
with their error, and make the exit code 2.
${MACHINE_HELP}`;

export const command: Command = {
  summary: "list saved rules and the devices each decides",
  async run(args, io) {
    const { values, positionals } = parseCommandLine(args, {
      ...commandMachineOptions,
      remove: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      io.out(help);
      return 0;
    }
    refuseExtraOperands(positionals);
    if (typeof values.remove === "string") {
      // a change of the host's rules: under the host lock, like set and unset
      const opened = await openCommandMachine(values, io, { lockMs: 30_000 });
      try {
        if (!removeRule(opened.rulesDir, values.remove))
          throw new UsageError(`no rule named '${printable(values.remove)}' in ${opened.rulesDir}`);
      } finally {
        opened.release();
      }
      io.out(`removed ${values.remove}\n`);
      return ExitCode.ok;
    }
    const opened = await openCommandMachine(values, io);
    const dir = opened.rulesDir;
    const { rules, errors } = loadRules(dir);
    const machine = { modules: opened.modules, host: opened.host };
    const decided = new Map<string, string[]>(rules.map((r) => [r.name, []]));
    for (const address of machine.host.addresses()) {
      const rule = ruleFor(rules, subjectOf(machine, address));
      if (rule) decided.get(rule.name)?.push(address);
    }
    if (values.json) {
      const list = rules.map((r) => ({
        name: r.name,
        file: r.file,
        match: formatSelector(r.selector),
        flavour: r.flavour,
        driver: r.driver ?? null,
        group: r.group === true,
        devices: decided.get(r.name),
      }));
      io.out(`${JSON.stringify({ rules: list, errors: errors.map((e) => e.message) }, null, 2)}\n`);
    } else {
      if (rules.length === 0 && errors.length === 0) io.out(`no rules in ${dir}\n`);
      for (const r of rules) {
        const devices = decided.get(r.name) ?? [];
        io.out(
          `${r.name}\n  match   ${formatSelector(r.selector)}\n  flavour ${r.flavour}${r.driver ? ` (driver ${r.driver})` : ""}${r.group ? ", with its IOMMU group" : ""}\n` +
            `  devices ${devices.length > 0 ? devices.join(" ") : "(none present)"}\n`,
        );
      }
    }
    for (const error of errors) io.err(`flavourctl rules: ${error.message}\n`);
    return errors.length > 0 ? ExitCode.badInput : ExitCode.ok;
  },
};
