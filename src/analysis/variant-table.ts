// The vfio-pci variant drivers a kernel source tree declares: each module of drivers/vfio/pci
// with vfio_pci: aliases other than vfio-pci's catch-all (DESIGN §2 "variant"), its ids as
// source-aliases.ts reads them (the aliases modpost would write) and the name its struct
// pci_driver registers, which is what driver_override must hold (drivers/pci/pci-driver.c
// pci_match_device compares it with drv->name, not with the module's name). Trees are merged
// in the order given, so "first" is the first of the given trees that has a module or an id.
import { join } from "node:path";
import { readRegularText } from "../safe-read.ts";
import { sourceAliases } from "./source-aliases.ts";

/** Every variant driver so far sits in this directory (kernel 6.12 and 7.2). */
export const VARIANTS_DIR = "drivers/vfio/pci";
/** vfio-pci's own catch-all (vfio_pci.c vfio_pci_table): not a variant. */
const CATCH_ALL = "vfio_pci:v*d*sv*sd*bc*sc*i*";

export interface TreeVariant {
  module: string;
  /** struct pci_driver .name; null when it is not a string or KBUILD_MODNAME (see `because`). */
  driver: string | null;
  /** Where .name was read, `file:line`, or why it could not be. */
  because: string;
  /** `vvvv:dddd` (lower case) for each alias, in table order, with its `file:line`. */
  ids: { id: string; origin: string }[];
}

export interface TreeVariants {
  variants: TreeVariant[];
  /** What source-aliases.ts could not read (entries, files). */
  problems: string[];
}

export async function treeVariants(tree: string): Promise<TreeVariants> {
  const read = await sourceAliases(tree, { under: VARIANTS_DIR });
  const byModule = new Map<string, TreeVariant>();
  const files = new Map<string, string>();
  for (const line of read.lines) {
    if (!line.pattern.startsWith("vfio_pci:") || line.pattern === CATCH_ALL) continue;
    let variant = byModule.get(line.module);
    if (!variant) {
      variant = { module: line.module, driver: null, because: "", ids: [] };
      byModule.set(line.module, variant);
      files.set(line.module, (line.origin ?? "").replace(/:\d+.*$/, ""));
    }
    variant.ids.push({ id: patternId(line.pattern), origin: line.origin ?? "" });
  }
  const variants = [...byModule.values()].sort((a, b) => (a.module < b.module ? -1 : 1));
  for (const variant of variants) {
    const file = files.get(variant.module) as string;
    const found = driverName(readRegularText(join(tree, file), "source", "latin1"), variant.module);
    variant.driver = found.name;
    variant.because = found.line ? `${file}:${found.line}` : `${file}: ${found.why}`;
  }
  return { variants, problems: read.problems };
}

/**
 * `vendor:device` of a pci alias pattern (file2alias do_pci_entry): `*` for a wildcard field;
 * any other field that is not a wildcard follows, as it stands in the pattern.
 */
export function patternId(pattern: string): string {
  const m = /^(?:vfio_)?pci:v([0-9A-F]{8}|\*)d([0-9A-F]{8}|\*)(.*)$/.exec(pattern);
  if (!m) return pattern;
  const field = (f: string) => (f === "*" ? "*" : f.slice(4).toLowerCase());
  const rest = m[3] === "sv*sd*bc*sc*i*" ? "" : ` (${m[3]})`;
  return `${field(m[1] as string)}:${field(m[2] as string)}${rest}`;
}

/**
 * The .name of the struct pci_driver in a driver's C file: a string literal, or KBUILD_MODNAME
 * (Kbuild's -DKBUILD_MODNAME: the module's name with '-' made '_', scripts/Makefile.lib).
 */
export function driverName(
  text: string,
  module: string,
): { name: string | null; line?: number; why?: string } {
  const struct = /struct\s+pci_driver\s+\w+\s*=\s*\{/.exec(text);
  if (!struct) return { name: null, why: "no struct pci_driver initialiser" };
  const body = text.slice(struct.index, text.indexOf("};", struct.index));
  const name = /\.name\s*=\s*(KBUILD_MODNAME|"([^"\\]*)")/.exec(body);
  if (!name) return { name: null, why: ".name is neither a string nor KBUILD_MODNAME" };
  const line = text.slice(0, struct.index + name.index).split("\n").length;
  return { name: name[2] ?? module.replaceAll("-", "_"), line };
}

export interface VariantRow {
  module: string;
  driver: string | null;
  /** The first tree (by label) that has the module. */
  first: string;
  /** Each id with the first tree that has it. */
  ids: { id: string; first: string }[];
  /** Trees where the module's ids lost one, as `label: id` (none so far). */
  dropped: string[];
}

/** The trees' variants merged, in the order of the trees (oldest first). */
export function mergeTrees(trees: { label: string; read: TreeVariants }[]): VariantRow[] {
  const rows = new Map<string, VariantRow>();
  let previous = new Map<string, Set<string>>();
  for (const { label, read } of trees) {
    const now = new Map<string, Set<string>>();
    for (const v of read.variants) {
      let row = rows.get(v.module);
      if (!row) {
        row = { module: v.module, driver: v.driver, first: label, ids: [], dropped: [] };
        rows.set(v.module, row);
      }
      // the newest tree's name is the one a user meets
      row.driver = v.driver;
      const ids = new Set(v.ids.map((i) => i.id));
      now.set(v.module, ids);
      for (const id of ids) if (!row.ids.some((i) => i.id === id)) row.ids.push({ id, first: label });
    }
    for (const [module, ids] of previous)
      for (const id of ids) if (!now.get(module)?.has(id)) rows.get(module)?.dropped.push(`${label}: ${id}`);
    previous = now;
  }
  return [...rows.values()].sort((a, b) => (a.module < b.module ? -1 : 1));
}

/** The markdown table of docs/variants.md. */
export function renderTable(rows: VariantRow[]): string {
  const out = [
    "| module | driver name (driver_override) | ids (vendor:device; the tree that added it when later than the module's) | first Debian tree |",
    "|---|---|---|---|",
  ];
  for (const r of rows) {
    const ids = r.ids.map((i) => (i.first === r.first ? i.id : `${i.id} (${i.first})`)).join(", ");
    const dropped = r.dropped.length > 0 ? `; dropped: ${r.dropped.join(", ")}` : "";
    const driver = r.driver === null ? "(not read)" : `\`${r.driver}\``;
    const differs = r.driver !== null && r.driver !== r.module ? " ≠ module" : "";
    out.push(`| \`${r.module}\` | ${driver}${differs} | ${ids}${dropped} | ${r.first} |`);
  }
  return `${out.join("\n")}\n`;
}
