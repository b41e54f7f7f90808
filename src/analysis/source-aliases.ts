// The pci aliases a kernel source tree declares: every C file with a MODULE_DEVICE_TABLE(pci,
// …) read through c-preprocess.ts, its tables through pci-tables.ts, each entry turned into
// the alias modpost would write (src/modules/file2alias.ts), and the file mapped to its module
// through the Kbuild Makefiles. With a config, only what Kbuild builds from it counts (a
// module, or built in). What cannot be read is reported with file and line.
import { type Dirent, existsSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { InputError } from "../errors.ts";
import { pciEntryAlias } from "../modules/file2alias.ts";
import { gunzipBounded, RefusedFile, readRegularFile, readRegularText, whyUnreadable } from "../safe-read.ts";
import {
  type Config,
  chainScope,
  headerMacros,
  type MacroScope,
  type MacroTable,
  type Preprocessed,
  parseConfig,
  preprocess,
} from "./c-preprocess.ts";
import { kbuildObjects, makefileCache, moduleOf } from "./kbuild.ts";
import { LimitError } from "./limits.ts";
import type { AliasInput } from "./overlaps.ts";
import { pciTables } from "./pci-tables.ts";

export interface SourceAlias extends AliasInput {
  /**
   * The file is linked into vmlinux (=y): modpost writes no modules.alias line for it (6.12
   * puts built-in aliases nowhere but modules.builtin.modinfo, and only from about 6.18), yet
   * the driver claims devices; origin ends in " (built in)".
   */
  builtIn?: true;
}

export interface SourceAliases {
  /** `alias PATTERN MODULE` lines in file and table order; origin is file:line. */
  lines: SourceAlias[];
  /** Entries, tables or files that could not be read, as `file:line: why` or `file: why`. */
  problems: string[];
  /** One-line facts about what was left out or assumed (no config; modules not built). */
  notes: string[];
  /** Files that hold a pci MODULE_DEVICE_TABLE. */
  files: number;
}

export interface SourceOptions {
  /** Only this module's aliases. */
  module?: string;
  /** A kernel .config (plain or .gz) deciding #if CONFIG_…; default TREE/.config when present. */
  config?: string;
  /** Only the C files under this directory of the tree (e.g. drivers/vfio/pci); default all. */
  under?: string;
  progress?: (done: number, total: number) => void;
}

const TABLE = /MODULE_DEVICE_TABLE\s*\(\s*pci\s*,/;
const SKIPPED_DIRS = new Set([".git", "Documentation", "tools", "scripts", "usr", "LICENSES"]);
/**
 * Headers every pci table leans on: the PCI_DEVICE & co macros and the id constants. From 7.x
 * mod_devicetable.h only includes one header per bus, and PCI_ANY_ID is in device-id/pci.h.
 */
const GLOBAL_HEADERS = [
  "include/linux/pci.h",
  "include/linux/pci_ids.h",
  "include/linux/mod_devicetable.h",
  "include/linux/device-id/pci.h",
];

export async function sourceAliases(tree: string, options: SourceOptions = {}): Promise<SourceAliases> {
  if (!existsSync(join(tree, "include/linux/pci_ids.h"))) {
    throw new InputError(`${tree}: not a kernel source tree (no include/linux/pci_ids.h)`);
  }
  const configPath = options.config ?? join(tree, ".config");
  const config = readConfig(configPath, options.config !== undefined);
  const problems: string[] = [];
  const notes: string[] = [];
  const files = cFiles(tree, problems, options.under);
  // without a config every file with a table is taken for a module of its own or of its composite
  const objects = config ? kbuildObjects(tree, config) : undefined;
  const headers = new Map<string, MacroTable>();
  const header = (path: string): MacroTable => {
    let table = headers.get(path);
    if (!table) {
      table = existsSync(path) ? headerMacros(readSource(path)) : new Map();
      headers.set(path, table);
    }
    return table;
  };
  const enums: MacroTable = new Map([
    // enum in mod_devicetable.h, not a macro
    ["PCI_ID_F_VFIO_DRIVER_OVERRIDE", { params: undefined, variadic: false, body: [{ text: "1", line: 0 }] }],
    // Kbuild passes -DMODULE to the objects of a module, which is what modules.alias is made of
    ["MODULE", { params: undefined, variadic: false, body: [{ text: "1", line: 0 }] }],
    // and -D__KERNEL__ to every object
    ["__KERNEL__", { params: undefined, variadic: false, body: [{ text: "1", line: 0 }] }],
  ]);
  const globals = chainScope(enums, ...GLOBAL_HEADERS.map((h) => header(join(tree, h))));
  const makefiles = makefileCache();
  const lines: SourceAlias[] = [];
  const notBuilt = new Set<string>();
  const builtIn = new Set<string>();
  const built = new Set<string>();
  const wanted = options.module?.replaceAll("-", "_");
  let named = 0;
  let withTables = 0;
  for (let n = 0; n < files.length; n++) {
    options.progress?.(n + 1, files.length);
    const file = files[n] as string;
    const name = relative(tree, file);
    let text: string;
    try {
      text = readSource(file);
    } catch (error) {
      problems.push(`${name}: ${whyUnreadable(error)}`);
      continue;
    }
    if (!TABLE.test(text) && !includesTable(text, file)) continue;
    const object = objects?.get(file);
    const module = object?.module ?? moduleOf(file, tree, makefiles);
    if (wanted !== undefined && module !== wanted) continue;
    named++;
    if (objects && !object) {
      notBuilt.add(module);
      continue;
    }
    (object?.builtIn ? builtIn : built).add(module);
    withTables++;
    const includeDirs = makefileIncludes(dirname(file), tree);
    const scope = chainScope(includedScope(text, file, tree, includeDirs, header), globals);
    let pre: Preprocessed;
    try {
      pre = preprocess(
        text,
        config,
        scope,
        (n, from, local) =>
          local ? readLocal(n, from, includeDirs) : tableHeader(n, from, tree, includeDirs),
        file,
      );
    } catch (error) {
      // an #if past a limit of the expansion (limits.ts): the file is reported, the others read
      if (!(error instanceof LimitError)) throw error;
      problems.push(`${name}: ${error.message}`);
      continue;
    }
    for (const entry of pciTables(pre.tokens, chainScope(pre.macros, scope, pre.retired))) {
      const where = `${entry.file ? relative(tree, entry.file) : name}:${entry.line}`;
      if (!entry.id) {
        problems.push(`${where}: ${entry.table}: ${entry.problem}`);
        continue;
      }
      const alias = pciEntryAlias(entry.id, entry.overrideOnly);
      if (alias.pattern === undefined) {
        problems.push(`${where}: ${entry.table}: ${alias.warning}`);
        continue;
      }
      lines.push(
        object?.builtIn
          ? { pattern: alias.pattern, module, origin: `${where} (built in)`, builtIn: true }
          : { pattern: alias.pattern, module, origin: where },
      );
    }
  }
  if (wanted !== undefined && named === 0) {
    throw new InputError(`no module '${options.module}' has a pci MODULE_DEVICE_TABLE in ${tree}`);
  }
  // a module one of whose files is built is built
  for (const module of [...built, ...builtIn]) notBuilt.delete(module);
  if (!config) {
    const withLines = new Set(lines.map((l) => l.module));
    const silent = [...built].filter((m) => !withLines.has(m)).length;
    notes.push(
      `no kernel config (--config FILE, or ${join(tree, ".config")}): every file with a pci table counts as a module, and every CONFIG_ option is unset in #if, so entries under #ifdef CONFIG_... are lost (${silent} module${silent === 1 ? "" : "s"} with tables got no alias line)`,
    );
  }
  if (objects) {
    notes.push(
      `${configPath}: ${notBuilt.size} module${notBuilt.size === 1 ? "" : "s"} with pci tables not built (left out)` +
        `${notBuilt.size > 0 ? `: ${[...notBuilt].slice(0, 5).join(", ")}${notBuilt.size > 5 ? ", ..." : ""}` : ""}; ` +
        `${builtIn.size} built in (=y: no modules.alias lines)`,
    );
  }
  return { lines, problems, notes, files: withTables };
}

/**
 * Whether a file #includes a local file holding a table: sound/pci/ens1371.c is
 * `#define CHIP1371` + `#include "ens1370.c"`, au8810.c includes au88x0.c, each echoaudio
 * card its shared code — one source, several modules, each with its own table; dl2k.c and
 * sisfb's sis_main.c include the header (dl2k.h, sis_main.h) that holds theirs.
 */
function includesTable(text: string, file: string, depth = 0, seen = new Set<string>([file])): boolean {
  if (depth > 4) return false; // some files include themselves, under an #if
  for (const m of text.matchAll(/^\s*#\s*include\s*"([^"]+\.[ch])"/gm)) {
    const included = readLocal(m[1] as string, file);
    // a file looked at once: a file including itself a thousand times made 1000^5 reads
    if (!included || seen.has(included.path)) continue;
    seen.add(included.path);
    if (TABLE.test(included.text) || includesTable(included.text, included.path, depth + 1, seen))
      return true;
  }
  return false;
}

/** A source file or Makefile of the tree (a FIFO or /dev/zero there is refused: safe-read.ts). */
function readSource(path: string): string {
  return readRegularText(path, "source", "latin1");
}

/** A "local" include, as cpp finds it: beside the including file, then in the -I directories. */
function readLocal(
  name: string,
  from: string,
  includeDirs: string[] = [],
): { path: string; text: string } | undefined {
  for (const dir of [dirname(from), ...includeDirs]) {
    const path = join(dir, name);
    if (existsSync(path)) return { path, text: readSource(path) };
  }
  return undefined;
}

const tableHeaders = new Map<string, { path: string; text: string } | undefined>();
/**
 * A <header> outside linux/ and asm/ that defines a pci_device_id table, read in place like a
 * local one: intel_ipu6's table is include/media/ipu6-pci-table.h (ivsc's mei_csi.c reads it
 * too, for its ids). Other <headers> only lend their macros (includedScope).
 */
function tableHeader(
  name: string,
  from: string,
  tree: string,
  includeDirs: string[],
): { path: string; text: string } | undefined {
  if (/^(linux|asm|uapi|asm-generic|vdso)\//.test(name)) return undefined;
  const path = systemHeader(name, from, tree, includeDirs);
  if (!tableHeaders.has(path)) {
    const text = existsSync(path) ? readSource(path) : "";
    tableHeaders.set(path, /struct\s+pci_device_id\s+\w+\s*\[/.test(text) ? { path, text } : undefined);
  }
  return tableHeaders.get(path);
}

/**
 * The macros of the <headers> a file and its local headers include (one level: their own
 * includes are not followed, except driver headers outside linux/ and asm/, as drm/intel's).
 */
function includedScope(
  text: string,
  file: string,
  tree: string,
  includeDirs: string[],
  header: (path: string) => MacroTable,
): MacroScope {
  const tables: MacroTable[] = [];
  const seen = new Set<string>();
  // viaGlobal: reached through a <header>; the file's own "local" chain is read in place by
  // preprocess() (with its include guards and #ifs), so its macros must not come from here
  const visit = (source: string, from: string, depth: number, viaGlobal: boolean) => {
    for (const m of source.matchAll(/^\s*#\s*include\s*(?:"([^"]+)"|<([^>]+)>)/gm)) {
      const local = m[1] !== undefined;
      const name = (m[1] ?? m[2]) as string;
      const path = local ? join(dirname(from), name) : systemHeader(name, from, tree, includeDirs);
      if (seen.has(path) || !existsSync(path)) continue;
      seen.add(path);
      // a header holding a table is read in place (tableHeader): its guard must not be defined here
      if ((!local || viaGlobal) && !(!local && tableHeader(name, from, tree, includeDirs)))
        tables.push(header(path));
      const follow = local || (!/^(linux|asm|uapi|asm-generic|vdso)\//.test(name) && depth < 3);
      if (follow && depth < 8) visit(readSource(path), path, depth + 1, viaGlobal || !local);
    }
  };
  visit(text, file, 0, false);
  return chainScope(...tables);
}

/**
 * Where `#include <name>` lands: include/, include/uapi/, arch/x86/include/, else a
 * directory above the file (drivers add theirs with ccflags -I, as qat's adf_*.h).
 */
function systemHeader(name: string, from: string, tree: string, includeDirs: string[]): string {
  for (const dir of [
    ...includeDirs,
    ...["include", "include/uapi", "arch/x86/include"].map((d) => join(tree, d)),
  ]) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  for (let dir = dirname(from); dir.length > tree.length; dir = dirname(dir)) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return join(tree, "include", name);
}

/** `-I` directories the Makefile beside a file adds (ccflags-y, subdir-ccflags-y, CFLAGS_x.o). */
function makefileIncludes(dir: string, tree: string): string[] {
  const dirs: string[] = [];
  for (const name of ["Makefile", "Kbuild"]) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const text = readSource(path);
    for (const m of text.matchAll(/-I\s*(\S+)/g)) {
      const raw = (m[1] as string)
        .replace(/\$\(srctree\)\/?/, `${tree}/`)
        .replace(/\$\((?:src|obj)\)/, relative(tree, dir));
      dirs.push(raw.startsWith("/") ? raw : join(tree, raw));
    }
  }
  return dirs;
}

function readConfig(path: string, required: boolean): Config | undefined {
  if (!existsSync(path)) {
    if (required) throw new InputError(`${path}: no such file`);
    return undefined;
  }
  let bytes: Buffer;
  try {
    bytes = readRegularFile(path, "source");
  } catch (error) {
    if (error instanceof RefusedFile) throw error;
    throw new InputError(`${path}: cannot read the kernel config (${(error as NodeJS.ErrnoException).code})`);
  }
  if (!path.endsWith(".gz")) return parseConfig(bytes.toString("latin1"));
  try {
    return parseConfig(gunzipBounded(bytes, path, "source").toString("latin1"));
  } catch (error) {
    if (error instanceof RefusedFile) throw error;
    throw new InputError(`${path}: not a readable gzip file (${(error as Error).message})`);
  }
}

/**
 * Every .c file of the tree (or of its directory `under`), sorted (the order is the report's);
 * unreadable directories are problems.
 */
function cFiles(tree: string, problems: string[], under?: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      problems.push(`${relative(tree, dir)}: cannot read (${(error as NodeJS.ErrnoException).code})`);
      return;
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name) || dir !== tree) walk(join(dir, entry.name));
      } else if (entry.name.endsWith(".c")) out.push(join(dir, entry.name));
    }
  };
  if (under === undefined) walk(tree);
  else {
    const dir = join(tree, under);
    if (relative(tree, dir).startsWith("..") || !existsSync(dir))
      throw new InputError(`${dir}: not a directory inside the tree`);
    walk(dir);
  }
  return out;
}
