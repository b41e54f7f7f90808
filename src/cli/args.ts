// Option parsing shared by every command, with errors as our usage errors (exit 64) and a --help
// that prints the command's own text.
//
// Written here rather than taken from node:util parseArgs: loading parseArgs (two internal
// modules and their validators) costs about 0.5 ms at every start, a tenth of what list adds to
// node's own start-up. The rules are parseArgs' strict ones, for the options we use: `--name
// value`, `--name=value`, `-h`, `--` ending the options; an unknown option, a string option
// without its value or followed by another option, and a value given to a boolean are refused.
// Differences: a `-` among grouped short options is refused (parseArgs reads `-h-` as `-h --`),
// and so is an empty value; each option's value is checked as it is parsed (OptionSpec.check).
import { UsageError } from "../errors.ts";
import { os } from "../lazy-builtins.ts";
import { printable } from "../pci/address.ts";

export interface OptionSpec {
  type: "string" | "boolean";
  multiple?: boolean;
  /** One character: `-c` for `--name`. */
  short?: string;
  /**
   * What the value must look like, checked as it is parsed (before anything is opened or
   * locked): a sentence saying what is expected when it is wrong, else undefined.
   */
  check?: (value: string) => string | undefined;
}

type Options = Readonly<Record<string, OptionSpec>>;

type ValueOf<S extends OptionSpec> = S["type"] extends "string"
  ? S["multiple"] extends true
    ? string[]
    : string
  : S["multiple"] extends true
    ? boolean[]
    : boolean;

/** The options given, each only when given (a repeated one: its last value, or all with multiple). */
export type Values<T extends Options> = { -readonly [K in keyof T]?: ValueOf<T[K]> };

export function parseCommandLine<T extends Options>(
  args: readonly string[],
  options: T,
): { values: Values<T>; positionals: string[] } {
  return parse(args, options, false);
}

/**
 * The options before the first operand (the global options before a verb): their values, the
 * tokens that gave them, and the operand and all after it, untouched. `--` ends them too.
 */
export function parseLeadingOptions<T extends Options>(
  args: readonly string[],
  options: T,
): { values: Values<T>; given: string[]; rest: string[] } {
  const { values, stop } = parse(args, options, true);
  return { values, given: args.slice(0, stop), rest: args.slice(args[stop] === "--" ? stop + 1 : stop) };
}

function parse<T extends Options>(
  args: readonly string[],
  options: T,
  leading: boolean,
): { values: Values<T>; positionals: string[]; stop: number } {
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  const set = (name: string, value: string | boolean) => {
    const all = values[name];
    if (!options[name]?.multiple) values[name] = value;
    else if (Array.isArray(all)) all.push(value);
    else values[name] = [value];
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") {
      if (leading) return { values: values as Values<T>, positionals, stop: i };
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.length < 2 || !arg.startsWith("-")) {
      if (leading) return { values: values as Values<T>, positionals, stop: i };
      positionals.push(arg);
      continue;
    }
    const long = arg.startsWith("--");
    for (const [name, inline] of long ? [longName(arg, options)] : shortNames(arg, options)) {
      const shown = long ? `--${name}` : `-${options[name]?.short}`;
      const spec = options[name] as OptionSpec;
      if (spec.type === "boolean") {
        if (inline !== undefined) throw new UsageError(`option '${shown}' does not take a value`);
        set(name, true);
        continue;
      }
      if (inline !== undefined) {
        set(name, checked(shown, spec, inline));
        continue;
      }
      const value = args[i + 1];
      if (value === undefined) throw new UsageError(`option '${shown}' needs a value`);
      // parseArgs' strict rule: `--sysfs --json` is a forgotten value, not a directory named --json
      if (value.length > 1 && value.startsWith("-")) {
        throw new UsageError(
          `option '${shown}' needs a value (use --${name}=${printable(value)} if it is one)`,
        );
      }
      set(name, checked(shown, spec, value));
      i++;
    }
  }
  return { values: values as Values<T>, positionals, stop: args.length };
}

/**
 * A string option's value, refused at once when it is empty (no option takes an empty path,
 * name or number: `--config ''` would be the working directory) or its check says it is wrong.
 */
function checked(shown: string, spec: OptionSpec, value: string): string {
  if (value === "") throw new UsageError(`option '${shown}' needs a value, not an empty one`);
  const expected = spec.check?.(value);
  if (expected !== undefined)
    throw new UsageError(`option '${shown}' needs ${expected}, not '${printable(value, 40)}'`);
  return value;
}

type Given = [name: string, inline: string | undefined];

/** `--name` or `--name=value`; refused when no option has that name. */
function longName(arg: string, options: Options): Given {
  const equals = arg.indexOf("=");
  const name = equals < 0 ? arg.slice(2) : arg.slice(2, equals);
  if (!Object.hasOwn(options, name)) throw new UsageError(`unknown option '--${printable(name)}'`);
  return [name, equals < 0 ? undefined : arg.slice(equals + 1)];
}

/**
 * The options of `-abc`, by long name: every letter a boolean, or the last a string option whose
 * value follows; `-cVALUE` gives the value inline. Refused at the first letter no option has.
 */
function shortNames(arg: string, options: Options): Given[] {
  const found: Given[] = [];
  for (let at = 1; at < arg.length; at++) {
    const letter = arg[at] as string;
    const name = Object.keys(options).find((key) => options[key]?.short === letter);
    if (name === undefined) {
      throw new UsageError(
        arg.length === 2
          ? `unknown option '${printable(arg)}'`
          : `unknown option letter '${printable(letter)}' in '${printable(arg)}'`,
      );
    }
    const rest = arg.slice(at + 1);
    if (options[name]?.type === "string" && rest !== "") {
      found.push([name, rest]);
      break;
    }
    found.push([name, undefined]);
  }
  return found;
}

/**
 * The operands from index `from` on are more than the command takes: the first is refused
 * (often an option whose name was forgotten, `overlaps /lib/modules/X`), never ignored.
 */
export function refuseExtraOperands(positionals: readonly string[], from = 0): void {
  const extra = positionals[from];
  if (extra !== undefined) throw new UsageError(`unexpected argument '${printable(extra)}'`);
}

/** --kernel VER: one component of /lib/modules. */
export const kernelOption = {
  kernel: {
    type: "string",
    check: (version: string) =>
      version.includes("/") || version === ".." || version === "."
        ? "a kernel version (a directory name in /lib/modules)"
        : undefined,
  },
} as const;

/** The modules directory a command reads: --modules DIR, else /lib/modules/<--kernel or running kernel>. */
export function modulesDirFrom(values: { modules?: string | boolean; kernel?: string | boolean }) {
  if (typeof values.modules === "string") return values.modules;
  return `/lib/modules/${typeof values.kernel === "string" ? values.kernel : os().release()}`;
}
