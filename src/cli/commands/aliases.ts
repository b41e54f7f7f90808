// flavourctl aliases --source TREE: the pci alias lines a kernel tree's id tables produce.
import { UsageError } from "../../errors.ts";
import { parseCommandLine, refuseExtraOperands } from "../args.ts";
import type { Command } from "../command.ts";
import { chunked, writeJson } from "../streamed.ts";
import { progressFor } from "./overlaps.ts";

const help = `usage: flavourctl aliases --source TREE [--module NAME] [--under DIR] [--config FILE] [--json]

Reads the C sources of a kernel tree and prints the modules.alias lines the build would write
for pci id tables: every struct pci_device_id table named by MODULE_DEVICE_TABLE(pci, ...),
its entries expanded (PCI_DEVICE, PCI_DEVICE_SUB, PCI_VDEVICE, PCI_DEVICE_DATA,
PCI_DRIVER_OVERRIDE_DEVICE_VFIO, ... designated or positional) with constants from
include/linux/pci_ids.h, the headers the file includes and its own #defines, turned into
aliases as modpost's do_pci_entry does, each file mapped to its module through the Kbuild
Makefiles. With a config, only what Kbuild builds from it counts: a module whose object is
not built is left out, and a built-in one (=y) gets no modules.alias line (one note on stderr
says how many of each). Entries that cannot be resolved are reported on stderr as FILE:LINE
(the lines printed are the ones that could be read). A progress bar is drawn on stderr when
it is a terminal.

  --source TREE   the kernel source tree (holding include/linux/pci_ids.h)
  --module NAME   only this module's aliases
  --under DIR     only the C files under this directory of the tree, e.g. drivers/vfio/pci
                  (every vfio-pci variant driver is there: seconds instead of a minute)
  --config FILE   the kernel .config (plain or .gz) deciding which modules are built and
                  #if CONFIG_...; default TREE/.config when present, else every file with a
                  table counts as a module and every CONFIG_ option is unset (a note says so)
  --json          {"lines": [{"pattern", "module", "origin"}], "builtIn": [...],
                  "problems": [...], "notes": [...]}

Exit status: 0 (also with unresolved entries), 2 when the tree or the config cannot be read
or no module NAME has a pci table, 64 for a wrong command line.
`;

export const command: Command = {
  summary: "the pci aliases a kernel source tree's id tables produce",
  async run(args, io) {
    const { values, positionals } = parseCommandLine(args, {
      source: { type: "string" },
      module: { type: "string" },
      under: { type: "string" },
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
      ...(values.under !== undefined ? { under: values.under } : {}),
      progress: progressFor(io),
    });
    // built-in drivers' aliases are no modules.alias lines (overlaps --source keeps them)
    const modules = result.lines.filter((l) => !l.builtIn);
    // written as it is made: a tree's tables can expand to hundreds of thousands of lines
    const output = chunked((text) => io.out(text));
    if (values.json) {
      const builtIn = result.lines.filter((l) => l.builtIn);
      const { problems, notes } = result;
      writeJson({ lines: modules, builtIn, problems, notes }, output.write);
      output.write("\n");
    } else {
      for (const note of result.notes) io.err(`flavourctl aliases: note: ${note}\n`);
      for (const problem of result.problems) io.err(`flavourctl aliases: unresolved: ${problem}\n`);
      for (const l of modules) output.write(`alias ${l.pattern} ${l.module}\n`);
    }
    output.end();
    return 0;
  },
};
