// Alias patterns made of fixed-width id fields — what file2alias (scripts/mod/file2alias.c)
// writes with its ADD() macro for usb, hid, pcmcia, ieee1394, sdio, serio, ssb, bcma and
// virtio (pci: pci-pattern.ts) — compared field by field. A device of these buses presents a
// modalias of the same markers, each followed by its value in exactly `width` upper-case hex
// digits (the kernel's uevent formats, e.g. drivers/usb/core/message.c usb_uevent
// "usb:v%04Xp%04Xd%04Xdc%02X…", drivers/hid/hid-core.c "hid:b%04Xg%04Xv%08Xp%08X"). The
// markers are lower-case and appear once each, in order, so for a real device a `*` can only
// stand for its own field: two patterns match a common device iff every field pair meets, and
// one contains the other iff each of its fields contains the other's. (Plain glob intersection
// lets `g*` swallow `0102v0000046Dp` and reports pairs no device can meet.)

import { fnmatch } from "../modules/fnmatch.ts";
import { RestMemo } from "./rest-memo.ts";

export interface FieldPattern {
  prefix: string;
  /**
   * Per field: undefined for `*` (any value), else the value as written: exact hex digits,
   * or — usb's bcdDevice ranges, do_usb_entry — digits and `[x-y]` sets ending in `*`
   * (see masks).
   */
  fields: (string | undefined)[];
  /** Per field, only for a value that is not exact hex: the hex digits each position accepts. */
  masks?: (Uint16Array | undefined)[];
}

export interface FieldFormat {
  markers: readonly string[];
  /** Hex digits of each field in a device's modalias. */
  widths: readonly number[];
  /**
   * The two fields naming a device (vendor, product): candidate pairs are bucketed by them.
   */
  keys: readonly [number, number];
  /** A pattern naming no device (its pairs are counted apart: see overlaps.ts). */
  generic(fields: readonly (string | undefined)[]): boolean;
}

const any =
  (...ks: number[]) =>
  (f: readonly (string | undefined)[]): boolean => {
    for (let i = 0; i < ks.length; i++) if (f[ks[i] as number] === undefined) return true;
    return false;
  };

/**
 * The file2alias forms compared field by field (do_usb_entry, do_hid_entry, do_pcmcia_entry,
 * do_ieee1394_entry, do_sdio_entry, do_serio_entry, do_ssb_entry, do_bcma_entry,
 * do_virtio_entry), widths from the kernel's modalias formats. Generic: usb and hid vendor or
 * product `*`, sdio vendor or device `*`, pcmcia neither manufacturer+card id nor a first
 * product-string hash, the others their first field `*`.
 */
export const FIELD_FORMATS: ReadonlyMap<string, FieldFormat> = new Map<string, FieldFormat>([
  [
    "usb",
    {
      markers: ["v", "p", "d", "dc", "dsc", "dp", "ic", "isc", "ip", "in"],
      widths: [4, 4, 4, 2, 2, 2, 2, 2, 2, 2],
      keys: [0, 1],
      generic: any(0, 1),
    },
  ],
  ["hid", { markers: ["b", "g", "v", "p"], widths: [4, 4, 8, 8], keys: [2, 3], generic: any(2, 3) }],
  [
    "pcmcia",
    {
      markers: ["m", "c", "f", "fn", "pfn", "pa", "pb", "pc", "pd"],
      widths: [4, 4, 2, 2, 2, 8, 8, 8, 8],
      keys: [0, 1],
      generic: any(0),
    },
  ],
  ["ieee1394", { markers: ["ven", "mo", "sp", "ver"], widths: [8, 8, 8, 8], keys: [0, 1], generic: any(0) }],
  ["sdio", { markers: ["c", "v", "d"], widths: [2, 4, 4], keys: [1, 2], generic: any(1, 2) }],
  ["serio", { markers: ["ty", "pr", "id", "ex"], widths: [2, 2, 2, 2], keys: [0, 1], generic: any(0) }],
  ["ssb", { markers: ["v", "id", "rev"], widths: [4, 4, 2], keys: [0, 1], generic: any(0) }],
  ["bcma", { markers: ["m", "id", "rev", "cl"], widths: [4, 4, 2, 2], keys: [0, 1], generic: any(0) }],
  ["virtio", { markers: ["d", "v"], widths: [8, 8], keys: [0, 1], generic: any(0) }],
]);

const HEX = "0123456789ABCDEF";

/**
 * A bus's patterns parsed in two parts: the fields up to the key fields (usb's vendor and
 * product, hid's bus, group, vendor and product), and the rest, which thousands of
 * patterns share (pci's `sv*sd*bc*sc*i*`, usb's `d*dc*dsc*dp*ic*isc*ip*in*`) and which is
 * parsed once per text. Values hold no lower-case letter and markers only lower-case ones, so
 * the pattern's form splits there exactly: it is in the form iff both parts are.
 */
interface FieldParser {
  /** One string for the prefix of every pattern of the bus. */
  prefix: string;
  /** The fields of the head: up to the key fields (hid's are its third and fourth). */
  headFields: number;
  head: RegExp;
  /** The rest of each pattern, parsed once per text. */
  tails: RestMemo<Tail>;
}

/** The rest of a pattern parsed: whether it is in the form, appendValues's answer, the values. */
type Tail = { inForm: boolean; answer: true | undefined | null; values: Values };

/** Fields and masks as FieldPattern has them. */
type Values = { fields: (string | undefined)[]; masks: (Uint16Array | undefined)[] | undefined };

const parsers = new Map<string, FieldParser>();

/**
 * A field's value: `*`, or up to `width` positions (a hex digit or a bracket of hex digits and
 * ranges) followed by `*` when fewer than `width`. The pattern's own trailing `*`
 * (add_wildcard) matches nothing in a device's modalias.
 */
function parserOf(bus: string, format: FieldFormat): FieldParser {
  let parser = parsers.get(bus);
  if (!parser) {
    const position = "(?:[0-9A-F]|\\[[0-9A-F-]+\\])";
    const fields = format.markers.map((m, k) => `${m}(\\*|${position}{0,${format.widths[k]}}\\*?)`);
    const headFields = format.keys[1] + 1;
    const next = format.markers[headFields];
    const tail = new RegExp(`^${fields.slice(headFields).join("")}\\*?$`);
    parser = {
      prefix: bus,
      headFields,
      head: new RegExp(
        `^${bus}:${fields.slice(0, headFields).join("")}${next === undefined ? "" : `(?=${next})`}`,
      ),
      tails: new RestMemo((text) => parseTail(text, headFields, tail, format)),
    };
    parsers.set(bus, parser);
  }
  return parser;
}

/**
 * The fields of a pattern in `format`'s form: undefined when it is not in that form (it is then
 * compared as a glob), null when a field accepts no hex digit (it matches no device).
 */
export function parseFieldPattern(
  pattern: string,
  bus: string,
  format: FieldFormat,
): FieldPattern | undefined | null {
  const parser = parserOf(bus, format);
  const head = parser.head.exec(pattern);
  if (!head) return undefined;
  const tail = parser.tails.of(pattern, (head[0] as string).length);
  if (!tail.inForm) return undefined;
  if (tail.answer === true && exactOrAny(head, format)) {
    // the usual pattern: the rest's fields (and masks, never changed) taken whole
    const fields = tail.values.fields.slice();
    for (let k = 0; k < parser.headFields; k++) {
      const value = head[k + 1] as string;
      fields[k] = value === "*" ? undefined : value;
    }
    const masks = tail.values.masks;
    return masks ? { prefix: parser.prefix, fields, masks } : { prefix: parser.prefix, fields };
  }
  // the fields in order: the first that is not in the form, or matches nothing, decides
  const out: Values = { fields: [], masks: undefined };
  const answer = appendValues(head, 0, format, out);
  if (answer !== true) return answer;
  if (tail.answer !== true) return tail.answer;
  const { fields, masks } = tail.values;
  for (let k = parser.headFields; k < fields.length; k++) out.fields.push(fields[k]);
  if (masks) {
    out.masks ??= [];
    for (let k = parser.headFields; k < masks.length; k++) out.masks[k] = masks[k];
  }
  return out.masks
    ? { prefix: parser.prefix, fields: out.fields, masks: out.masks }
    : { prefix: parser.prefix, fields: out.fields };
}

/** The fields after the head's, from a rest's text (a slot for each head field first). */
function parseTail(text: string, headFields: number, tail: RegExp, format: FieldFormat): Tail {
  const m = tail.exec(text);
  const values: Values = { fields: Array.from({ length: headFields }, () => undefined), masks: undefined };
  return { inForm: m !== null, answer: m ? appendValues(m, headFields, format, values) : undefined, values };
}

/** Each value of the head is `*` or exact hex digits (no mask: appendValues's first two cases). */
function exactOrAny(head: RegExpExecArray, format: FieldFormat): boolean {
  for (let g = 1; g < head.length; g++) {
    const value = head[g] as string;
    if (value === "*") continue;
    if (value.length !== format.widths[g - 1] || value.includes("[") || value.includes("*")) return false;
  }
  return true;
}

/**
 * Appends the values of a match's groups (fields `from`… of the format; masks at their
 * field's place) to `out`: true, or as soon as one is not in the form undefined, or null when
 * it matches nothing (parseFieldPattern's answers).
 */
function appendValues(
  m: RegExpExecArray,
  from: number,
  format: FieldFormat,
  out: Values,
): true | undefined | null {
  for (let g = 1; g < m.length; g++) {
    const k = from + g - 1;
    const value = m[g] as string;
    const width = format.widths[k] as number;
    if (value === "*") out.fields.push(undefined);
    // the expression allows only hex digits, brackets and `*`
    else if (value.length === width && !value.includes("[") && !value.includes("*")) out.fields.push(value);
    else {
      const positions = positionMasks(value, width);
      if (positions === undefined) return undefined;
      if (positions.includes(0)) return null;
      out.masks ??= [];
      out.masks[k] = positions;
      out.fields.push(value);
    }
  }
  return true;
}

/**
 * The hex digits each of a value's `width` positions accepts (brackets decided by fnmatch
 * itself); undefined when it spells more than `width` positions.
 */
function positionMasks(value: string, width: number): Uint16Array | undefined {
  const out = new Uint16Array(width).fill(0xffff);
  let k = 0;
  let i = 0;
  while (i < value.length && value[i] !== "*") {
    const end = value[i] === "[" ? value.indexOf("]", i) + 1 : i + 1;
    let mask = 1 << HEX.indexOf(value[i] as string);
    if (end > i + 1) {
      const text = value.slice(i, end);
      mask = 0;
      for (let d = 0; d < 16; d++) if (fnmatch(text, HEX[d] as string)) mask |= 1 << d;
    }
    if (k >= width) return undefined;
    out[k++] = mask;
    i = end;
  }
  // no `*` and too few positions (`usb:v0763p1031d010dc*…`, as modpost wrote it): no device
  if (i === value.length && k !== width) return new Uint16Array(width);
  return out;
}

function masksAt(p: FieldPattern, k: number): Uint16Array {
  const masks = p.masks?.[k];
  if (masks) return masks;
  const value = p.fields[k] as string;
  const out = new Uint16Array(value.length);
  for (let i = 0; i < value.length; i++) out[i] = 1 << HEX.indexOf(value[i] as string);
  return out;
}

/** Some device matches both (each field pair shares a value). */
export function fieldsIntersect(a: FieldPattern, b: FieldPattern): boolean {
  for (let k = 0; k < a.fields.length; k++) {
    const x = a.fields[k];
    const y = b.fields[k];
    if (x === undefined || y === undefined || x === y) continue;
    if (a.masks?.[k] === undefined && b.masks?.[k] === undefined) return false;
    const mx = masksAt(a, k);
    const my = masksAt(b, k);
    for (let i = 0; i < mx.length; i++) if (((mx[i] as number) & (my[i] as number)) === 0) return false;
  }
  return true;
}

/** Every device `inner` matches, `outer` matches too. */
export function fieldsContain(outer: FieldPattern, inner: FieldPattern): boolean {
  for (let k = 0; k < outer.fields.length; k++) {
    const o = outer.fields[k];
    const i = inner.fields[k];
    if (o === undefined || o === i) continue;
    if (outer.masks?.[k] === undefined && inner.masks?.[k] === undefined) return false;
    const mo = masksAt(outer, k);
    if (i === undefined) {
      if (mo.some((m) => m !== 0xffff)) return false;
      continue;
    }
    const mi = masksAt(inner, k);
    for (let n = 0; n < mo.length; n++) if (((mi[n] as number) & ~(mo[n] as number)) !== 0) return false;
  }
  return true;
}

/**
 * A device's modalias both match (their fields intersect): each field the lowest value both
 * accept, zeros where both are `*`.
 */
export function commonFieldModalias(a: FieldPattern, b: FieldPattern, format: FieldFormat): string {
  let out = `${a.prefix}:`;
  for (let k = 0; k < format.markers.length; k++) {
    out += format.markers[k] as string;
    const x = a.fields[k];
    const y = b.fields[k];
    if (x === undefined && y === undefined) out += "0".repeat(format.widths[k] as number);
    else if (x !== undefined && a.masks?.[k] === undefined) out += x;
    else if (y !== undefined && b.masks?.[k] === undefined) out += y;
    else {
      const mx = x === undefined ? undefined : masksAt(a, k);
      const my = y === undefined ? undefined : masksAt(b, k);
      for (let i = 0; i < (format.widths[k] as number); i++) {
        const both = (mx?.[i] ?? 0xffff) & (my?.[i] ?? 0xffff);
        out += HEX[31 - Math.clz32(both & -both)];
      }
    }
  }
  return out;
}
