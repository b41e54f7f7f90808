// Just enough of GNU make to read a Kbuild file's variables: `=`, `:=`, `+=`, `?=` (LHS
// expanded, so `obj-$(CONFIG_X)` becomes `obj-y`, `obj-m` or `obj-`), `$(VAR)`, `$(VAR:a=b)`,
// the functions Kbuild files use for object lists (subst, patsubst, filter, filter-out, if, or,
// and, strip, addprefix, addsuffix, sort, firstword), ifeq/ifneq/ifdef/ifndef/else/endif, and
// `include`. The kernel's .config is read by make as a file of variables (include/config/
// auto.conf), so CONFIG_X is `y`, `m`, a value, or empty. Recipes and rules are ignored.

import { join } from "node:path";
import { RefusedFile, readRegularText } from "../safe-read.ts";
import { LIMITS, LimitError } from "./limits.ts";

export interface MakeVars {
  get(name: string): string;
}

interface Variable {
  value: string;
  /** `=`: expanded each time it is used (make's recursive flavour). */
  recursive: boolean;
}

/**
 * The variables after reading `file`. `initial` holds values set before (src, srctree, …);
 * `lookup` answers names no assignment set (CONFIG_ options). `includeRoot` resolves an
 * `include` path that is not absolute.
 */
export function readMakeVars(
  file: string,
  initial: Record<string, string>,
  lookup: (name: string) => string | undefined,
  includeRoot: string,
): MakeVars {
  const vars = new Map<string, Variable>();
  for (const [name, value] of Object.entries(initial)) vars.set(name, { value, recursive: false });
  const get = (name: string, depth: number): string => {
    const v = vars.get(name);
    if (v === undefined) return lookup(name) ?? "";
    return v.recursive ? expand(v.value, depth + 1) : v.value;
  };
  const expand = (text: string, depth = 0): string =>
    depth > 20 ? "" : expandText(text, (n) => get(n, depth));
  // a value past a limit of the expansion ends the walk, naming the Makefile being read
  const named = new Set<Error>();
  const naming = (path: string, error: unknown): unknown => {
    if (!(error instanceof LimitError) || named.has(error)) return error;
    const located = new LimitError(`${path}: ${error.message}`);
    named.add(located);
    return located;
  };
  const read = (path: string, depth: number) => {
    try {
      readLines(path, depth);
    } catch (error) {
      throw naming(path, error);
    }
  };
  const readLines = (path: string, depth: number) => {
    let text: string;
    try {
      text = readRegularText(path, "source", "latin1");
    } catch (error) {
      if (error instanceof RefusedFile) throw error; // a FIFO or a huge file: said, not skipped
      return; // make's `-include`; a missing `include` stops make, here it only loses variables
    }
    // each level: [this branch taken, some branch already taken, parent active]
    const stack: { active: boolean; taken: boolean; parent: boolean }[] = [];
    const active = () => stack.every((s) => s.active);
    for (const raw of text.replace(/\\\n/g, " ").split("\n")) {
      if (raw.startsWith("\t")) continue; // a recipe line
      const line = raw.replace(/(^|[^\\])#.*$/, "$1").trim();
      const cond = /^(?:(else)\s*)?(ifeq|ifneq|ifdef|ifndef)\b\s*(.*)$/.exec(line);
      if (cond) {
        const value = condition(cond[2] as string, cond[3] as string, expand);
        if (cond[1]) {
          const top = stack[stack.length - 1];
          if (!top) continue;
          top.active = top.parent && !top.taken && value;
          top.taken ||= top.active;
        } else {
          const parent = active();
          stack.push({ active: parent && value, taken: parent && value, parent });
        }
        continue;
      }
      if (line === "else") {
        const top = stack[stack.length - 1];
        if (top) {
          top.active = top.parent && !top.taken;
          top.taken = true;
        }
        continue;
      }
      if (line === "endif") {
        stack.pop();
        continue;
      }
      if (!active()) continue;
      const include = /^-?include\s+(.+)$/.exec(line);
      if (include) {
        if (depth < 6) {
          for (const name of expand(include[1] as string)
            .split(/\s+/)
            .filter(Boolean))
            read(name.startsWith("/") ? name : join(includeRoot, name), depth + 1);
        }
        continue;
      }
      const assign = /^(?:(?:override|export)\s+)?([^:+?=\s#][^:+?=#]*?)\s*(::=|:=|\+=|\?=|=)\s*(.*)$/.exec(
        line,
      );
      if (!assign || /^(define|endef|undefine|unexport|vpath)\b/.test(line)) continue;
      const name = expand(assign[1] as string).trim();
      const [op, value] = [assign[2] as string, assign[3] as string];
      const old = vars.get(name);
      if (op === "?=" && (old !== undefined || lookup(name) !== undefined)) continue;
      if (op === "+=" && old) {
        old.value = bounded(`${old.value} ${old.recursive ? value : expand(value)}`);
      } else if (op === "=" || op === "?=" || op === "+=") {
        vars.set(name, { value, recursive: true });
      } else vars.set(name, { value: expand(value), recursive: false });
    }
  };
  read(file, 0);
  return {
    get: (name) => {
      try {
        return get(name, 0);
      } catch (error) {
        throw naming(file, error);
      }
    },
  };
}

/** ifeq (a,b) / ifeq "a" "b" / ifdef VAR: the condition's truth. */
function condition(kind: string, args: string, expand: (text: string) => string): boolean {
  if (kind === "ifdef" || kind === "ifndef") {
    const defined = expand(`$(${args.trim()})`) !== "";
    return kind === "ifdef" ? defined : !defined;
  }
  let pair: [string, string] | undefined;
  const paren = /^\((.*)\)$/.exec(args.trim());
  if (paren) {
    const parts = splitArgs(paren[1] as string);
    if (parts.length === 2) pair = [parts[0] as string, parts[1] as string];
  } else {
    const quoted = /^(["'])(.*?)\1\s+(["'])(.*?)\3$/.exec(args.trim());
    if (quoted) pair = [quoted[2] as string, quoted[4] as string];
  }
  if (!pair) return false;
  // make strips the spaces around each argument of the parenthesised form
  const equal = expand(pair[0]).trim() === expand(pair[1]).trim();
  return kind === "ifeq" ? equal : !equal;
}

/** Splits at commas outside parentheses. */
function splitArgs(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "(" || c === "{") depth++;
    else if (c === ")" || c === "}") depth--;
    else if (c === "," && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

const words = (text: string) => text.split(/\s+/).filter(Boolean);

/** make's `%` pattern: one `%` matching any stem. */
function patternMatch(pattern: string, word: string): string | undefined {
  const at = pattern.indexOf("%");
  if (at < 0) return pattern === word ? "" : undefined;
  const [pre, post] = [pattern.slice(0, at), pattern.slice(at + 1)];
  return word.length >= pre.length + post.length && word.startsWith(pre) && word.endsWith(post)
    ? word.slice(pre.length, word.length - post.length)
    : undefined;
}

function patsubst(pattern: string, replacement: string, text: string): string {
  return words(text)
    .map((w) => {
      const stem = patternMatch(pattern, w);
      return stem === undefined ? w : replacement.replace("%", stem);
    })
    .join(" ");
}

const FUNCTIONS: Record<string, (args: string[], expand: (t: string) => string) => string> = {
  subst: ([from, to, text], e) => e(text ?? "").replaceAll(e(from ?? ""), e(to ?? "")),
  patsubst: ([p, r, text], e) => patsubst(e(p ?? "").trim(), e(r ?? "").trim(), e(text ?? "")),
  filter: ([p, text], e) => {
    const patterns = words(e(p ?? ""));
    return words(e(text ?? ""))
      .filter((w) => patterns.some((q) => patternMatch(q, w) !== undefined))
      .join(" ");
  },
  "filter-out": ([p, text], e) => {
    const patterns = words(e(p ?? ""));
    return words(e(text ?? ""))
      .filter((w) => !patterns.some((q) => patternMatch(q, w) !== undefined))
      .join(" ");
  },
  if: ([c, a, b], e) => (e(c ?? "").trim() !== "" ? e(a ?? "") : e(b ?? "")),
  or: (args, e) => {
    for (const a of args) {
      const v = e(a).trim();
      if (v !== "") return v;
    }
    return "";
  },
  and: (args, e) => {
    let v = "";
    for (const a of args) {
      v = e(a).trim();
      if (v === "") return "";
    }
    return v;
  },
  strip: ([t], e) => words(e(t ?? "")).join(" "),
  sort: ([t], e) => [...new Set(words(e(t ?? "")))].sort().join(" "),
  firstword: ([t], e) => words(e(t ?? ""))[0] ?? "",
  addprefix: ([p, t], e) =>
    words(e(t ?? ""))
      .map((w) => e(p ?? "").trim() + w)
      .join(" "),
  addsuffix: ([s, t], e) =>
    words(e(t ?? ""))
      .map((w) => w + e(s ?? "").trim())
      .join(" "),
};

/**
 * Expands `$(…)`, `${…}` and `$$` in text; unknown functions (shell, call, …) are empty. A
 * LimitError past LIMITS.makeValueBytes (`A := $(A) $(A)` doubles at each line) or
 * LIMITS.makeNesting.
 */
function expandText(text: string, get: (name: string) => string, nesting = 0): string {
  if (nesting > LIMITS.makeNesting) {
    throw new LimitError(`make references nested more than ${LIMITS.makeNesting} deep (the limit)`);
  }
  const e = (t: string) => bounded(expandText(t, get, nesting + 1));
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c !== "$") {
      out += c;
      continue;
    }
    const open = text[i + 1];
    if (open === "$") {
      out += "$";
      i++;
      continue;
    }
    if (open !== "(" && open !== "{") {
      i++; // $@, $<, …: automatic variables, empty outside a recipe
      continue;
    }
    const close = open === "(" ? ")" : "}";
    let depth = 0;
    let end = i + 1;
    for (; end < text.length; end++) {
      if (text[end] === open) depth++;
      else if (text[end] === close && --depth === 0) break;
    }
    const inner = text.slice(i + 2, end);
    i = end;
    const fn = /^([a-z-]+)\s+([\s\S]*)$/.exec(inner);
    if (fn) {
      const f = FUNCTIONS[fn[1] as string];
      if (f) out = bounded(out + f(splitArgs(fn[2] as string), e));
      continue;
    }
    // $(VAR:a=b): a substitution reference, the patsubst of each word's suffix
    const ref = /^([^:]*):([^=]*)=(.*)$/.exec(inner);
    if (ref) {
      const [from, to] = [ref[2] as string, ref[3] as string];
      out = bounded(
        out +
          patsubst(
            from.includes("%") ? from : `%${from}`,
            to.includes("%") ? to : `%${to}`,
            get(e(ref[1] as string)),
          ),
      );
      continue;
    }
    out = bounded(out + get(e(inner).trim()));
  }
  return out;
}

/** `value`, when it is not longer than LIMITS.makeValueBytes. */
function bounded(value: string): string {
  if (value.length > LIMITS.makeValueBytes) {
    throw new LimitError(`a make variable expands to more than ${LIMITS.makeValueBytes} bytes (the limit)`);
  }
  return value;
}
