// flavourctl resolve: the modules libkmod would return for each modalias, in its order.
import { indexCacheDir } from "../../host/cache-dir.ts";
import { hostKmodRelease } from "../../host/kmod-version.ts";
import { excerpt } from "../../modules/files.ts";
import { type LookupMatch, lookup } from "../../modules/lookup.ts";
import { ModulesDir } from "../../modules/modules-dir.ts";
import { isModalias } from "../../pci/modalias.ts";
import { kernelOption, modulesDirFrom, parseCommandLine } from "../args.ts";
import type { Command } from "../command.ts";

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
    const inputs = fromStdin ? splitLines(io.readStdin("latin1")) : positionals;
    if (inputs.length > 256) dir.aliases.prepareBatch(busesOf(inputs));
    const notes = new Notes(fromStdin ? "stdin line" : "argument");
    const json: { modalias: string; modules: string[] }[] = [];
    // Text lines go out in chunks as they are made: a batch of 200,000 names keeps nothing.
    let chunk = "";
    for (let i = 0; i < inputs.length; i++) {
      const modalias = inputs[i] as string;
      const result = lookup(dir, modalias);
      if (result.invalid) notes.add(i, `'${excerpt(modalias)}': ${result.invalid}, no lookup`);
      else {
        const odd = oddity(modalias);
        if (odd) notes.add(i, `warning: '${excerpt(modalias)}': ${odd}`);
      }
      if (values.json) {
        json.push({ modalias, modules: result.matches.map((m) => m.module) });
        continue;
      }
      let line = `${modalias}\t`;
      for (let m = 0; m < result.matches.length; m++) {
        line +=
          m === 0
            ? (result.matches[m] as LookupMatch).module
            : ` ${(result.matches[m] as LookupMatch).module}`;
      }
      chunk += `${line}\n`;
      if (chunk.length > CHUNK) {
        io.out(chunk, "latin1");
        chunk = "";
      }
    }
    if (chunk !== "") io.out(chunk, "latin1");
    if (values.json) io.out(`${JSON.stringify(json, null, 2)}\n`);
    const warnings = [...notes.lines(), ...dir.allWarnings().map((w) => `warning: ${w}`)];
    if (warnings.length > 0) io.err(warnings.map((w) => `flavourctl resolve: ${w}\n`).join(""));
    return 0;
  },
};

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
/** Bytes of output gathered before a write. */
const CHUNK = 1 << 16;

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
