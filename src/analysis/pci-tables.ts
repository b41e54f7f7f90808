// The `struct pci_device_id` tables a C file hands to MODULE_DEVICE_TABLE(pci, NAME), read
// from its preprocessed tokens: each entry's initialiser (designated `.field = x`, positional,
// or both, as C11 6.7.9 orders them) evaluated to an id entry. modpost's do_table
// (scripts/mod/file2alias.c) reads every element of the array but the last, which it takes
// for the terminator — so the last element is dropped here too, whatever it holds.
import { idEntry, type PciDeviceId } from "../pci/id-entry.ts";
import { evaluate, expand, type MacroScope, type Token } from "./c-preprocess.ts";
import { LimitError } from "./limits.ts";

/** struct pci_device_id's fields in declaration order (include/linux/mod_devicetable.h). */
const FIELDS = [
  "vendor",
  "device",
  "subvendor",
  "subdevice",
  "class",
  "class_mask",
  "driver_data",
  "override_only",
] as const;

export interface TableEntry {
  table: string;
  line: number;
  /** Set when the entry is in a header the file includes. */
  file?: string;
  id?: PciDeviceId;
  /** .override_only as written (pciEntryAlias drops values other than 0 and 1, as modpost). */
  overrideOnly?: number;
  /** Why the entry could not be read. */
  problem?: string;
}

/** Every entry of every pci table of a file, or problems naming the line. */
export function pciTables(tokens: Token[], scope: MacroScope): TableEntry[] {
  const out: TableEntry[] = [];
  let expanded: Token[] | undefined;
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i]?.text !== "MODULE_DEVICE_TABLE" || tokens[i + 1]?.text !== "(") continue;
    if (tokens[i + 2]?.text !== "pci" || tokens[i + 3]?.text !== ",") continue;
    const name = tokens[i + 4]?.text as string;
    const line = tokens[i]?.line as number;
    try {
      // the declaration itself may come out of macros (cxgb4's CH_PCI_DEVICE_ID_TABLE_DEFINE_BEGIN)
      let body = tableBody(tokens, name);
      if (!body) {
        expanded ??= expand(tokens, scope);
        body = tableBody(expanded, name);
      }
      if (!body) {
        out.push({ table: name, line, problem: `table '${name}' not found in this file` });
        continue;
      }
      const elements = splitTopLevel(expand(body, scope));
      elements.pop(); // modpost: the last element is the terminator
      for (const element of elements) out.push(readEntry(name, element, scope));
    } catch (error) {
      // a table past a limit of the expansion: reported, the file's other tables still read
      if (!(error instanceof LimitError)) throw error;
      out.push({ table: name, line, problem: error.message });
    }
  }
  return out;
}

/** The tokens between the braces of `NAME[...] = { ... }`. */
function tableBody(tokens: Token[], name: string): Token[] | undefined {
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i]?.text !== name || tokens[i + 1]?.text !== "[") continue;
    let k = i + 2;
    while (k < tokens.length && tokens[k]?.text !== "]") k++;
    // attributes (__initdata, __devinitconst) may stand between `]` and `=`
    while (k + 1 < tokens.length && /^[A-Za-z_]\w*$/.test(tokens[k + 1]?.text as string)) k++;
    if (tokens[k + 1]?.text !== "=" || tokens[k + 2]?.text !== "{") continue;
    let depth = 0;
    for (let j = k + 2; j < tokens.length; j++) {
      const t = tokens[j]?.text;
      if (t === "{") depth++;
      else if (t === "}" && --depth === 0) return tokens.slice(k + 3, j);
    }
  }
  return undefined;
}

/** Splits at commas outside any bracket; a trailing comma makes no empty element. */
function splitTopLevel(tokens: Token[]): Token[][] {
  const parts: Token[][] = [[]];
  let depth = 0;
  for (const token of tokens) {
    const t = token.text;
    if (t === "(" || t === "{" || t === "[") depth++;
    else if (t === ")" || t === "}" || t === "]") depth--;
    if (t === "," && depth === 0) parts.push([]);
    else parts[parts.length - 1]?.push(token);
  }
  if (parts[parts.length - 1]?.length === 0) parts.pop();
  return parts;
}

function readEntry(table: string, element: Token[], scope: MacroScope): TableEntry {
  const at = { table, line: element[0]?.line ?? 0, ...(element[0]?.file ? { file: element[0].file } : {}) };
  let inner = element;
  if (inner[0]?.text === "{" && inner[inner.length - 1]?.text === "}") inner = inner.slice(1, -1);
  const values = new Map<string, Token[]>();
  let next = 0;
  for (const part of splitTopLevel(inner)) {
    let tokens = part;
    if (part[0]?.text === "." && part[2]?.text === "=") {
      const field = part[1]?.text as string;
      const index = FIELDS.indexOf(field as (typeof FIELDS)[number]);
      if (index < 0) return { ...at, problem: `unknown field '.${field}'` };
      next = index;
      tokens = part.slice(3);
    }
    if (next >= FIELDS.length) return { ...at, problem: "more initialisers than fields" };
    values.set(FIELDS[next] as string, tokens);
    next++;
  }
  const fields: Partial<Record<(typeof FIELDS)[number], number>> = {};
  for (const field of ["class_mask", ...FIELDS] as const) {
    if (field === "driver_data") continue; // never part of an alias; often a pointer
    // with a zero class_mask the class is never looked at: `{ PCI_DEVICE(v, d), board }` puts
    // an enum there
    if (field === "class" && (fields.class_mask ?? 0) === 0) continue;
    if (field in fields) continue;
    const tokens = values.get(field);
    if (!tokens) continue;
    const value = evaluate(expand(tokens, scope));
    if (typeof value !== "bigint") {
      const text = tokens.map((t) => t.text).join(" ");
      const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text; // an expression may be megabytes
      return { ...at, problem: `.${field} = ${shown}: ${value.message}` };
    }
    fields[field] = Number(BigInt.asUintN(32, value));
  }
  return {
    ...at,
    id: idEntry({
      vendor: fields.vendor ?? 0,
      device: fields.device ?? 0,
      subvendor: fields.subvendor ?? 0,
      subdevice: fields.subdevice ?? 0,
      classCode: fields.class ?? 0,
      classMask: fields.class_mask ?? 0,
      overrideOnly: (fields.override_only ?? 0) !== 0,
    }),
    overrideOnly: fields.override_only ?? 0,
  };
}
