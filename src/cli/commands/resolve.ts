// flavourctl resolve: the modules libkmod would return for each modalias, in its order.
import { release } from "node:os";
import { lookup } from "../../modules/lookup.ts";
import { ModulesDir } from "../../modules/modules-dir.ts";
import { modulesDirFrom, parseCommandLine } from "../args.ts";
import type { Command } from "../main.ts";

const help = `usage: flavourctl resolve [--modules DIR | --kernel VER] [--config PATH]... [--json] [MODALIAS...]

Prints, for each MODALIAS (or each line of standard input when none is given), the modules
libkmod would return for it, in libkmod's order: the modalias, a TAB, the module names
separated by spaces (nothing after the TAB when no module matches).

  --modules DIR   directory holding modules.alias (default /lib/modules/$(uname -r))
  --kernel VER    use /lib/modules/VER
  --config PATH   modprobe.d file or directory, repeatable; replaces the default search path
                  (/etc/modprobe.d /run/modprobe.d /usr/local/lib/modprobe.d /lib/modprobe.d);
                  --config /dev/null reads no configuration
  --json          an array of {"modalias", "modules"} objects
`;

export const command: Command = {
  summary: "the modules libkmod would return for each modalias",
  async run(args, io) {
    const { values, positionals } = parseCommandLine(args, {
      modules: { type: "string" },
      kernel: { type: "string" },
      config: { type: "string", multiple: true },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      io.out(help);
      return 0;
    }
    const dir = new ModulesDir(
      modulesDirFrom(values, release()),
      values.config ? { configPaths: values.config } : {},
    );
    dir.aliases; // load now so that a missing modules.alias fails before any output
    const inputs = positionals.length > 0 ? positionals : splitLines(io.readStdin("latin1"));
    const results = inputs.map((modalias) => {
      const result = lookup(dir, modalias);
      if (result.invalid) io.err(`flavourctl resolve: '${modalias}': ${result.invalid}, no lookup\n`);
      return { modalias, modules: result.matches.map((m) => m.module) };
    });
    for (const warning of dir.allWarnings()) io.err(`flavourctl resolve: warning: ${warning}\n`);
    if (values.json) io.out(`${JSON.stringify(results, null, 2)}\n`);
    else io.out(results.map((r) => `${r.modalias}\t${r.modules.join(" ")}\n`).join(""), "latin1");
    return 0;
  },
};

function splitLines(text: string): string[] {
  const all = text.split("\n");
  if (all[all.length - 1] === "") all.pop();
  return all;
}
