// Which module a C file is linked into, from the Kbuild Makefiles (Documentation/kbuild/
// makefiles.rst): `obj-$(CONFIG_X) += m.o` makes module m of m.c, or of the objects listed by
// `m-y := a.o b.o`, `m-objs := …` or `m-$(CONFIG_Y) += c.o` (paths relative to the
// Makefile's directory). Names as modpost writes them: `-` becomes `_`. Without a config
// (compositeMembers, moduleOf) every file counts: a file no composite lists is its own module.
// With one (kbuildObjects) only what Kbuild builds from it, module or built in.
import { existsSync, readdirSync } from "node:fs";
import { basename, dirname, join, normalize, relative } from "node:path";
import { RefusedFile, readRegularText } from "../safe-read.ts";
import type { Config } from "./c-preprocess.ts";
import { readMakeVars } from "./make-vars.ts";

/** Kbuild lists that are not composite objects. */
const NOT_COMPOSITES = new Set([
  "obj",
  "lib",
  "subdir",
  "extra",
  "always",
  "hostprogs",
  "userprogs",
  "targets",
  "asflags",
  "ldflags",
]);

/** Composite objects of one Makefile: member .c path (absolute) → module name. */
export function compositeMembers(makefile: string): Map<string, string> {
  const members = new Map<string, string>();
  let text: string;
  try {
    text = readRegularText(makefile, "source", "latin1");
  } catch (error) {
    if (error instanceof RefusedFile) throw error; // a FIFO or a huge file: said, not skipped
    return members;
  }
  const dir = dirname(makefile);
  const joined = withIncludes(text, dir)
    .replace(/\\\n/g, " ")
    .replace(/#[^\n]*/g, "");
  const variables = new Map<string, string>();
  for (const m of joined.matchAll(/^\s*([A-Za-z_]\w*)\s*([:+]?)=\s*(.*)$/gm)) {
    const name = m[1] as string;
    variables.set(name, m[2] === "+" ? `${variables.get(name) ?? ""} ${m[3]}` : (m[3] as string));
  }
  const composites = new Map<string, string[]>();
  for (const m of joined.matchAll(/^\s*([\w.-]+?)-(?:y|objs|\$\([\w]+\))\s*[:+]?=\s*(.*)$/gm)) {
    const name = m[1] as string;
    if (NOT_COMPOSITES.has(name) || name.endsWith("ccflags")) continue;
    const objects = expand(m[2] as string, variables)
      .split(/\s+/)
      .filter((o) => o.endsWith(".o"));
    const list = composites.get(name) ?? [];
    list.push(...objects);
    composites.set(name, list);
  }
  for (const [name, objects] of composites) {
    for (const object of objects) {
      if (object === `${name}.o`) continue; // `m-y := m.o` lists the file itself
      const source = normalize(join(dir, object.replace(/\.o$/, ".c")));
      if (!members.has(source)) members.set(source, moduleName(name));
    }
  }
  return members;
}

/**
 * The Makefile with its `include $(src)/…` lines replaced by the files they name (paths of
 * an included Makefile stay relative to the including one: drivers/accel/habanalabs lists its
 * objects in common/Makefile, goya/Makefile, … as HL_*_FILES).
 */
function withIncludes(text: string, dir: string, depth = 0): string {
  if (depth > 4) return text;
  return text.replace(/^\s*include\s+\$\(src\)\/(\S+)\s*$/gm, (line, path: string) => {
    try {
      return withIncludes(readRegularText(join(dir, path), "source", "latin1"), dir, depth + 1);
    } catch (error) {
      if (error instanceof RefusedFile) throw error;
      return line;
    }
  });
}

/** `$(VAR)` replaced by the variable's value (make's recursive expansion, a few levels deep). */
function expand(value: string, variables: Map<string, string>, depth = 0): string {
  if (depth > 4) return value;
  return value.replace(/\$\(([A-Za-z_]\w*)\)/g, (ref, name: string) => {
    const v = variables.get(name);
    return v === undefined ? ref : expand(v, variables, depth + 1);
  });
}

export function moduleName(name: string): string {
  return name.replaceAll("-", "_");
}

/**
 * The module of `file`: the composite that lists it in its own directory's Makefile or in a
 * parent directory's (composites may name `sub/x.o`), else the file's own name.
 */
export function moduleOf(
  file: string,
  tree: string,
  makefiles: (dir: string) => Map<string, string>,
): string {
  for (let dir = dirname(file); dir.startsWith(tree) && dir.length >= tree.length; dir = dirname(dir)) {
    const module = makefiles(dir).get(file);
    if (module) return module;
    if (dir === tree) break;
  }
  return moduleName(basename(file, ".c"));
}

/** A cached reader of each directory's Makefile or Kbuild file. */
export function makefileCache(): (dir: string) => Map<string, string> {
  const cache = new Map<string, Map<string, string>>();
  return (dir) => {
    let members = cache.get(dir);
    if (!members) {
      members = new Map([
        ...compositeMembers(join(dir, "Kbuild")),
        ...compositeMembers(join(dir, "Makefile")),
      ]);
      cache.set(dir, members);
    }
    return members;
  };
}

export interface BuiltObject {
  module: string;
  /** Linked into vmlinux (=y): modpost writes no modules.alias line for it. */
  builtIn: boolean;
}

/**
 * Every C file the config compiles, with the module it is linked into: Kbuild's walk from the
 * top Kbuild file (scripts/Makefile.build): a directory is descended into when `obj-y`,
 * `obj-m`, `subdir-y` or `subdir-m` names it (`obj-$(CONFIG_X) += dir/` with X=y or m), an
 * object is built in when `obj-y` lists it and a module when only `obj-m` does (Makefile.lib:
 * `obj-m := $(filter-out $(obj-y),$(obj-m))`); a composite `m.o` is made of `m-y`, `m-objs`
 * (and `m-m` for a module). A directory reads its `Kbuild` file, else its `Makefile`. A file
 * the walk never reaches is not built. arch/ is the config's own (CONFIG_X86 → arch/x86).
 */
export function kbuildObjects(tree: string, config: Config): Map<string, BuiltObject> {
  const lookup = (name: string) => (name.startsWith("CONFIG_") ? config.get(name) : undefined);
  const arch = archOf(tree, config);
  const base = { ARCH: arch, SRCARCH: arch, srctree: tree, objtree: tree };
  // the top Makefile's ARCH_CORE, ARCH_LIB and ARCH_DRIVERS, from arch/$(SRCARCH)/Makefile
  const archVars = readMakeVars(join(tree, "arch", arch, "Makefile"), base, lookup, tree);
  const top = {
    ...base,
    ARCH_CORE: `${archVars.get("core-y")}`,
    ARCH_LIB: `lib/ ${archVars.get("libs-y")}`
      .split(/\s+/)
      .filter((w) => w.endsWith("/"))
      .join(" "),
    ARCH_DRIVERS: `${archVars.get("drivers-y")} ${archVars.get("drivers-m")}`,
  };
  const objects = new Map<string, BuiltObject>();
  const visited = new Set<string>();
  const visit = (dir: string, initial: Record<string, string>) => {
    if (visited.has(dir)) return;
    visited.add(dir);
    const rel = relative(tree, dir) || ".";
    const file = existsSync(join(dir, "Kbuild")) ? join(dir, "Kbuild") : join(dir, "Makefile");
    const vars = readMakeVars(file, { ...initial, src: rel, obj: rel }, lookup, tree);
    const list = (name: string) => vars.get(name).split(/\s+/).filter(Boolean);
    const builtIn = list("obj-y");
    const modules = list("obj-m").filter((o) => !builtIn.includes(o));
    for (const [entries, isBuiltIn] of [
      [builtIn, true],
      [modules, false],
    ] as const) {
      for (const entry of entries) {
        if (entry.endsWith("/")) continue;
        if (!entry.endsWith(".o")) continue;
        const name = entry.slice(0, -2);
        const parts = [
          ...list(`${name}-y`),
          ...list(`${name}-objs`),
          ...(isBuiltIn ? [] : list(`${name}-m`)),
        ];
        const module = moduleName(basename(name));
        for (const object of parts.length > 0 ? parts : [entry]) {
          if (!object.endsWith(".o")) continue;
          const source = normalize(join(dir, object.replace(/\.o$/, ".c")));
          const known = objects.get(source);
          if (!known || (isBuiltIn && !known.builtIn)) objects.set(source, { module, builtIn: isBuiltIn });
        }
      }
    }
    const subdirs = [...list("obj-y"), ...list("obj-m"), ...list("subdir-y"), ...list("subdir-m")]
      .filter((e) => e.endsWith("/") || !e.includes("."))
      .map((e) => normalize(join(dir, e)));
    for (const sub of subdirs) if (sub.startsWith(tree)) visit(sub, base);
  };
  visit(tree, top);
  return objects;
}

/** The arch/ directory a config is for: the one whose CONFIG_<NAME> is y (CONFIG_X86, CONFIG_ARM64). */
function archOf(tree: string, config: Config): string {
  let dirs: string[] = [];
  try {
    dirs = readdirSync(join(tree, "arch"));
  } catch {
    return "x86";
  }
  return dirs.find((d) => config.get(`CONFIG_${d.toUpperCase()}`) === "y") ?? "x86";
}
