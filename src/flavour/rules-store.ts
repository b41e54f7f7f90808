// The rules directory (/etc/flavourctl/rules.d, or --config DIR): one `NAME.rule` file per
// rule, written atomically (writeFileAtomically: a new temp file, fsync, rename, fsync of the
// directory) so that a power loss leaves either the old rule or the new one, never half of one. A damaged file is
// reported with its path and line, never skipped silently, and never overwritten.
import { readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomically } from "../atomic-write.ts";
import { InputError, UsageError } from "../errors.ts";
import { readControlledText, readRegularText, whyUnreadable } from "../safe-read.ts";
import { makeDirectory } from "../safe-write.ts";
import { formatRule, parseRule, type Rule, ruleProblem } from "./rules.ts";

export const DEFAULT_RULES_DIR = "/etc/flavourctl/rules.d";
const SUFFIX = ".rule";

export interface LoadedRules {
  rules: Rule[];
  /** One message per damaged file; its rule is not applied. */
  errors: InputError[];
}

export function loadRules(dir: string): LoadedRules {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { rules: [], errors: [] };
    return { rules: [], errors: [new InputError(`${dir}: cannot list rules (${code})`)] };
  }
  const rules: Rule[] = [];
  const errors: InputError[] = [];
  // Temp files of an interrupted save start with a dot and are not rules.
  for (const file of names.filter((n) => n.endsWith(SUFFIX) && !n.startsWith(".")).sort()) {
    const path = join(dir, file);
    const name = file.slice(0, -SUFFIX.length);
    try {
      rules.push(parseRule(name, readControlledText(path, "rule"), path));
    } catch (error) {
      if (error instanceof InputError) errors.push(error);
      else errors.push(new InputError(`${path}: ${whyUnreadable(error)}`));
    }
  }
  return { rules, errors };
}

export interface SaveHooks {
  /** Test seam: runs after the temp file is durable and before the rename. */
  beforeRename?: () => void;
}

export function saveRule(dir: string, rule: Rule, hooks: SaveHooks = {}): string {
  const problem = ruleProblem(rule);
  if (problem) throw new UsageError(`cannot save rule ${rule.name}: ${problem}`);
  makeDirectory(dir);
  const path = join(dir, `${rule.name}${SUFFIX}`);
  try {
    parseRule(rule.name, readRegularText(path, "rule"), path);
  } catch (error) {
    if (error instanceof InputError) {
      throw new InputError(`${error.message} — not overwriting a damaged rule file; fix or remove it first`);
    }
    // ENOENT: a new rule
  }
  writeFileAtomically(path, formatRule(rule), { mode: 0o644, beforeRename: hooks.beforeRename });
  return path;
}

/**
 * Removes NAME.rule. Any file loadRules applies can be removed, a hand-written `x y.rule`
 * too: NAME need only be a file name (no `/`, not `.` or `..`), never a path.
 */
export function removeRule(dir: string, name: string): boolean {
  if (name === "" || name === "." || name === ".." || /[/\0]/.test(name))
    throw new UsageError(`invalid rule name '${name}'`);
  try {
    unlinkSync(join(dir, `${name}${SUFFIX}`));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}
