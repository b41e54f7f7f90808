// A module's soft dependencies as modprobe loads them: kmod_module_get_softdeps
// (libkmod-module.c). The FIRST modprobe.d (or modules.softdep) `softdep` line whose module
// name, a glob, matches the module answers alone ("find only the first command, as modprobe
// from module-init-tools does"), and each name after `pre:`/`post:` is looked up
// (lookup_softdep: kmod_module_new_from_lookup), so an alias stands for every module it
// resolves to; a name whose lookup fails or finds nothing adds nothing.
import { fnmatch } from "./fnmatch.ts";
import { lookup } from "./lookup.ts";
import type { ModulesDir } from "./modules-dir.ts";

export interface Softdeps {
  pre: string[];
  post: string[];
}

/** C isspace() in the C locale: what kmod_config_add_softdep splits a softdep line at. */
const SPACES = /[ \t\n\v\f\r]+/;

/** kmod_config_add_softdep: `pre:` and `post:` choose the list the next words go to; words before either are dropped. */
export function softdepNames(spec: string): Softdeps {
  const names: Softdeps = { pre: [], post: [] };
  let into: string[] | undefined;
  for (const word of spec.split(SPACES)) {
    if (word === "pre:") into = names.pre;
    else if (word === "post:") into = names.post;
    else if (word !== "") into?.push(word);
  }
  return names;
}

/** The modules loaded before (pre) and after (post) MODULE, in libkmod's order. */
export function softdeps(dir: ModulesDir, module: string): Softdeps {
  const line = dir.config.softdeps.find((softdep) => fnmatch(softdep.module, module));
  if (!line) return { pre: [], post: [] };
  const names = softdepNames(line.spec);
  const resolve = (list: string[]) => list.flatMap((name) => lookup(dir, name).matches.map((m) => m.module));
  return { pre: resolve(names.pre), post: resolve(names.post) };
}
