// The field-by-field comparison of usb, hid, pcmcia, … patterns (field-pattern.ts) against
// brute force: exact glob intersection and inclusion (automata, no sampling of strings)
// restricted to the strings a device of the bus can present — the kernel's modalias format,
// each field exactly its width of upper-case hex digits. Patterns are real lines of Debian
// 6.12's modules.alias.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import {
  FIELD_FORMATS,
  type FieldFormat,
  fieldsContain,
  fieldsIntersect,
  parseFieldPattern,
} from "../../src/analysis/field-pattern.ts";
import { type Glob, parseGlob } from "../../src/analysis/glob.ts";
import { commonString } from "../../src/analysis/glob-intersection.ts";
import { type AliasInput, busOf, findOverlaps } from "../../src/analysis/overlaps.ts";
import { AliasFile } from "../../src/modules/alias-file.ts";
import { readRequiredText } from "../../src/modules/files.ts";
import { fnmatch } from "../../src/modules/fnmatch.ts";

const repo = new URL("../..", import.meta.url).pathname;
const modules612 = join(repo, "test/fixtures/modules/6.12.117+deb12-amd64");
const debian: AliasInput[] = new AliasFile(readRequiredText(modules612, "modules.alias"))
  .all()
  .map((l) => ({ pattern: l.pattern, module: l.module }));

const HEX = [..."0123456789ABCDEF"].map((c) => c.charCodeAt(0));

/** A device modalias of the bus, position by position: the bytes each position may hold. */
function deviceShape(bus: string, format: FieldFormat): number[][] {
  const shape: number[][] = [...`${bus}:`].map((c) => [c.charCodeAt(0)]);
  format.markers.forEach((marker, k) => {
    for (const c of marker) shape.push([c.charCodeAt(0)]);
    for (let i = 0; i < (format.widths[k] as number); i++) shape.push(HEX);
  });
  return shape;
}

/**
 * A glob's NFA: positions 0..n as bits; `*` loops on any byte and may match nothing (closure:
 * parseGlob never puts two stars side by side, so one shift closes a set).
 */
class Nfa {
  readonly start: bigint;
  readonly end: bigint;
  private readonly stars: bigint;
  private readonly accepts = new Map<number, bigint>();
  private readonly glob: Glob;
  constructor(glob: Glob) {
    this.glob = glob;
    let stars = 0n;
    glob.elements.forEach((e, i) => {
      if (e.star) stars |= 1n << BigInt(i);
    });
    this.stars = stars;
    this.start = this.close(1n);
    this.end = 1n << BigInt(glob.elements.length);
  }
  private close(set: bigint): bigint {
    return set | ((set & this.stars) << 1n);
  }
  step(set: bigint, code: number): bigint {
    let accepts = this.accepts.get(code);
    if (accepts === undefined) {
      accepts = 0n;
      this.glob.elements.forEach((e, i) => {
        if (!e.star && e.chars.has(code)) accepts = (accepts as bigint) | (1n << BigInt(i));
      });
      this.accepts.set(code, accepts);
    }
    return this.close(((set & accepts) << 1n) | (set & this.stars));
  }
}

/**
 * Over every device modalias of `shape` (subset construction on both globs, position by
 * position, one hex digit per class of digits the two globs treat alike): is one matched by
 * both, is one matched by `b` and not by `a`, and one by `a` and not by `b`.
 */
function bruteForce(
  a: Glob,
  b: Glob,
  shape: number[][],
): { meet: boolean; bOutsideA: boolean; aOutsideB: boolean } {
  const sets = [...a.elements, ...b.elements].flatMap((e) => (e.star ? [] : [e.chars]));
  const classes = new Map<string, number>();
  for (const code of HEX) {
    const signature = sets.map((set) => (set.has(code) ? 1 : 0)).join("");
    if (!classes.has(signature)) classes.set(signature, code);
  }
  const digits = [...classes.values()];
  const [na, nb] = [new Nfa(a), new Nfa(b)];
  let states = new Map<string, [bigint, bigint]>([["", [na.start, nb.start]]]);
  for (const codes of shape) {
    const next = new Map<string, [bigint, bigint]>();
    for (const [x, y] of states.values()) {
      for (const code of codes === HEX ? digits : codes) {
        const nx = na.step(x, code);
        const ny = nb.step(y, code);
        if (nx === 0n && ny === 0n) continue;
        next.set(`${nx} ${ny}`, [nx, ny]);
      }
    }
    states = next;
  }
  const [endA, endB] = [na.end, nb.end];
  let meet = false;
  let bOutsideA = false;
  let aOutsideB = false;
  for (const [x, y] of states.values()) {
    if (x & endA && y & endB) meet = true;
    if (y & endB && !(x & endA)) bOutsideA = true;
    if (x & endA && !(y & endB)) aOutsideB = true;
  }
  return { meet, bOutsideA, aOutsideB };
}

/**
 * Distinct patterns of a bus, chosen to relate: its bcdDevice ranges, tables naming one device
 * several times (narrower and wider entries), patterns with a `*` in a key field
 * (vendor-wide, class matches) with a few more of the vendors these name, and one run of
 * consecutive lines.
 */
function sample(bus: string, format: FieldFormat): string[] {
  const all = [...new Set(debian.filter((i) => busOf(i.pattern) === bus).map((i) => i.pattern))];
  const [vendorField, productField] = format.keys;
  const fieldsOf = (p: string) => parseFieldPattern(p, bus, format)?.fields ?? [];
  const picked = new Set(all.filter((p) => p.includes("[")).slice(0, 6));
  const byDevice = new Map<string, string[]>();
  for (const p of all) {
    const f = fieldsOf(p);
    if (f[vendorField] === undefined || f[productField] === undefined) continue;
    const key = `${f[vendorField]} ${f[productField]}`;
    byDevice.set(key, [...(byDevice.get(key) ?? []), p]);
  }
  // a device's bcdDevice ranges beside its other entries first
  const several = [...byDevice.values()]
    .filter((group) => group.length > 1)
    .sort((x, y) => Number(y.some((p) => p.includes("["))) - Number(x.some((p) => p.includes("["))));
  for (const group of several.slice(0, 6)) for (const p of group.slice(0, 4)) picked.add(p);
  const wide = all.filter((p) => fieldsOf(p)[productField] === undefined);
  const every = Math.max(1, Math.floor(wide.length / 8));
  for (let i = 0; i < wide.length; i += every) picked.add(wide[i] as string);
  const vendors = [...picked].map((p) => fieldsOf(p)[vendorField]).filter((v) => v !== undefined);
  for (const vendor of [...new Set(vendors)].slice(0, 4))
    for (const p of all.filter((q) => fieldsOf(q)[vendorField] === vendor).slice(0, 3)) picked.add(p);
  // a few the wide ones contain (chosen by the code under test, then checked by brute force)
  const parsed = all.map((p) => [p, parseFieldPattern(p, bus, format)] as const);
  let found = 0;
  for (const w of wide) {
    const outer = parseFieldPattern(w, bus, format);
    const inner = parsed.find(([p, f]) => p !== w && outer && f && fieldsContain(outer, f));
    if (!inner) continue;
    picked.add(w).add(inner[0]);
    if (++found === 6) break;
  }
  for (const p of all.slice(all.length >> 1, (all.length >> 1) + 4)) picked.add(p);
  return [...picked];
}

test("field patterns: meet and contain exactly as the globs do on the bus's device modaliases", () => {
  const total = { meet: 0, apart: 0, contain: 0, notContain: 0 };
  for (const [bus, format] of FIELD_FORMATS) {
    const patterns = sample(bus, format);
    const shape = deviceShape(bus, format);
    const tally = { meet: 0, apart: 0, contain: 0, notContain: 0 };
    for (let i = 0; i < patterns.length; i++) {
      for (let j = i + 1; j < patterns.length; j++) {
        const [x, y] = [patterns[i] as string, patterns[j] as string];
        const fx = parseFieldPattern(x, bus, format);
        const fy = parseFieldPattern(y, bus, format);
        assert.ok(fx !== undefined && fy !== undefined, `${x} or ${y} not in file2alias's form`);
        const exact = bruteForce(parseGlob(x), parseGlob(y), shape);
        // null: a field accepts no hex digit, the pattern matches no device
        const meet = fx !== null && fy !== null && fieldsIntersect(fx, fy);
        assert.equal(meet, exact.meet, `${x} meets ${y}`);
        if (fx === null || fy === null) continue;
        assert.equal(fieldsContain(fx, fy), !exact.bOutsideA, `${x} contains ${y}`);
        assert.equal(fieldsContain(fy, fx), !exact.aOutsideB, `${y} contains ${x}`);
        tally[meet ? "meet" : "apart"]++;
        tally[exact.bOutsideA ? "notContain" : "contain"]++;
        tally[exact.aOutsideB ? "notContain" : "contain"]++;
      }
    }
    for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += tally[k];
    console.log(`# ${bus}: ${patterns.length} patterns, pairs ${JSON.stringify(tally)}`);
    if (bus === "usb") assert.ok(tally.contain >= 5 && tally.meet > 100, `usb ${JSON.stringify(tally)}`);
  }
  assert.ok(total.contain > 50 && total.meet > 300 && total.apart > 1000, JSON.stringify(total));
});

test("field patterns: a usb bcdDevice spelled with too few digits matches no device", () => {
  // modpost wrote it so for snd_usb_audio: d010 then dc, where a device has four digits
  const odd = "usb:v0763p1031d010dc*dsc*dp*ic*isc*ip*in*";
  assert.ok(debian.some((i) => i.pattern === odd && i.module === "snd_usb_audio"));
  const format = FIELD_FORMATS.get("usb") as FieldFormat;
  assert.equal(parseFieldPattern(odd, "usb", format), null);
  const anyDevice = parseGlob("usb:v*p*d*dc*dsc*dp*ic*isc*ip*in*");
  assert.equal(bruteForce(parseGlob(odd), anyDevice, deviceShape("usb", format)).meet, false);
  // as strings the glob still meets others: the reason to compare on device modaliases
  assert.notEqual(commonString(parseGlob(odd), anyDevice), undefined);
});

test("overlaps: hid group `*` no longer swallows other fields (a pair no device can make)", () => {
  const hid = debian.filter((i) => busOf(i.pattern) === "hid");
  const a = "hid:b0003g*v00000C70p0000F003"; // aquacomputer_d5next
  const b = "hid:b0003g*v00000B0Ep*"; // hid_jabra
  assert.ok(hid.some((i) => i.pattern === a) && hid.some((i) => i.pattern === b));
  const string = commonString(parseGlob(a), parseGlob(b)) as string;
  assert.ok(fnmatch(a, string) && fnmatch(b, string), "the globs meet as strings");
  assert.ok(!/^hid:b[0-9A-F]{4}g[0-9A-F]{4}v[0-9A-F]{8}p[0-9A-F]{8}$/.test(string), string);
  const report = findOverlaps(hid, new Set(["hid"]), true);
  const has = (m1: string, m2: string) =>
    report.overlaps.some((o) => o.modules.includes(m1) && o.modules.includes(m2));
  assert.ok(!has("aquacomputer_d5next", "hid_jabra"));
  // a pair a device can make is still found: hid_logitech_dj's receivers, claimed by
  // hid_logitech_hidpp's vendor-wide group 0102 pattern too (generic: vendor-wide)
  const pair = report.overlaps.find(
    (o) => o.modules.join() === "hid_logitech_dj,hid_logitech_hidpp" && o.generic,
  );
  assert.ok(pair, "hid_logitech_dj / hid_logitech_hidpp");
  for (const p of pair.pairs) {
    assert.ok(fnmatch(p.a.pattern, p.example as string) && fnmatch(p.b.pattern, p.example as string));
    assert.match(p.example as string, /^hid:b[0-9A-F]{4}g[0-9A-F]{4}v[0-9A-F]{8}p[0-9A-F]{8}$/);
  }
});

test("overlaps: counting generic pairs equals listing them, per bus of the whole file", () => {
  const all = [...new Set(debian.map((i) => busOf(i.pattern)))];
  for (const bus of all) {
    const inputs = debian.filter((i) => busOf(i.pattern) === bus);
    const counted = findOverlaps(inputs, new Set([bus]), false, false);
    const listed = findOverlaps(inputs, new Set([bus]), true);
    assert.deepEqual(counted.counts, listed.counts, bus);
    assert.equal(listed.overlaps.filter((o) => o.generic).length, listed.counts.generic, bus);
  }
});

test("overlaps: a bus with a pattern not in file2alias's form is compared as globs", () => {
  const usb = debian.filter((i) => i.pattern.startsWith("usb:v049Fp0032"));
  assert.deepEqual(usb.map((i) => i.module).sort(), ["at76c50x_usb", "ipaq"]);
  const fields = findOverlaps(usb, new Set(["usb"]), true);
  assert.equal(fields.overlaps[0]?.pairs[0]?.example, "usb:v049Fp0032d0000dc00dsc00dp00ic00isc00ip00in00");
  // a hand-written line (no field markers after the product) sends all usb patterns to globs
  const odd = { pattern: "usb:v049Fp0032*", module: "handwritten" };
  const globs = findOverlaps([...usb, odd], new Set(["usb"]), true);
  const pair = globs.overlaps.find((o) => o.modules.join() === "at76c50x_usb,ipaq");
  assert.equal(pair?.class, "identical");
  const example = pair?.pairs[0]?.example as string;
  assert.ok(fnmatch("usb:v049Fp0032d*dc*dsc*dp*ic*isc*ip*in*", example), example);
  assert.ok(globs.overlaps.some((o) => o.modules.includes("handwritten") && o.class === "shadows"));
});
