// flavourctl vfs PF N: create N VFs that bind straight to their flavour, or remove them (N=0).
import { ExitCode, UsageError } from "../../errors.ts";
import { loadRules } from "../../flavour/rules-store.ts";
import { createVfs } from "../../flavour/vfs.ts";
import { parseAddress, printable } from "../../pci/address.ts";
import { parseCommandLine, refuseExtraOperands } from "../args.ts";
import type { Command } from "../command.ts";
import {
  commandMachineOptions,
  driverOption,
  LOCK_HELP,
  lockOption,
  lockWaitMs,
  MACHINE_HELP,
  openCommandMachine,
} from "../host.ts";
import { exitCodeOf, printGive, worstExitCode } from "../report.ts";

const help = `usage: flavourctl vfs PF N [--flavour vfio | --driver NAME] [--force] [--json] [--config DIR] [--sysfs DIR | --machine M]

Creates N SR-IOV VFs on the PF with sriov_drivers_autoprobe off, gives each its flavour (from
--flavour/--driver, else from the saved rules), then puts autoprobe back; only then can the VFs
with no flavour probe: they get the kernel's own driver, verified as 'unset' does (exit 1 when
no driver takes one). 'vfs PF 0' removes the VFs, refusing while a process holds one of their
/dev/vfio groups unless --force.
${MACHINE_HELP}${LOCK_HELP}`;

export const command: Command = {
  summary: "create SR-IOV VFs that bind straight to their flavour",
  async run(args, io) {
    const { values, positionals } = parseCommandLine(args, {
      flavour: { type: "string", check: (f: string) => (f === "vfio" ? undefined : "vfio") },
      ...driverOption,
      ...commandMachineOptions,
      ...lockOption,
      force: { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      io.out(help);
      return 0;
    }
    const [pfText, countText] = positionals;
    if (pfText === undefined || countText === undefined) throw new UsageError("usage: flavourctl vfs PF N");
    refuseExtraOperands(positionals, 2);
    if (!/^\d{1,4}$/.test(countText))
      throw new UsageError(`N must be a number of VFs, not '${printable(countText)}'`);
    const driver = typeof values.driver === "string" ? values.driver : undefined;
    const request =
      values.flavour === "vfio"
        ? { flavour: "vfio" as const, driver }
        : driver
          ? { flavour: "driver" as const, driver }
          : undefined;
    const { modules, host, rulesDir, release } = await openCommandMachine(values, io, {
      lockMs: lockWaitMs(values),
    });
    try {
      const { rules, errors } = loadRules(rulesDir);
      for (const error of errors) io.err(`flavourctl vfs: ${error.message} (this rule is not applied)\n`);
      const result = createVfs({ modules, host }, parseAddress(pfText), Number(countText), request, rules, {
        force: values.force,
      });
      if (values.json) io.out(`${JSON.stringify(result, null, 2)}\n`);
      else {
        for (const line of result.log) io.out(`${line}\n`);
        for (const outcome of result.outcomes) if (outcome.give) printGive(io, outcome.give);
      }
      const codes: number[] = result.outcomes.map((o) =>
        o.give ? exitCodeOf(o.give) : ExitCode.failedRolledBack,
      );
      if (errors.length > 0) codes.push(ExitCode.badInput);
      return worstExitCode(codes);
    } finally {
      release();
    }
  },
};
