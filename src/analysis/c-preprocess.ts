// Just enough of the C preprocessor to read id tables: comments and line continuations
// removed, tokens with their line numbers, #define/#undef, #if/#ifdef/#ifndef/#elif/#else/
// #endif decided against a kernel .config (CONFIG_FOO=y|m; IS_ENABLED, IS_BUILTIN,
// IS_MODULE, defined), and macro expansion with `##` pasting and `#` stringizing
// (the cpp rules of C11 6.10.3, without the corner cases id tables never use). What a file can
// make it do is bounded (limits.ts): tokens one expansion makes, macros nested, brackets nested.
import { LIMITS, LimitError } from "./limits.ts";

export interface Token {
  text: string;
  line: number;
  /** The header the token was read from, when not the file itself. */
  file?: string;
}

export interface Macro {
  params: string[] | undefined;
  /** `...` as the last parameter: __VA_ARGS__. */
  variadic: boolean;
  body: Token[];
}

export type MacroTable = Map<string, Macro>;

/** Macros looked up in order: the file's own, then the headers it reads. */
export interface MacroScope {
  get(name: string): Macro | undefined;
}

export function chainScope(...tables: MacroScope[]): MacroScope {
  return {
    get(name) {
      for (const table of tables) {
        const macro = table.get(name);
        if (macro) return macro;
      }
      return undefined;
    },
  };
}

const TOKEN =
  /([A-Za-z_]\w*)|(\.?\d(?:[\w.]|[eEpP][+-])*)|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|(##|<<=?|>>=?|->|\+\+|--|&&|\|\||[<>=!]=|\.\.\.|[^\s\w])|(\n)/g;

/** Comments become spaces (newlines kept, so line numbers stay right); `\` + newline joins lines. */
export function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, (m) =>
    m.startsWith("/") ? m.replace(/[^\n]/g, " ") : m,
  );
}

/** Logical lines: physical lines joined at `\`, each with the number of its first line. */
export function logicalLines(text: string): { text: string; line: number }[] {
  const physical = text.split("\n");
  const out: { text: string; line: number }[] = [];
  for (let i = 0; i < physical.length; i++) {
    const start = i;
    let line = physical[i] as string;
    while (line.endsWith("\\") && i + 1 < physical.length)
      line = line.slice(0, -1) + (physical[++i] as string);
    out.push({ text: line, line: start + 1 });
  }
  return out;
}

export function tokenize(text: string, line: number): Token[] {
  const tokens: Token[] = [];
  for (const m of text.matchAll(TOKEN)) {
    if (m[5]) {
      line++;
      continue;
    }
    tokens.push({ text: m[0], line });
  }
  return tokens;
}

export interface Config {
  /** CONFIG_FOO → "y", "m", or a value. */
  get(name: string): string | undefined;
}

/** A .config file's text. */
export function parseConfig(text: string): Config {
  const values = new Map<string, string>();
  for (const m of text.matchAll(/^(CONFIG_\w+)=(.*)$/gm)) values.set(m[1] as string, m[2] as string);
  return values;
}

export interface Preprocessed {
  /** The tokens that survive the conditionals, directives removed. */
  tokens: Token[];
  /** The file's own macros (after the whole file). */
  macros: MacroTable;
  /**
   * Macros the file #undefs, at their last definition. Tables are expanded after the whole
   * file is read, so a macro defined for a table and undefined after it (xe's
   * INTEL_VGA_DEVICE) is looked up here last.
   */
  retired: MacroTable;
  /** `#include "x"` and `#include <x>` names, in order. */
  includes: { name: string; local: boolean }[];
}

/**
 * Runs the directives of one file. `outer` resolves macros the file does not define (for
 * #if); conditionals are decided with `config` (no config: every CONFIG_ is unset).
 */
export function preprocess(
  text: string,
  config: Config | undefined,
  outer: MacroScope,
  /** Text of an #include to read in place (`local`: the "…" form), or undefined to skip it. */
  readInclude: (
    name: string,
    from: string,
    local: boolean,
  ) => { path: string; text: string } | undefined = () => undefined,
  path = "",
): Preprocessed {
  const macros: MacroTable = new Map();
  const includes: { name: string; local: boolean }[] = [];
  const tokens: Token[] = [];
  const scope = chainScope(macros, outer);
  const retired: MacroTable = new Map();
  const inlined = new Set<string>();
  run(text, path, 0);
  return { tokens, macros, retired, includes };

  function run(text: string, path: string, depth: number): void {
    // each level: [taking this branch, some branch already taken, parent active]
    // (one stack per file: an #if never spans files)
    const stack: { active: boolean; taken: boolean; parent: boolean }[] = [];
    const active = () => stack.length === 0 || (stack[stack.length - 1] as { active: boolean }).active;
    for (const { text: line, line: number } of logicalLines(stripComments(text))) {
      const directive = /^\s*#\s*(\w*)\s*(.*)$/.exec(line);
      if (!directive) {
        if (active()) {
          for (const token of tokenize(line, number))
            tokens.push(depth > 0 ? { ...token, file: path } : token);
        }
        continue;
      }
      const [, name, rest] = directive as unknown as [string, string, string];
      switch (name) {
        case "if":
        case "ifdef":
        case "ifndef": {
          const parent = active();
          let value = false;
          if (parent) {
            const word = rest.trim().split(/\s/)[0] ?? "";
            value =
              name === "ifdef"
                ? isDefined(word, scope, config)
                : name === "ifndef"
                  ? !isDefined(word, scope, config)
                  : evalCondition(rest, scope, config, number);
          }
          stack.push({ active: parent && value, taken: value, parent });
          break;
        }
        case "elif": {
          const top = stack[stack.length - 1];
          if (!top) break;
          const value = top.parent && !top.taken && evalCondition(rest, scope, config, number);
          top.active = value;
          top.taken ||= value;
          break;
        }
        case "else": {
          const top = stack[stack.length - 1];
          if (!top) break;
          top.active = top.parent && !top.taken;
          top.taken = true;
          break;
        }
        case "endif":
          stack.pop();
          break;
        case "define":
          if (active()) {
            const parsed = parseDefine(rest, number);
            if (parsed) macros.set(parsed[0], parsed[1]);
          }
          break;
        case "undef":
          if (active()) {
            const macro = macros.get(rest.trim());
            if (macro) retired.set(rest.trim(), macro);
            macros.delete(rest.trim());
          }
          break;
        case "include": {
          if (!active()) break;
          const m = /^\s*(?:"([^"]+)"|<([^>]+)>)/.exec(rest);
          if (!m) break;
          includes.push(m[1] ? { name: m[1], local: true } : { name: m[2] as string, local: false });
          // read in place, as cpp does, what the caller asks for: tables and macros live in such headers
          const found =
            depth < 8 ? readInclude((m[1] ?? m[2]) as string, path, m[1] !== undefined) : undefined;
          if (found && !inlined.has(found.path)) {
            inlined.add(found.path);
            run(found.text, found.path, depth + 1);
          }
          break;
        }
      }
    }
  }
}

/** Every #define of a header, conditionals ignored (the first definition wins): cheap and cacheable. */
export function headerMacros(text: string): MacroTable {
  const macros: MacroTable = new Map();
  for (const { text: line, line: number } of logicalLines(stripComments(text))) {
    const m = /^\s*#\s*define\s+(.*)$/.exec(line);
    if (!m) continue;
    const parsed = parseDefine(m[1] as string, number);
    if (parsed && !macros.has(parsed[0])) macros.set(parsed[0], parsed[1]);
  }
  return macros;
}

function parseDefine(rest: string, line: number): [string, Macro] | undefined {
  const m = /^\s*([A-Za-z_]\w*)(\(([^)]*)\))?/.exec(rest);
  if (!m) return undefined;
  const body = tokenize(rest.slice(m[0].length), line);
  if (m[2] === undefined) return [m[1] as string, { params: undefined, variadic: false, body }];
  let params = (m[3] as string)
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  const variadic = params[params.length - 1]?.endsWith("...") ?? false;
  if (variadic) {
    const last = (params[params.length - 1] as string).replace("...", "").trim();
    params = [...params.slice(0, -1), last === "" ? "__VA_ARGS__" : last];
  }
  return [m[1] as string, { params, variadic, body }];
}

/**
 * The value autoconf.h gives a CONFIG_ macro (scripts/kconfig/confdata.c, header_print_symbol):
 * `=y` defines CONFIG_X as 1; `=m` defines CONFIG_X_MODULE as 1 and leaves CONFIG_X undefined;
 * strings, ints and hex values define CONFIG_X as themselves; `=n` and unset define nothing.
 */
export function autoconfValue(name: string, config: Config | undefined): string | undefined {
  const value = config?.get(name);
  if (value === undefined) {
    const base = /^(CONFIG_\w+)_MODULE$/.exec(name)?.[1];
    return base !== undefined && config?.get(base) === "m" ? "1" : undefined;
  }
  return value === "y" ? "1" : value === "m" || value === "n" ? undefined : value;
}

function isDefined(name: string, scope: MacroScope, config: Config | undefined): boolean {
  if (name.startsWith("CONFIG_")) return autoconfValue(name, config) !== undefined;
  return scope.get(name) !== undefined;
}

/** An #if expression: defined(), IS_ENABLED() & co. first, then macros, then arithmetic. */
function evalCondition(text: string, scope: MacroScope, config: Config | undefined, line: number): boolean {
  const replaced = text
    .replace(/\bdefined\s*(?:\(\s*(\w+)\s*\)|(\w+))/g, (_, a, b) =>
      isDefined((a ?? b) as string, scope, config) ? "1" : "0",
    )
    // include/linux/kconfig.h: IS_BUILTIN is CONFIG_X defined as 1, IS_MODULE CONFIG_X_MODULE,
    // IS_ENABLED either; IS_REACHABLE is IS_ENABLED here, as MODULE is defined (see sourceAliases)
    .replace(/\b(IS_ENABLED|IS_BUILTIN|IS_MODULE|IS_REACHABLE)\s*\(\s*(\w+)\s*\)/g, (_, fn, name) => {
      const builtin = autoconfValue(name, config) === "1";
      const module = autoconfValue(`${name}_MODULE`, config) === "1";
      const on = fn === "IS_BUILTIN" ? builtin : fn === "IS_MODULE" ? module : builtin || module;
      return on ? "1" : "0";
    })
    // an undefined identifier is 0 in #if (C11 6.10.1); strings are not numbers
    .replace(/\bCONFIG_\w+/g, (name) => {
      const v = autoconfValue(name, config);
      return v !== undefined && /^-?(?:0[xX][0-9a-fA-F]+|\d+)$/.test(v) ? v : "0";
    });
  const tokens = expand(tokenize(replaced, line), scope).map((t) =>
    /^[A-Za-z_]/.test(t.text) ? { ...t, text: "0" } : t,
  );
  const value = evaluate(tokens);
  return typeof value === "bigint" && value !== 0n;
}

/**
 * What one expansion has made so far: every token appended at any level counts (a token
 * rescanned through d levels counts d times), and the macro calls it is inside. Bounded
 * (LIMITS): a macro whose body names the previous one twice doubles at each level.
 */
interface Expansion {
  tokens: number;
  depth: number;
}

/** Appends `more` to `out` without spreading it into arguments (a table of thousands of entries). */
function append(out: Token[], more: Token[], expansion: Expansion): void {
  expansion.tokens += more.length;
  if (expansion.tokens > LIMITS.expandedTokens) {
    throw new LimitError(`expands to more than ${LIMITS.expandedTokens} tokens (the limit)`);
  }
  for (let i = 0; i < more.length; i++) out.push(more[i] as Token);
}

/**
 * Expands every macro in `tokens` (rescanning, with the names being expanded hidden). A
 * LimitError when the expansion passes LIMITS.expandedTokens or LIMITS.macroDepth.
 */
export function expand(
  tokens: Token[],
  scope: MacroScope,
  hidden: ReadonlySet<string> = new Set(),
  expansion: Expansion = { tokens: 0, depth: 0 },
): Token[] {
  if (++expansion.depth > LIMITS.macroDepth) {
    throw new LimitError(`macros nested more than ${LIMITS.macroDepth} deep (the limit)`);
  }
  const out: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as Token;
    const macro = hidden.has(token.text) ? undefined : scope.get(token.text);
    if (!macro) {
      out.push(token);
      continue;
    }
    const inner = new Set(hidden).add(token.text);
    if (macro.params === undefined) {
      const body = macro.body.map((t) => ({ text: t.text, line: token.line }));
      append(out, expand(body, scope, inner, expansion), expansion);
      continue;
    }
    if (tokens[i + 1]?.text !== "(") {
      out.push(token);
      continue;
    }
    const call = collectArgs(tokens, i + 1);
    if (!call) {
      out.push(token);
      continue;
    }
    i = call.end;
    const body = substitute(macro, call.args, scope, hidden, token.line, expansion);
    append(out, expand(body, scope, inner, expansion), expansion);
  }
  expansion.depth--;
  return out;
}

/** The arguments of a call whose `(` is at `open`: top-level commas split them. */
function collectArgs(tokens: Token[], open: number): { args: Token[][]; end: number } | undefined {
  const args: Token[][] = [[]];
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = (tokens[i] as Token).text;
    if (t === "(" || t === "{" || t === "[") {
      if (depth++ > 0) args[args.length - 1]?.push(tokens[i] as Token);
    } else if (t === ")" || t === "}" || t === "]") {
      if (--depth === 0) return { args, end: i };
      args[args.length - 1]?.push(tokens[i] as Token);
    } else if (t === "," && depth === 1) args.push([]);
    else args[args.length - 1]?.push(tokens[i] as Token);
  }
  return undefined;
}

function substitute(
  macro: Macro,
  rawArgs: Token[][],
  scope: MacroScope,
  hidden: ReadonlySet<string>,
  line: number,
  expansion: Expansion,
) {
  const params = macro.params as string[];
  let args = rawArgs;
  if (macro.variadic && args.length > params.length) {
    const fixed = args.slice(0, params.length - 1);
    const rest: Token[] = [];
    args.slice(params.length - 1).forEach((arg, k) => {
      if (k > 0) rest.push({ text: ",", line });
      append(rest, arg, expansion);
    });
    args = [...fixed, rest];
  }
  const argOf = (name: string) => {
    const k = params.indexOf(name);
    return k < 0 ? undefined : (args[k] ?? []);
  };
  const body = macro.body;
  const out: Token[] = [];
  for (let k = 0; k < body.length; k++) {
    const t = body[k] as Token;
    if (
      t.text === "," &&
      body[k + 1]?.text === "##" &&
      macro.variadic &&
      body[k + 2]?.text === params.at(-1)
    ) {
      // GNU `, ## __VA_ARGS__`: the comma goes away when the variable arguments are empty
      const rest = argOf(body[k + 2]?.text as string) ?? [];
      if (rest.length > 0) {
        out.push({ text: ",", line });
        append(out, relined(expand(rest, scope, hidden, expansion), line), expansion);
      }
      k += 2;
      continue;
    }
    if (t.text === "#" && body[k + 1] && argOf((body[k + 1] as Token).text)) {
      const arg = argOf((body[++k] as Token).text) as Token[];
      out.push({ text: JSON.stringify(arg.map((a) => a.text).join(" ")), line });
      continue;
    }
    const arg = argOf(t.text);
    const pasted = body[k + 1]?.text === "##" || body[k - 1]?.text === "##";
    if (arg) append(out, relined(pasted ? arg : expand(arg, scope, hidden, expansion), line), expansion);
    else out.push({ text: t.text, line });
  }
  // `##` joins the tokens on either side (`a ## b ## c` is abc), in one pass: a search from the
  // start for each `##` was quadratic in an argument holding thousands of them
  const joined: Token[] = [];
  for (let k = 0; k < out.length; k++) {
    const token = out[k] as Token;
    if (token.text !== "##") {
      joined.push(token);
      continue;
    }
    const left = joined.pop();
    const right = out[k + 1];
    if (right) k++;
    joined.push({ text: (left?.text ?? "") + (right?.text ?? ""), line });
  }
  return joined;
}

/** The tokens with the line of the macro call they came from. */
function relined(tokens: Token[], line: number): Token[] {
  return tokens.map((a) => ({ text: a.text, line }));
}

export class ExprError extends Error {}

/**
 * Evaluates an integer constant expression (C precedence, casts to a plain type name
 * ignored); identifiers left over are errors naming them.
 */
export function evaluate(tokens: Token[]): bigint | ExprError {
  let pos = 0;
  const peek = () => tokens[pos]?.text;
  const fail = (why: string): never => {
    throw new ExprError(why);
  };
  /** Binary operators by precedence, loosest first. */
  const BINARY = [
    ["||"],
    ["&&"],
    ["|"],
    ["^"],
    ["&"],
    ["==", "!="],
    ["<", ">", "<=", ">="],
    ["<<", ">>"],
    ["+", "-"],
    ["*", "/", "%"],
  ];
  const apply = (op: string, a: bigint, b: bigint): bigint => {
    switch (op) {
      case "||":
        return a !== 0n || b !== 0n ? 1n : 0n;
      case "&&":
        return a !== 0n && b !== 0n ? 1n : 0n;
      case "|":
        return a | b;
      case "^":
        return a ^ b;
      case "&":
        return a & b;
      case "==":
        return a === b ? 1n : 0n;
      case "!=":
        return a !== b ? 1n : 0n;
      case "<":
        return a < b ? 1n : 0n;
      case ">":
        return a > b ? 1n : 0n;
      case "<=":
        return a <= b ? 1n : 0n;
      case ">=":
        return a >= b ? 1n : 0n;
      case "<<":
        return a << b;
      case ">>":
        return a >> b;
      case "+":
        return a + b;
      case "-":
        return a - b;
      case "*":
        return a * b;
      case "/":
        return b === 0n ? fail("division by zero") : a / b;
      default:
        return b === 0n ? fail("division by zero") : a % b;
    }
  };
  const binary = (level: number): bigint => {
    if (level === BINARY.length) return unary();
    let left = binary(level + 1);
    const ops = BINARY[level] as string[];
    while (ops.includes(peek() as string)) {
      const op = tokens[pos++]?.text as string;
      left = apply(op, left, binary(level + 1));
    }
    return left;
  };
  // brackets, unary operators and conditionals nest by recursion: bounded, not the stack's size
  let depth = 0;
  const nested = <T>(inner: () => T): T => {
    if (++depth > LIMITS.expressionDepth) fail(`nested more than ${LIMITS.expressionDepth} deep (the limit)`);
    const value = inner();
    depth--;
    return value;
  };
  const ternary = (): bigint => {
    const cond = binary(0);
    if (peek() !== "?") return cond;
    pos++;
    // GNU `a ?: b` is `a ? a : b`
    const a = peek() === ":" ? cond : nested(ternary);
    if (peek() !== ":") fail("expected ':'");
    pos++;
    const b = nested(ternary);
    return cond !== 0n ? a : b;
  };
  const unary = (): bigint => {
    const t = peek();
    if (t === "-" || t === "+" || t === "~" || t === "!") {
      pos++;
      const operand = nested(unary);
      return t === "-" ? -operand : t === "~" ? ~operand : t === "!" ? BigInt(operand === 0n) : operand;
    }
    if (t === "(") {
      // a cast: `(` type words `)` followed by an operand
      let k = pos + 1;
      while (tokens[k] && /^(?:[A-Za-z_]\w*|\*)$/.test((tokens[k] as Token).text)) k++;
      const next = tokens[k + 1]?.text;
      if (
        k > pos + 1 &&
        tokens[k]?.text === ")" &&
        next !== undefined &&
        /^(?:[\w(~!]|-|\+)/.test(next) &&
        tokens.slice(pos + 1, k).every((x) => !/^\d/.test(x.text))
      ) {
        pos = k + 1;
        return nested(unary);
      }
      pos++;
      const value = nested(ternary);
      if (peek() !== ")") fail("expected ')'");
      pos++;
      return value;
    }
    if (t === undefined) return fail("unexpected end");
    pos++;
    if (/^\d/.test(t)) return number(t) ?? fail(`bad number '${t}'`);
    if (/^'/.test(t)) return BigInt(t.length === 3 ? t.charCodeAt(1) : 0);
    return fail(`'${t}' is not a known constant`);
  };
  try {
    const value = ternary();
    if (pos < tokens.length) fail(`unexpected '${tokens[pos]?.text}'`);
    return value;
  } catch (error) {
    if (error instanceof ExprError) return error;
    throw error;
  }
}

function number(text: string): bigint | undefined {
  const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)[uUlL]*$/.exec(text);
  if (!m) return undefined;
  const digits = m[1] as string;
  if (/^0[0-7]+$/.test(digits)) return BigInt(`0o${digits.slice(1)}`);
  return BigInt(digits);
}
