// flavourctl snapshot DEST: copy the PCI part of a sysfs tree into DEST, for --sysfs, lspci and
// bug reports.
import { ExitCode } from "../../errors.ts";
import { snapshot } from "../../host/snapshot.ts";
import { parseCommandLine } from "../args.ts";
import type { Command } from "../command.ts";
import { warner } from "./list.ts";

const help = `usage: flavourctl snapshot DEST [--sysfs DIR] [--json]

Copies the PCI part of /sys (or of the tree at DIR) into DEST, which must not exist or be an
empty directory: every device's attribute files, its driver, iommu_group, physfn and virtfnN
links, bus/pci/devices, bus/pci/drivers, kernel/iommu_groups and the module/*/drivers links
that name each driver's module. Links are relative, so DEST can be packed and moved. Then
  flavourctl list --sysfs DEST
  lspci -A linux-sysfs -O sysfs.path=DEST/bus/pci -k
both read it. Only reads the source. Config space beyond 64 bytes needs root to read, as with
lspci; BARs, ROM and vpd are not copied.

  --sysfs DIR   copy the tree at DIR instead of /sys
  --json        print the summary as {"devices", "drivers", "groups", "modules"}
`;

export const command: Command = {
  summary: "copy the PCI part of sysfs into DEST",
  async run(args, io) {
    const { values, positionals } = parseCommandLine(args, {
      sysfs: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      io.out(help);
      return ExitCode.ok;
    }
    const [dest, extra] = positionals;
    if (dest === undefined || extra !== undefined) {
      io.err("flavourctl snapshot: expected one DEST directory (see --help)\n");
      return ExitCode.usage;
    }
    const source = values.sysfs ?? "/sys";
    const summary = snapshot(source, dest, warner(io, "snapshot"));
    if (values.json) io.out(`${JSON.stringify(summary)}\n`);
    else {
      io.out(
        `${dest}: ${summary.devices} devices, ${summary.drivers} drivers, ${summary.groups} IOMMU groups, ${summary.modules} modules from ${source}\n`,
      );
    }
    return ExitCode.ok;
  },
};
