// flavourctl aliases --source TREE: the pci alias lines a kernel tree's id tables produce.
import { UsageError } from "../../errors.ts";
import { parseCommandLine, refuseExtraOperands } from "../args.ts";
import type { Command } from "../main.ts";
import { progressFor } from "./overlaps.ts";

const help = `usage: flavourctl aliases --source TREE [--module NAME] [--config FILE] [--json]

Reads the C sources of a kernel tree and prints the modules.alias lines the build would write
for pci id tables: every struct pci_device_id table named by MODULE_DEVICE_TABLE(pci, ...),
its entries expanded (PCI_DEVICE, PCI_DEVICE_SUB, PCI_VDEVICE, PCI_DEVICE_DATA,
PCI_DRIVER_OVERRIDE_DEVICE_VFIO, ... designated or positional) with constants from
include/linux/pci_ids.h, the headers the file includes and its own #defines, turned into
aliases as modpost's do_pci_entry does, each file mapped to its module through the Kbuild
Makefiles. Entries that cannot be resolved are reported on stderr as FILE:LINE (exit 0; the
lines printed are the ones that could be read). A progress bar is drawn on stderr when it is
a terminal.

  --source TREE   the kernel source tree (holding include/linux/pci_ids.h)
  --module NAME   only this module's aliases
  --config FILE   the kernel .config (plain or .gz) deciding #if CONFIG_...;
                  default TREE/.config when present, else every CONFIG_ option is unset
  --json          {"lines": [{"pattern", "module", "origin"}], "problems": [...]}
`;

export const command: Command = {
  summary: "the pci aliases a kernel source tree's id tables produce",
  async run(args, io) {
    const { values, positionals } = parseCommandLine(args, {
      source: { type: "string" },
      module: { type: "string" },
      config: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      io.out(help);
      return 0;
    }
    refuseExtraOperands(positionals);
    if (values.source === undefined) throw new UsageError("--source TREE is required");
    const { sourceAliases } = await import("../../analysis/source-aliases.ts");
    const result = await sourceAliases(values.source, {
      ...(values.module !== undefined ? { module: values.module } : {}),
      ...(values.config !== undefined ? { config: values.config } : {}),
      progress: progressFor(io),
    });
    if (values.json) {
      io.out(`${JSON.stringify({ lines: result.lines, problems: result.problems }, null, 2)}\n`);
    } else {
      for (const problem of result.problems) io.err(`flavourctl aliases: unresolved: ${problem}\n`);
      io.out(result.lines.map((l) => `alias ${l.pattern} ${l.module}\n`).join(""));
    }
    return 0;
  },
};
