// flavourctl overlaps: which modules' alias patterns can claim the same device.
import { type AliasInput, busOf, type ModuleOverlap, type OverlapReport } from "../../analysis/overlaps.ts";
import { UsageError } from "../../errors.ts";
import { v8 } from "../../lazy-builtins.ts";
import { AliasFile, parseBuiltinModinfo } from "../../modules/alias-file.ts";
import { readOptionalText, readRequiredText } from "../../modules/files.ts";
import { parseCommandLine, refuseExtraOperands } from "../args.ts";
import type { Command } from "../command.ts";
import type { Io } from "../io.ts";
import { optimiseOnlyLongRunningCode } from "../late-optimisation.ts";
import { chunked, writeJson } from "../streamed.ts";

const help = `usage: flavourctl overlaps [--modules DIR] [--alias FILE]... [--source TREE [--config FILE]] [--bus BUS]...
                          [--generic] [--json]

Every pair of modules whose alias patterns can match one common device, grouped by pair and
classified: identical, shadows (one module's pattern matches every device the other's does),
partial, and flavour-separated (a pci: pattern against a vfio_pci: one: by design). Each pair
comes with one modalias both patterns match (checked with fnmatch) and what the kernel does.

  --modules DIR   read DIR/modules.alias and DIR/modules.builtin.modinfo (or their .gz)
  --alias FILE    read FILE, lines 'alias PATTERN MODULE' (repeatable; adds to --modules)
  --source TREE   the pci aliases a kernel source tree declares (see 'aliases --source')
  --config FILE   with --source: the kernel .config deciding #if CONFIG_... (plain or .gz)
  --bus BUS       buses to compare (repeatable; default all; pci covers vfio_pci:).
                  pci, usb, hid, pcmcia, ieee1394, sdio, serio, ssb, bcma and virtio
                  field by field, every other bus by exact glob intersection keyed
                  by id (acpi, of and cpu: one common id)
  --generic       also list the pairs with a generic pattern (a class match, vfio_pci's
                  catch-all, usb or hid vendor or product *, a first field *); by
                  default only counted
  --json          the whole report as JSON
`;

export const command: Command = {
  summary: "module pairs whose alias patterns can match the same device",
  async run(args, io) {
    const { values, positionals } = parseCommandLine(args, {
      modules: { type: "string" },
      alias: { type: "string", multiple: true },
      source: { type: "string" },
      config: { type: "string" },
      bus: { type: "string", multiple: true },
      generic: { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      io.out(help);
      return 0;
    }
    refuseExtraOperands(positionals);
    if (values.config !== undefined && values.source === undefined)
      throw new UsageError("--config goes with --source (the kernel .config of that tree)");
    // the alias files' analysis is one short pass (late-optimisation.ts); a source tree's scan is left as it was
    if (values.source === undefined) optimiseOnlyLongRunningCode(v8());
    const buses = values.bus === undefined || values.bus.includes("all") ? undefined : new Set(values.bus);
    const inputs: AliasInput[] = [];
    if (values.modules !== undefined) {
      inputs.push(
        ...readAliases(values.modules, "modules.alias", buses, io),
        ...builtinAliases(values.modules, io),
      );
    }
    for (const file of values.alias ?? []) inputs.push(...readAliases(file, undefined, buses, io));
    if (values.source !== undefined) {
      const { sourceAliases } = await import("../../analysis/source-aliases.ts");
      const result = await sourceAliases(values.source, {
        ...(values.config !== undefined ? { config: values.config } : {}),
        progress: progressFor(io),
      });
      for (const note of result.notes) io.err(`flavourctl overlaps: note: ${note}\n`);
      for (const problem of result.problems) io.err(`flavourctl overlaps: ${problem}\n`);
      for (const line of result.lines) inputs.push(line);
    }
    if (values.modules === undefined && values.alias === undefined && values.source === undefined) {
      throw new UsageError("give --modules DIR, --alias FILE or --source TREE");
    }
    const { findOverlaps } = await import("../../analysis/overlaps.ts");
    const json = values.json === true;
    const report = findOverlaps(inputs, buses, json || values.generic === true, json);
    // written as it is made, a megabyte at a time: a report of many pairs is tens of megabytes
    const output = chunked((text) => io.out(text, json ? "utf8" : "latin1"));
    if (json) {
      writeJson({ ...report }, output.write);
      output.write("\n");
    } else writeReport(report, values.generic === true, output.write);
    output.end();
    return 0;
  },
};

/** A progress callback drawing on stderr, only when stderr is a terminal. */
export function progressFor(io: Io): ((done: number, total: number) => void) | undefined {
  if (!io.stderrIsTty) return undefined;
  let last = -1;
  return (done, total) => {
    const percent = Math.floor((done * 100) / Math.max(total, 1));
    if (percent === last && done !== total) return;
    last = percent;
    const width = 30;
    const filled = Math.round((width * done) / Math.max(total, 1));
    io.err(`\r[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${total} files`);
    if (done === total) io.err("\n");
  };
}

/**
 * The alias lines of a file, only those of the buses compared when they are named: the
 * file's per-bus scan (alias-file.ts) reads a third of modules.alias for pci. The scan
 * skips bus names holding a wildcard (`acpi*`, `dmi*`): those are picked from every line.
 */
function readAliases(
  path: string,
  name: string | undefined,
  buses: ReadonlySet<string> | undefined,
  io: Io,
): AliasInput[] {
  const text =
    name === undefined ? readRequiredText(dirOf(path), baseOf(path)) : readRequiredText(path, name);
  const file = new AliasFile(text);
  const wildcard = buses !== undefined && [...buses].some((bus) => /[*?[]/.test(bus));
  // every usable line (keys() skips those depmod leaves out), by its key: the pattern as
  // depmod indexes it and libkmod matches it (`-` as `_` outside brackets, normalizeAlias)
  const inputs: FileAlias[] = [];
  if (buses === undefined || wildcard) {
    // depmod writes a module's lines together: one string per module (the analysis's maps
    // then hash each module name once)
    let last = "";
    file.keys((key, ref, pattern, module) => {
      if (module !== last) last = module;
      inputs.push(new FileAlias(key, last, pattern, file, ref));
    });
  } else {
    const refs: number[] = [];
    for (const bus of buses) {
      file.scan(bus === "pci" ? ["pci", "vfio_pci"] : [bus], false, (_bus, _prefix, ref) => {
        refs.push(ref);
      });
    }
    for (const ref of refs.sort((a, b) => a - b)) {
      const line = file.load(ref);
      if (line) inputs.push(new FileAlias(line.key, line.module, line.pattern, file, ref));
    }
  }
  // after keys(), which notes the few lines warnings() reads
  for (const warning of file.warnings()) io.err(`flavourctl overlaps: warning: ${warning}\n`);
  if (!wildcard) return inputs;
  return inputs.filter((input) => {
    const bus = busOf(input.pattern);
    return (buses as ReadonlySet<string>).has(bus === "vfio_pci" ? "pci" : bus);
  });
}

/** A line of an alias file as an input; its origin (file:line) is worked out when printed. */
class FileAlias implements AliasInput {
  readonly pattern: string;
  readonly module: string;
  readonly written: string | undefined;
  private readonly file: AliasFile;
  private readonly offset: number;
  /** toJSON's object, made once: a generic pattern is in thousands of pairs. */
  private json: AliasInput | undefined;
  /** The line at `offset`: its key (`pattern`), module, and pattern as written. */
  constructor(pattern: string, module: string, written: string, file: AliasFile, offset: number) {
    this.pattern = pattern;
    this.module = module;
    this.written = written === pattern ? undefined : written;
    this.file = file;
    this.offset = offset;
  }
  get origin(): string {
    return `${this.file.path}:${this.file.lineAt(this.offset)}`;
  }
  toJSON(): AliasInput {
    if (this.json) return this.json;
    const json: AliasInput = { pattern: this.pattern, module: this.module, origin: this.origin };
    if (this.written !== undefined) json.written = this.written;
    this.json = json;
    return json;
  }
}

/** Built-in modules' aliases (modules.builtin.modinfo): virtio_pci is one on Debian 6.12. */
function builtinAliases(dir: string, io: Io): AliasInput[] {
  const file = readOptionalText(dir, "modules.builtin.modinfo");
  if (!file) return [];
  const parsed = parseBuiltinModinfo(file);
  for (const warning of parsed.warnings) io.err(`flavourctl overlaps: warning: ${warning}\n`);
  return parsed.aliases.map((a) => ({
    pattern: a.key,
    module: a.module,
    origin: `${a.file} (built in)`,
    ...(a.key !== a.pattern ? { written: a.pattern } : {}),
  }));
}

const dirOf = (path: string) => (path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".");
const baseOf = (path: string) => path.slice(path.lastIndexOf("/") + 1);

export function writeReport(
  report: OverlapReport,
  listGeneric: boolean,
  write: (text: string) => void,
): void {
  const c = report.counts;
  write(
    `${report.patterns} patterns; module pairs: identical ${c.identical}, shadows ${c.shadows}, ` +
      `partial ${c.partial}, flavour-separated ${c["flavour-separated"]}; ` +
      `generic ${c.generic}${listGeneric ? "" : " (a class or catch-all pattern; list them with --generic)"}\n`,
  );
  const specific = report.overlaps.filter((o) => !o.generic && o.class !== "flavour-separated");
  const separated = report.overlaps.filter((o) => !o.generic && o.class === "flavour-separated");
  const generic = report.overlaps.filter((o) => o.generic);
  section("Overlaps", specific, write);
  section("Flavour-separated (pci: against vfio_pci:, by design)", separated, write);
  if (listGeneric) section("Generic patterns", generic, write);
}

function section(title: string, overlaps: ModuleOverlap[], write: (text: string) => void): void {
  if (overlaps.length === 0) return;
  write(`\n${title}:\n`);
  for (const o of overlaps) {
    const pair = o.pairs[0];
    if (!pair) continue;
    const wider = pair.wider ? ` (${pair.wider} is wider)` : "";
    const more = o.pairCount > 1 ? `, ${o.pairCount} pattern pairs` : "";
    let out = `\n${o.class.padEnd(17)} ${o.modules[0]} ${o.modules[1]} [${o.bus}${more}]${wider}\n`;
    out += `  ${pair.a.module}: ${pair.a.written ?? pair.a.pattern}${pair.a.origin ? `  (${pair.a.origin})` : ""}\n`;
    out += `  ${pair.b.module}: ${pair.b.written ?? pair.b.pattern}${pair.b.origin ? `  (${pair.b.origin})` : ""}\n`;
    out +=
      pair.example === pair.exampleB
        ? `  both match: ${pair.example}\n`
        : `  both match: ${pair.example} / ${pair.exampleB}\n`;
    out += `  kernel: ${o.kernel}\n`;
    write(out);
  }
}
