// Canonical PCI alias patterns — what do_pci_entry (scripts/mod/file2alias.c) writes — compared
// field by field. A device's modalias has seven fixed-width fields, so two such patterns
// match a common device iff every field pair is equal or has a `*`, and one contains the other
// iff each of its fields is `*` or equal to the other's. That is the semantics of
// pci_match_one_device, and unlike plain glob intersection it knows a field cannot spill
// into the next.
import type { ModaliasPrefix } from "../pci/modalias.ts";
import type { FieldPattern } from "./field-pattern.ts";
import { RestMemo } from "./rest-memo.ts";

/** Compared with field-pattern.ts's fieldsIntersect and fieldsContain. */
export interface PciPattern extends FieldPattern {
  prefix: ModaliasPrefix;
  /** v, d, sv, sd (8 hex digits), bc, sc, i (2 hex digits); undefined for `*`. */
  fields: (string | undefined)[];
}

/**
 * do_pci_entry's form in two parts: vendor and device, and the rest, which thousands of
 * patterns share (`sv*sd*bc*sc*i*`) and which is parsed once per text. Every field is `*` or
 * of fixed width, so the form splits there exactly.
 */
const HEAD = /^(pci|vfio_pci):v([0-9A-F]{8}|\*)d([0-9A-F]{8}|\*)/;
const TAIL =
  /^sv([0-9A-F]{8}|\*)sd([0-9A-F]{8}|\*)bc([0-9A-F]{2}|\*)sc([0-9A-F]{2}|\*)i(?:([0-9A-F]{2})\*|\*)$/;
const MARKERS = ["v", "d", "sv", "sd", "bc", "sc", "i"];
const WIDTHS = [8, 8, 8, 8, 2, 2, 2];
/** The rest's fields by its text (null: not in the form). */
const tails = new RestMemo<(string | undefined)[] | null>((text) => {
  const m = TAIL.exec(text);
  return m && [field(m[1]), field(m[2]), field(m[3]), field(m[4]), field(m[5])];
});
/** The rest of seven in ten patterns (a vendor and device alone). */
const ANY_REST = "sv*sd*bc*sc*i*";
const ANY_REST_FIELDS = [undefined, undefined, undefined, undefined, undefined];

/** The fields of a pattern in do_pci_entry's form; undefined for any other pattern. */
export function parsePciPattern(pattern: string): PciPattern | undefined {
  const fields = pciFields(pattern);
  return fields && { prefix: pciPrefix(pattern), fields };
}

/** parsePciPattern's fields alone (the analysis keeps them in an object of its own). */
export function pciFields(pattern: string): (string | undefined)[] | undefined {
  const head = HEAD.exec(pattern);
  if (!head) return undefined;
  const rest = restOf(pattern, (head[0] as string).length);
  if (!rest) return undefined;
  return [field(head[2]), field(head[3]), rest[0], rest[1], rest[2], rest[3], rest[4]];
}

/** The prefix of a pattern in the form: a constant string, not one per pattern. */
export function pciPrefix(pattern: string): ModaliasPrefix {
  return pattern.charCodeAt(0) === 0x76 ? "vfio_pci" : "pci";
}

/** The fields after vendor and device (from `start` of the pattern); the usual rest told at once. */
function restOf(pattern: string, start: number): (string | undefined)[] | null {
  if (pattern.length - start === ANY_REST.length && pattern.endsWith(ANY_REST)) return ANY_REST_FIELDS;
  return tails.of(pattern, start);
}

/** A captured value; undefined for `*` (and for the optional interface group not taken). */
function field(value: string | undefined): string | undefined {
  return value === "*" ? undefined : value;
}

/** A modalias both match (their fields intersect): exact fields kept, the `*`s filled with 0. */
export function commonModalias(a: PciPattern, b: PciPattern, prefix: ModaliasPrefix = a.prefix): string {
  let out = `${prefix}:`;
  for (let k = 0; k < 7; k++) {
    out += (MARKERS[k] as string) + (a.fields[k] ?? b.fields[k] ?? "0".repeat(WIDTHS[k] as number));
  }
  return out;
}

/** Number of `*` fields: the rank of cc6711b0bf36's rule (fewer is more specific). */
export function wildcardFields(p: PciPattern): number {
  return p.fields.filter((f) => f === undefined).length;
}
