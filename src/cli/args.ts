// Option parsing shared by every command: node:util parseArgs, with its errors turned into
// our usage errors (exit 64) and a --help that prints the command's own text.
import { type ParseArgsConfig, parseArgs } from "node:util";
import { UsageError } from "../errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

export function parseCommandLine<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.split("\n")[0] as string);
  }
}

/** The modules directory a command reads: --modules DIR, else /lib/modules/<--kernel or running kernel>. */
export function modulesDirFrom(
  values: { modules?: string | boolean; kernel?: string | boolean },
  release: string,
) {
  if (typeof values.modules === "string") return values.modules;
  const version = typeof values.kernel === "string" ? values.kernel : release;
  if (version.includes("/") || version === ".." || version === ".") {
    throw new UsageError(`invalid kernel version '${version}'`);
  }
  return `/lib/modules/${version}`;
}
