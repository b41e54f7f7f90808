// Before `set` changes a device, the rule it will save is checked against the rules directory,
// so that what set says ("saved") is what the next boot does, and nothing is half done:
// a rule the parser could not read back equal is refused (exit 64), a damaged file in the way
// is refused (exit 2: saveRule never overwrites one), and a rule another rule would override
// is refused (exit 3) — after a reboot the other rule, not the saved one, would decide.
// Then the rule is saved ahead of the first change (saveAhead), like a journal's intent: a
// set killed midway leaves its rule, and the next apply (or boot) finishes the move; a set that
// fails puts the directory back as it was.
import { join } from "node:path";
import { ExitCode, FlavourError, InputError, UsageError } from "../errors.ts";
import { formatRule, formatSelector, type Rule, type RuleSubject, ruleFor, ruleProblem } from "./rules.ts";
import { loadRules, removeRule, saveRule } from "./rules-store.ts";

export interface PlannedSave {
  rule: Rule;
  /** The device the rule is saved for (set's ADDRESS, or a member of its group). */
  subject: RuleSubject;
}

/** Throws, before anything is changed, when a planned save must not go ahead. */
export function checkSaves(dir: string, saves: readonly PlannedSave[]): void {
  for (const { rule } of saves) {
    const problem = ruleProblem(rule);
    if (problem)
      throw new UsageError(`${problem} (nothing changed; --no-save gives the flavour without a rule)`);
  }
  const { rules, errors } = loadRules(dir);
  for (const { rule } of saves) {
    const path = join(dir, `${rule.name}.rule`);
    const damaged = errors.find((e) => e.message.startsWith(`${path}:`));
    if (damaged)
      throw new InputError(
        `${damaged.message} — set would save ${path}: fix or remove it first (nothing changed)`,
      );
  }
  for (const { rule, subject } of saves) {
    const others = rules.filter((r) => r.name !== rule.name);
    const winner = ruleFor([...others, rule], subject);
    if (!winner || winner.name === rule.name || sameRequest(winner, rule)) continue;
    throw new FlavourError(
      `rule ${winner.file ?? winner.name} (match ${formatSelector(winner.selector)}) also names ${subject.address} and ` +
        `would decide it instead of the rule set saves (${describe(winner)}, not ${describe(rule)}): ` +
        `the most specific kind of match wins, then the first file name, so after a reboot it would; remove it ('flavourctl rules --remove ${winner.name}') or use --no-save (nothing changed)`,
      ExitCode.refused,
    );
  }
}

function sameRequest(a: Rule, b: Rule): boolean {
  return a.flavour === b.flavour && a.driver === b.driver && a.group === b.group;
}

function describe(rule: Rule): string {
  return `${rule.flavour}${rule.driver === undefined ? "" : ` ${rule.driver}`}${rule.group ? " with its group" : ""}`;
}

export interface SavedAhead {
  paths: string[];
  /** Puts each rule back as it was before (re-saved from its parsed form), or removes it. */
  undo: () => void;
}

/** Saves the planned rules before the device moves; undo() when the command fails. */
export function saveAhead(dir: string, saves: readonly PlannedSave[]): SavedAhead {
  const { rules } = loadRules(dir);
  const previous = saves.map(({ rule }) => rules.find((r) => r.name === rule.name));
  const paths: string[] = [];
  const undo = () => {
    for (const [i, { rule }] of saves.slice(0, paths.length).entries()) {
      const before = previous[i];
      if (before) saveRule(dir, { ...before, file: undefined });
      else removeRule(dir, rule.name);
    }
  };
  try {
    for (const { rule } of saves) paths.push(saveRule(dir, rule));
  } catch (error) {
    undo(); // a group's rules are saved all or none
    throw error;
  }
  return { paths, undo };
}

/** What a command does (or, dry, would do) to one rule file: `--json`'s `rules`. */
export interface RuleChange {
  name: string;
  path: string;
  /** add: no such rule yet; replace: it says something else; keep: it says this already; remove. */
  change: "add" | "replace" | "keep" | "remove";
}

/**
 * The change each planned save makes to the rules directory, read before it is made: an
 * automation tool (the Ansible modules) calls a run with nothing to do and every rule `keep`
 * unchanged. Two rules are the same when their files would read the same (formatRule).
 */
export function saveChanges(dir: string, saves: readonly PlannedSave[]): RuleChange[] {
  const { rules } = loadRules(dir);
  return saves.map(({ rule }) => {
    const existing = rules.find((r) => r.name === rule.name);
    const change =
      existing === undefined ? "add" : formatRule(existing) === formatRule(rule) ? "keep" : "replace";
    return { name: rule.name, path: join(dir, `${rule.name}.rule`), change };
  });
}
