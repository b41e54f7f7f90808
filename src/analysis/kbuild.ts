// Which module a C file is linked into, from the Kbuild Makefiles (Documentation/kbuild/
// makefiles.rst): `obj-$(CONFIG_X) += m.o` makes module m of m.c, or of the objects listed by
// `m-y := a.o b.o`, `m-objs := …` or `m-$(CONFIG_Y) += c.o` (paths relative to the
// Makefile's directory). A file no composite lists is its own module. Names as modpost
// writes them: `-` becomes `_`.
import { readFileSync } from "node:fs";
import { basename, dirname, join, normalize } from "node:path";

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
    text = readFileSync(makefile, "latin1");
  } catch {
    return members;
  }
  const dir = dirname(makefile);
  const joined = text.replace(/\\\n/g, " ").replace(/#[^\n]*/g, "");
  const composites = new Map<string, string[]>();
  for (const m of joined.matchAll(/^\s*([\w.-]+?)-(?:y|objs|\$\([\w]+\))\s*[:+]?=\s*(.*)$/gm)) {
    const name = m[1] as string;
    if (NOT_COMPOSITES.has(name) || name.endsWith("ccflags")) continue;
    const objects = (m[2] as string).split(/\s+/).filter((o) => o.endsWith(".o"));
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
