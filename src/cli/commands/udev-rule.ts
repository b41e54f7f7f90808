// flavourctl udev-rule: the udev rules file that runs the hook on PCI add events.
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { writeFileAtomically } from "../../atomic-write.ts";
import { UsageError } from "../../errors.ts";
import { printable } from "../../pci/address.ts";
import { makeDirectory, writeFailure } from "../../safe-write.ts";
import { parseCommandLine, refuseExtraOperands } from "../args.ts";
import type { Command } from "../command.ts";
import type { Io } from "../io.ts";

export const UDEV_RULE_PATH = "/etc/udev/rules.d/60-flavourctl.rules";

const help = `usage: flavourctl udev-rule [--install] [--output FILE] [--config DIR] [--node PATH] [--command PATH]

Prints the udev rules file that runs 'flavourctl hook' for every PCI add event; --install
writes it to ${UDEV_RULE_PATH} (--output FILE elsewhere). Its number, 60, puts the hook's RUN
before the kmod builtin of 80-drivers.rules, so a saved vfio flavour is set before the
device's host driver module is loaded. --config DIR is passed on to the hook.
The rule runs this node and this flavourctl, by their absolute paths; --node PATH and
--command PATH name others (absolute), e.g. where a package installs them.
`;

/**
 * A word of a udev RUN string: no shell is involved, udev splits on spaces and substitutes `%`
 * and `$` specifiers (udev(7) "string substitutions"), so a word holding one is refused.
 */
function udevWord(word: string): string {
  if (/[\s"'\\%$]/.test(word))
    throw new UsageError(`cannot put '${printable(word)}' into a udev rule (spaces, quotes, % or $)`);
  return word;
}

/**
 * How udev runs node. systemd-udevd.service has MemoryDenyWriteExecute=yes, a seccomp filter every
 * RUN program inherits: V8's compilers cannot make code executable under it and node aborts
 * (SIGTRAP). Without them (--jitless) it runs. Nothing else: the node the rule names is not the one
 * writing it (a package's rule is written at build time) and may be upgraded under it, and no other
 * flag is taken by every node we run on. `--no-expose-wasm` kept Node 18-22 (V8 10-12) from printing
 * "Warning: disabling flag --expose_wasm due to conflicting flags" on stderr, but Node 24's V8 13
 * has no such flag: node exits 9 ("bad option") before the hook runs. That line goes to udev's debug
 * log only (the hook says what it did on /dev/kmsg). test/node-versions/run.sh runs the packaged
 * rule's command under Node 18, 20, 22 and 24.
 */
export const UDEV_NODE_FLAGS: readonly string[] = ["--jitless"];

export function udevRuleText(command: string[], hookArgs: string[] = []): string {
  return [
    "# flavourctl: give PCI devices their saved flavour (see 'flavourctl rules') when they are added:",
    "# at boot, on hotplug and when SR-IOV VFs are created. Runs before 80-drivers.rules loads the",
    "# device's host driver. Written by 'flavourctl udev-rule'.",
    `ACTION=="add", SUBSYSTEM=="pci", RUN+="${[...command, "hook", ...hookArgs].map(udevWord).join(" ")}"`,
    "",
  ].join("\n");
}

/** An option naming what the rule runs: udev runs RUN programs from no particular directory. */
function absolute(option: string, value: string | boolean | undefined): string | undefined {
  if (typeof value !== "string") return undefined;
  if (!isAbsolute(value))
    throw new UsageError(`${option} must be an absolute path, not '${printable(value)}'`);
  return value;
}

/** Where --install writes: a scenario's step, into its machine's own directory, never /etc (sim/run.ts). */
export function installPath(io: Pick<Io, "machine">): string {
  return io.machine ? join(io.machine.opened.dir, "udev", basename(UDEV_RULE_PATH)) : UDEV_RULE_PATH;
}

export const command: Command = {
  summary: "print or install the udev rule that runs the hook",
  async run(args, io) {
    const { values, positionals } = parseCommandLine(args, {
      install: { type: "boolean" },
      output: { type: "string" },
      config: { type: "string" },
      node: { type: "string" },
      command: { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      io.out(help);
      return 0;
    }
    refuseExtraOperands(positionals);
    const self = [
      absolute("--node", values.node) ?? process.execPath,
      ...UDEV_NODE_FLAGS,
      absolute("--command", values.command) ?? resolve(process.argv[1] ?? "flavourctl"),
    ];
    const config = typeof values.config === "string" ? ["--config", resolve(values.config)] : [];
    const text = udevRuleText(self, config);
    const target =
      typeof values.output === "string" ? values.output : values.install ? installPath(io) : undefined;
    if (target === undefined) {
      io.out(text);
      return 0;
    }
    makeDirectory(dirname(target));
    try {
      writeFileAtomically(target, text, { mode: 0o644 });
    } catch (error) {
      throw writeFailure(target, "write the rule", error);
    }
    io.out(`wrote ${target}; run 'udevadm control --reload' to load it\n`);
    return 0;
  },
};
