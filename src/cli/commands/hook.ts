// flavourctl hook: what the udev rule runs on a PCI add event (see flavour/hook.ts).
import { basename } from "node:path";
import { ExitCode, UsageError } from "../../errors.ts";
import { describeHookOutcome, runHook } from "../../flavour/hook.ts";
import { loadRules } from "../../flavour/rules-store.ts";
import { isAddress } from "../../pci/address.ts";
import { writeToDevice } from "../../safe-write.ts";
import { parseCommandLine, refuseExtraOperands } from "../args.ts";
import type { Command } from "../command.ts";
import { commandMachineOptions, MACHINE_HELP, openCommandMachine } from "../host.ts";
import { exitCodeOf, worstExitCode } from "../report.ts";

const help = `usage: flavourctl hook [--config DIR] [--run-dir DIR] [--sysfs DIR | --machine M] [--modules DIR]

Run by udev for each PCI add event (see 'flavourctl udev-rule'); reads ACTION, SUBSYSTEM and
PCI_SLOT_NAME (or DEVPATH) from the environment. Gives the device its saved flavour; the first
run of a boot gives every present device its flavour. Logs what it did to /dev/kmsg.
  --run-dir DIR   where the per-boot marker lives (default /run/flavourctl)
${MACHINE_HELP}`;

export const command: Command = {
  summary: "udev hook: give an added PCI device its saved flavour",
  async run(args, io) {
    const { values, positionals } = parseCommandLine(args, {
      ...commandMachineOptions,
      "run-dir": { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      io.out(help);
      return 0;
    }
    refuseExtraOperands(positionals);
    const env = io.env;
    if (env.ACTION !== "add" || (env.SUBSYSTEM !== undefined && env.SUBSYSTEM !== "pci")) return ExitCode.ok;
    const address = env.PCI_SLOT_NAME ?? (env.DEVPATH ? basename(env.DEVPATH) : "");
    if (!isAddress(address))
      throw new UsageError(`no PCI device in the environment (PCI_SLOT_NAME='${address}')`);
    // A simulated machine's state is read when it opens: under its lock. On a sysfs the hook
    // takes the lock only when a rule may apply (runHook), before it reads the devices.
    const simulated = typeof values.machine === "string" || io.machine !== undefined;
    const opened = await openCommandMachine(values, io, { lockMs: simulated ? 30_000 : undefined });
    const { modules, host } = opened;
    try {
      let errors: Error[] = [];
      const readRules = () => {
        const loaded = loadRules(opened.rulesDir);
        errors = loaded.errors;
        return loaded.rules;
      };
      const run = runHook({ modules, host }, readRules, address, opened.runDir);
      for (const error of errors) io.err(`flavourctl hook: ${error.message} (this rule is not applied)\n`);
      const codes: number[] = errors.length > 0 ? [ExitCode.badInput] : [];
      for (const outcome of run.outcomes) {
        const give = outcome.give;
        const line = `flavourctl: ${describeHookOutcome(outcome, run.bootPass)}`;
        io.err(`${line}\n`);
        if (typeof values.sysfs !== "string" && !opened.simulated) logToKernel(line);
        codes.push(outcome.error ? ExitCode.failedRolledBack : give ? exitCodeOf(give) : 0);
      }
      return worstExitCode(codes);
    } finally {
      opened.release();
    }
  },
};

/** One line in the kernel log, so the driver history of a boot shows what the hook did. */
function logToKernel(line: string): void {
  try {
    writeToDevice("/dev/kmsg", `<6>${line}\n`);
  } catch {
    // not root, or no /dev/kmsg: stderr has it
  }
}
