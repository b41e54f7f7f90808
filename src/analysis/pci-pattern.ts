// Canonical PCI alias patterns — what do_pci_entry (scripts/mod/file2alias.c) writes — compared
// field by field. A device's modalias has seven fixed-width fields, so two such patterns
// match a common device iff every field pair is equal or has a `*`, and one contains the other
// iff each of its fields is `*` or equal to the other's. That is the semantics of
// pci_match_one_device, and unlike plain glob intersection it knows a field cannot spill
// into the next.
import type { ModaliasPrefix } from "../pci/modalias.ts";
import type { FieldPattern } from "./field-pattern.ts";

/** Compared with field-pattern.ts's fieldsIntersect and fieldsContain. */
export interface PciPattern extends FieldPattern {
  prefix: ModaliasPrefix;
  /** v, d, sv, sd (8 hex digits), bc, sc, i (2 hex digits); undefined for `*`. */
  fields: (string | undefined)[];
}

const CANONICAL =
  /^(pci|vfio_pci):v([0-9A-F]{8}|\*)d([0-9A-F]{8}|\*)sv([0-9A-F]{8}|\*)sd([0-9A-F]{8}|\*)bc([0-9A-F]{2}|\*)sc([0-9A-F]{2}|\*)i(?:([0-9A-F]{2})\*|\*)$/;
const MARKERS = ["v", "d", "sv", "sd", "bc", "sc", "i"];
const WIDTHS = [8, 8, 8, 8, 2, 2, 2];

/** The fields of a pattern in do_pci_entry's form; undefined for any other pattern. */
export function parsePciPattern(pattern: string): PciPattern | undefined {
  const m = CANONICAL.exec(pattern);
  if (!m) return undefined;
  // the prefix as a constant (one string, not one per pattern); the fields without a copy
  const field = (k: number) => (m[k] === "*" ? undefined : m[k]);
  return {
    prefix: m[1] === "pci" ? "pci" : "vfio_pci",
    fields: [field(2), field(3), field(4), field(5), field(6), field(7), field(8)],
  };
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
