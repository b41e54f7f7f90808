// Option parsing shared by every command: node:util parseArgs, with its errors turned into
// our usage errors (exit 64) and a --help that prints the command's own text.
import { type ParseArgsConfig, parseArgs } from "node:util";
import { UsageError } from "../errors.ts";
import { os } from "../lazy-builtins.ts";
import { printable } from "../pci/address.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

export function parseCommandLine<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.split("\n")[0] as string);
  }
}

/**
 * The operands from index `from` on are more than the command takes: the first is refused
 * (often an option whose name was forgotten, `overlaps /lib/modules/X`), never ignored.
 */
export function refuseExtraOperands(positionals: readonly string[], from = 0): void {
  const extra = positionals[from];
  if (extra !== undefined) throw new UsageError(`unexpected argument '${printable(extra)}'`);
}

/** The modules directory a command reads: --modules DIR, else /lib/modules/<--kernel or running kernel>. */
export function modulesDirFrom(values: { modules?: string | boolean; kernel?: string | boolean }) {
  if (typeof values.modules === "string") return values.modules;
  const version = typeof values.kernel === "string" ? values.kernel : os().release();
  if (version.includes("/") || version === ".." || version === ".") {
    throw new UsageError(`invalid kernel version '${version}'`);
  }
  return `/lib/modules/${version}`;
}
