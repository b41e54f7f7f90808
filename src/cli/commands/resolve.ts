// flavourctl resolve: the modules libkmod would return for each modalias, in its order.
import { indexCacheDir } from "../../host/cache-dir.ts";
import { hostKmodRelease } from "../../host/kmod-version.ts";
import { excerpt } from "../../modules/files.ts";
import { lookup } from "../../modules/lookup.ts";
import { ModulesDir } from "../../modules/modules-dir.ts";
import { ByteOutput, PciBatch } from "../../modules/pci-batch.ts";
import { isModalias } from "../../pci/modalias.ts";
import { kernelOption, modulesDirFrom, parseCommandLine } from "../args.ts";
import type { Command } from "../command.ts";
import type { Io } from "../io.ts";
import { StdinLines } from "../stdin-lines.ts";
import { safeBytes } from "../terminal-safe.ts";

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
      ...kernelOption,
      config: { type: "string", multiple: true },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      io.out(help);
      return 0;
    }
    const dir = new ModulesDir(modulesDirFrom(values), {
      ...(values.config ? { configPaths: values.config } : {}),
      cacheDir: indexCacheDir(io.env),
      kmodRelease: () => hostKmodRelease(io.env),
    });
    dir.aliases; // load now so that a missing modules.alias fails before any output
    const fromStdin = positionals.length === 0;
    const notes = new Notes(fromStdin ? "stdin line" : "argument");
    if (values.json) {
      const inputs = fromStdin ? splitLines(io.readStdin("latin1")) : positionals;
      if (inputs.length > 256) dir.aliases.prepareBatch(busesOf(inputs));
      const json = inputs.map((modalias, i) => ({ modalias, modules: answer(dir, modalias, i, notes) }));
      io.out(`${JSON.stringify(json, null, 2)}\n`);
    } else if (fromStdin) answerLines(dir, io, notes);
    else {
      const lines = positionals.map(
        (modalias, i) => `${modalias}\t${answer(dir, modalias, i, notes).join(" ")}\n`,
      );
      io.out(lines.join(""), "latin1");
    }
    const warnings = [...notes.lines(), ...dir.allWarnings().map((w) => `warning: ${w}`)];
    if (warnings.length > 0) io.err(warnings.map((w) => `flavourctl resolve: ${w}\n`).join(""));
    return 0;
  },
};

/** The modules of one input, with any message about it noted. */
function answer(dir: ModulesDir, modalias: string, index: number, notes: Notes): string[] {
  const result = lookup(dir, modalias);
  if (result.invalid) notes.add(index, `'${excerpt(modalias)}': ${result.invalid}, no lookup`);
  else {
    const odd = oddity(modalias);
    if (odd) notes.add(index, `warning: '${excerpt(modalias)}': ${odd}`);
  }
  return result.matches.map((m) => m.module);
}

/**
 * The text answer for each line of INPUT, written in chunks as it is made: a batch of 200,000
 * names keeps nothing. Canonical PCI modaliases — nearly all that users resolve — are answered
 * from bytes to bytes (PciBatch); any other line, and any the batch leaves to lookup(), as text.
 */
function answerLines(dir: ModulesDir, io: Io, notes: Notes): void {
  const batch = new PciBatch(dir, safeBytes);
  const out = new ByteOutput(CHUNK + LINE_ROOM);
  const lines = new StdinLines(io);
  // the answers made before a line that stops the batch (one over the limit) are still written,
  // whole lines only
  let whole = 0;
  try {
    while (lines.advance()) {
      answerLine(batch, dir, lines, notes, out);
      whole = out.length;
      if (whole >= CHUNK) {
        io.outEscaped(out.bytes.subarray(0, whole));
        out.length = whole = 0;
      }
    }
  } finally {
    if (whole > 0) io.outEscaped(out.bytes.subarray(0, whole));
  }
}

/** The current line's answer, whole, into OUT. */
function answerLine(
  batch: PciBatch,
  dir: ModulesDir,
  lines: StdinLines,
  notes: Notes,
  out: ByteOutput,
): void {
  const { bytes, start, end } = lines;
  const lineStart = out.length;
  out.reserve(end - start + 1);
  // byte by byte: a subarray per line to copy with set() is an object per line to collect
  const to = out.bytes;
  let at = lineStart;
  for (let i = start; i < end; i++) to[at++] = bytes[i] as number;
  to[at++] = TAB;
  out.length = at;
  if (!batch.resolve(bytes, start, end, out)) {
    out.length = lineStart;
    const modalias = lines.text();
    const line = `${modalias}\t${answer(dir, modalias, lines.number - 1, notes).join(" ")}`;
    // most lines hold no byte to escape: written as they are, and written again escaped if not
    if (!out.writeLatin1(line)) {
      out.length = lineStart;
      out.writeLatin1(safeBytes(line));
    }
  }
  out.reserve(1);
  out.bytes[out.length++] = NEWLINE;
}

const NEWLINE = 0x0a;
const TAB = 0x09;

/**
 * What is wrong with an input that libkmod still looks up as given (its answer is printed all
 * the same): a NUL byte, or a pci:/vfio_pci: string that is not the kernel's modalias form.
 */
function oddity(input: string): string | undefined {
  if (input === "") return "an empty modalias; looked up as given";
  if (input.includes("\0")) return "holds a NUL byte; libkmod reads it only up to there";
  const pciLike = input.startsWith("pci:") || input.startsWith("vfio_pci:") || input.startsWith("vfio-pci:");
  if (pciLike && !isModalias(input.charCodeAt(4) === 0x2d ? `vfio_${input.slice(5)}` : input)) {
    return "not a modalias of the kernel's form pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X (upper-case hex); looked up as given";
  }
  return undefined;
}

/** Messages about inputs, each naming the input; at most MAX_NOTES, then a count of the rest. */
class Notes {
  private readonly shown: string[] = [];
  private more = 0;
  private readonly where: string;
  constructor(where: string) {
    this.where = where;
  }
  add(index: number, message: string): void {
    if (this.shown.length < MAX_NOTES) this.shown.push(`${this.where} ${index + 1}: ${message}`);
    else this.more++;
  }
  lines(): string[] {
    return this.more > 0 ? [...this.shown, `… and ${this.more} more inputs with messages`] : this.shown;
  }
}

const MAX_NOTES = 50;
/** Bytes of output gathered before a write, and room for the line that passes that mark. */
const CHUNK = 1 << 20;
const LINE_ROOM = 1 << 12;

/** The buses of some names (the part before the first `:`; null for a name with none). */
function busesOf(names: readonly string[]): Set<string | null> {
  const buses = new Set<string | null>();
  for (const name of names) {
    // most names are devices: no slice for those
    if (name.startsWith("pci:")) buses.add("pci");
    else if (name.startsWith("vfio_pci:")) buses.add("vfio_pci");
    else {
      const colon = name.indexOf(":");
      buses.add(colon < 0 ? null : name.slice(0, colon));
    }
  }
  return buses;
}

function splitLines(text: string): string[] {
  const all = text.split("\n");
  if (all[all.length - 1] === "") all.pop();
  return all;
}
