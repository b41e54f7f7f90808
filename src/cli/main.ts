// The verb table. Each verb's module is imported only when that verb runs, so start-up
// costs the same whatever the tool grows to (the udev hook runs on every PCI add event).
import { ExitCode, FlavourError, systemErrorExitCode, UsageError } from "../errors.ts";
import { parseLeadingOptions } from "./args.ts";
import type { Command } from "./command.ts";
import { colourOn, type Io } from "./io.ts";
import { safeBytes, safeText } from "./terminal-safe.ts";
import { version } from "./version.ts";

const commands: Record<string, () => Promise<{ command: Command }>> = {
  list: () => import("./commands/list.ts"),
  show: () => import("./commands/show.ts"),
  snapshot: () => import("./commands/snapshot.ts"),
  resolve: () => import("./commands/resolve.ts"),
  set: () => import("./commands/set.ts"),
  unset: () => import("./commands/set.ts").then((m) => ({ command: m.unsetCommand })),
  rules: () => import("./commands/rules.ts"),
  apply: () => import("./commands/apply.ts"),
  hook: () => import("./commands/hook.ts"),
  "udev-rule": () => import("./commands/udev-rule.ts"),
  vfs: () => import("./commands/vfs.ts"),
  sim: () => import("./commands/sim.ts"),
  overlaps: () => import("./commands/overlaps.ts"),
  aliases: () => import("./commands/aliases.ts"),
  upgrade: () => import("./commands/upgrade.ts"),
  export: () => import("./commands/export.ts"),
};

const usage = `usage: flavourctl [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]

Commands:
  list                    every PCI device: driver, candidate modules, vfio flavour, IOMMU group
  show ADDRESS            one device in depth, and the reason for every decision
  snapshot DEST           copy the PCI part of sysfs into DEST (for --sysfs and bug reports)
  resolve [MODALIAS...]   the modules libkmod would return for each modalias
  set ADDRESS FLAVOUR     give a device a flavour: vfio, default, or --driver NAME
  unset ADDRESS           give a device back to the kernel's own driver
  rules                   saved rules and the devices each one decides
  apply                   bring every present device to its saved flavour
  vfs PF N                create N SR-IOV VFs born with their flavour (0 removes them)
  udev-rule [--install]   the udev rule that runs the hook on PCI add events
  hook                    (run by udev) give an added device its saved flavour
  sim run SCENARIO        run a scenario on a simulated machine and print its event trace
  overlaps                module pairs whose alias patterns can match the same device
  aliases --source TREE   the pci aliases a kernel source tree's id tables produce
  upgrade --from A --to B what changes for each device between two modules trees
  export FORMAT [ADDRESS...] the Nova, libvirt or Proxmox configuration of the vfio devices

Global options, before the command or after it (a command that does not take one refuses it):
  --machine M, --sysfs DIR, --modules DIR, --kernel VER, --config DIR, --wait SECONDS, --json
Every command that works on a machine takes --machine demo (a simulated server).

Run 'flavourctl help COMMAND' for a command's options, 'flavourctl --version' for the version.
The manual: 'man flavourctl', or README.md and docs/ in the sources.
`;

/**
 * The options a command line may give before its verb, as git, systemctl and kubectl take them:
 * which machine (the options every machine command takes), --wait for its lock, --json. Only
 * their form is read here; they are handed to the verb after its name, and the verb checks them
 * as its own (so a verb that does not take one refuses it, exit 64).
 */
const globalOptions = {
  machine: { type: "string" },
  sysfs: { type: "string" },
  modules: { type: "string" },
  kernel: { type: "string" },
  config: { type: "string" },
  wait: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

export async function main(argv: string[], io: Io): Promise<number> {
  let leading: ReturnType<typeof parseLeadingOptions<typeof globalOptions>>;
  try {
    leading = parseLeadingOptions(argv, globalOptions);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    const where = error.message.startsWith("unknown option")
      ? " before the command (only global options go there)"
      : "";
    return wrongCommandLine(io, `${error.message}${where}`);
  }
  const { values, given } = leading;
  let [verb, ...rest] = leading.rest;
  if (values.version) {
    io.out(`flavourctl ${version()}\n`);
    return ExitCode.ok;
  }
  if (verb === "help" && rest.length > 0) {
    // `help COMMAND` is `COMMAND --help`
    if (rest.length > 1) return wrongCommandLine(io, "'help' takes one command");
    [verb, rest] = [rest[0] as string, ["--help"]];
  }
  if (verb === undefined || verb === "help") {
    if (!values.help && verb === undefined) {
      io.err(usage); // a wrong command line: the text goes where errors go
      return ExitCode.usage;
    }
    io.out(usage);
    return ExitCode.ok;
  }
  const load = Object.hasOwn(commands, verb) ? commands[verb] : undefined;
  if (!load) return wrongCommandLine(io, `unknown command '${verb}'`);
  // error messages quote names from trees and files too: escaped like everything printed
  const safeIo = terminalSafe(io);
  try {
    const { command } = await load();
    return await command.run([...given, ...rest], safeIo, main);
  } catch (error) {
    if (error instanceof FlavourError) {
      safeIo.err(`flavourctl ${verb}: ${error.message}\n`);
      return error.exitCode;
    }
    // a file the command could not make, write or remove: one line, never a stack trace
    const code = systemErrorExitCode(error);
    if (code === undefined) return internalError(verb, error, safeIo);
    safeIo.err(`flavourctl ${verb}: ${(error as Error).message}\n`);
    return code;
  }
}

function wrongCommandLine(io: Io, problem: string): number {
  io.err(`flavourctl: ${safeText(problem)} (see 'flavourctl --help')\n`);
  return ExitCode.usage;
}

/**
 * The command's Io with every character that steers a terminal escaped, in all it prints
 * (terminal-safe.ts). Its other members are io's own, read when used (stdoutIsTty is a getter).
 */
function terminalSafe(io: Io): Io {
  // asked only when there is colour to keep: whether stdout is a terminal costs a stat (and
  // no second pass over what is printed: the JSON of a report runs to megabytes)
  const colour = () => colourOn(io);
  return Object.create(io, {
    out: {
      value: (text: string, encoding?: "utf8" | "latin1") =>
        io.out(encoding === "latin1" ? safeBytes(text) : safeText(text, colour), encoding),
    },
    err: { value: (text: string) => io.err(safeText(text)) },
  });
}

/**
 * A bug of ours: what and where, for a report — the stack's frames, without the line of source
 * node would print from a bundle (one minified line of kilobytes).
 */
export function internalError(verb: string, error: unknown, io: Io): number {
  const stack = error instanceof Error && error.stack ? error.stack : String(error);
  io.err(`flavourctl ${verb}: internal error (a bug in flavourctl; please report it): ${stack}\n`);
  return ExitCode.internal;
}
