// Which modules a name resolves to: kmod_module_new_from_lookup (libkmod-module.c). The name
// is normalised, then the stages are tried in order and the first that finds anything
// answers, with everything it found — in that stage's order, duplicates included (libkmod
// lists a module once per matching pattern; lspci -k folds adjacent repeats).

import type { AliasLine } from "./alias-file.ts";
import type { AliasIndex } from "./alias-index.ts";
import { fnmatch } from "./fnmatch.ts";
import type { ModulesDir } from "./modules-dir.ts";
import { normalizeAlias } from "./normalize.ts";

export type LookupStage =
  | "modprobe.d alias"
  | "module name"
  | "symbol"
  | "install/remove command"
  | "modules.alias"
  | "built-in module"
  | "built-in alias";

/** The stages that answer with modules built into the kernel: nothing to load, nothing to unload. */
export function isBuiltInStage(stage: LookupStage | null): boolean {
  return stage === "built-in alias" || stage === "built-in module";
}

export interface LookupMatch {
  module: string;
  /** The line that matched, for the alias stages (its line number is computed when read). */
  alias?: AliasLine;
  /** The modprobe.d line that matched, for the config stage. */
  config?: { pattern: string; file: string; line: number };
}

export interface LookupResult {
  /** The stage that answered; null when none found anything (or the name is invalid). */
  stage: LookupStage | null;
  matches: LookupMatch[];
  /**
   * Set when libkmod's lookup fails: EINVAL for unbalanced brackets, ENAMETOOLONG when a
   * match's module name and alias do not fit its PATH_MAX key.
   */
  invalid?: string;
  /** With `invalid`: the error libkmod's kmod_module_new_from_lookup returns (negated). */
  errno?: "EINVAL" | "ENAMETOOLONG";
}

export function lookup(dir: ModulesDir, name: string): LookupResult {
  const key = normalizeAlias(name);
  if (key === undefined) return { stage: null, matches: [], invalid: "unbalanced brackets", errno: "EINVAL" };
  // Module names never hold a ':', so a modalias skips the name stages without reading them.
  const hasColon = key.includes(":");
  let matches = configAliases(dir, key);
  if (matches.length > 0) return answer("modprobe.d alias", matches);
  if (!hasColon && dir.moduleOrder.has(key)) return { stage: "module name", matches: [{ module: key }] };
  if (key.startsWith("symbol:")) {
    matches = symbols(dir, key);
    if (matches.length > 0) return answer("symbol", matches, key);
  }
  matches = commands(dir, key);
  if (matches.length > 0) return { stage: "install/remove command", matches };
  matches = byPriority(dir.aliases, key, (line) => line.priority);
  if (matches.length > 0) return answer("modules.alias", matches, key);
  if (!hasColon && dir.builtinNames.has(key)) return { stage: "built-in module", matches: [{ module: key }] };
  matches = builtinAliases(dir, key);
  if (matches.length > 0) return answer("built-in alias", matches, key);
  return { stage: null, matches: [] };
}

/** libkmod's PATH_MAX. */
const PATH_MAX = 4096;

/**
 * The answer of an alias stage. kmod_module_new_from_alias keys each module "NAME\\ALIAS" in a
 * PATH_MAX buffer and fails with ENAMETOOLONG when it does not fit; the stage then fails and
 * so does the whole lookup (the alias is the looked-up key, or the modprobe.d pattern).
 */
function answer(stage: LookupStage, matches: LookupMatch[], key?: string): LookupResult {
  for (const match of matches) {
    const alias = key ?? match.config?.pattern ?? "";
    if (match.module.length + alias.length + 2 > PATH_MAX) {
      return {
        stage: null,
        matches: [],
        invalid: "too long for libkmod (ENAMETOOLONG)",
        errno: "ENAMETOOLONG",
      };
    }
  }
  return { stage, matches };
}

/** kmod_lookup_alias_from_config: every modprobe.d alias whose pattern matches, in file order. */
function configAliases(dir: ModulesDir, key: string): LookupMatch[] {
  const aliases = dir.config.aliases;
  if (aliases.length === 0) return NONE;
  return aliases
    .filter((alias) => fnmatch(alias.pattern, key))
    .map((alias) => ({ module: alias.module, config: alias }));
}

const NONE: LookupMatch[] = [];

/** kmod_lookup_alias_from_commands: the first install command for the name, else the first remove. */
function commands(dir: ModulesDir, key: string): LookupMatch[] {
  const config = dir.config;
  if (config.install.length === 0 && config.remove.length === 0) return NONE;
  const found = config.install.find((c) => c.module === key) ?? config.remove.find((c) => c.module === key);
  return found ? [{ module: key }] : NONE;
}

/**
 * kmod_lookup_alias_from_alias_bin on an index whose values carry the module's priority:
 * add_value keeps the list sorted by priority, so the answer is in module-priority order.
 */
function byPriority(index: AliasIndex, key: string, rank: (line: AliasLine) => number): LookupMatch[] {
  const groups = index.search(key);
  if (groups.length === 0) return NONE;
  const found = groups.length === 1 ? (groups[0] as AliasLine[]) : groups.flat();
  if (found.length > 1) found.sort((a, b) => rank(a) - rank(b));
  return found.map(toMatch);
}

/** modules.symbols is written in hash order; depmod gives each symbol its module's priority. */
function symbols(dir: ModulesDir, key: string): LookupMatch[] {
  const source = dir.symbols;
  if (!source) return [];
  const order = dir.moduleOrder;
  return byPriority(source.index, key, (line) => order.get(line.module) ?? Number.MAX_SAFE_INTEGER);
}

function toMatch(alias: AliasLine): LookupMatch {
  return { module: alias.module, alias };
}

/**
 * modules.builtin.alias.bin: every value has priority 0 and add_value inserts a value before
 * the others of equal priority, so the answer is the walk's order reversed, pattern by
 * pattern (the lines of one pattern keep their file order: depmod stored them reversed).
 */
function builtinAliases(dir: ModulesDir, key: string): LookupMatch[] {
  const index = dir.builtinAliases;
  if (!index) return [];
  return index.search(key).reverse().flat().map(toMatch);
}
