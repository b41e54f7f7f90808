import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { flavouredModalias, formatModalias, parseModalias } from "./modalias.ts";

const ids = fc.record({
  vendor: fc.integer({ min: 0, max: 0xffff }),
  device: fc.integer({ min: 0, max: 0xffff }),
  subvendor: fc.integer({ min: 0, max: 0xffff }),
  subdevice: fc.integer({ min: 0, max: 0xffff }),
  classCode: fc.integer({ min: 0, max: 0xffffff }),
});

test("formatModalias writes the kernel's exact form (pci-sysfs.c modalias_show)", () => {
  const virtioBlk = {
    vendor: 0x1af4,
    device: 0x1042,
    subvendor: 0x15b3,
    subdevice: 0x1,
    classCode: 0x010000,
  };
  assert.equal(formatModalias(virtioBlk), "pci:v00001AF4d00001042sv000015B3sd00000001bc01sc00i00");
  assert.equal(
    formatModalias(virtioBlk, "vfio_pci"),
    "vfio_pci:v00001AF4d00001042sv000015B3sd00000001bc01sc00i00",
  );
});

test("modalias round trip: parse(format(ids)) = ids, for both prefixes", () => {
  fc.assert(
    fc.property(ids, fc.constantFrom("pci" as const, "vfio_pci" as const), (value, prefix) => {
      const text = formatModalias(value, prefix);
      assert.deepEqual(parseModalias(text), { prefix, ids: { ...value } });
      assert.equal(formatModalias(value, prefix), text);
    }),
    { numRuns: 5000 },
  );
});

// The other direction, over the whole grammar (fields up to 0xFFFFFFFF, as %08X allows), and
// strictness: whatever parses is canonical, so a string and its re-formatting are equal; one
// edit of a canonical modalias (a character changed, dropped or added) must never parse into
// a different string.
const hexDigits = (width: number) =>
  fc
    .array(fc.constantFrom(..."0123456789ABCDEF"), { minLength: width, maxLength: width })
    .map((d) => d.join(""));
const canonical = fc
  .tuple(
    fc.constantFrom("pci", "vfio_pci"),
    fc.tuple(hexDigits(8), hexDigits(8), hexDigits(8), hexDigits(8)),
    fc.tuple(hexDigits(2), hexDigits(2), hexDigits(2)),
  )
  .map(([prefix, [v, d, sv, sd], [bc, sc, i]]) => `${prefix}:v${v}d${d}sv${sv}sd${sd}bc${bc}sc${sc}i${i}`);

test("modalias round trip: format(parse(text)) = text for every canonical modalias", () => {
  fc.assert(
    fc.property(canonical, (text) => {
      const parsed = parseModalias(text);
      assert.ok(parsed, text);
      assert.equal(formatModalias(parsed.ids, parsed.prefix), text);
    }),
    { numRuns: 5000 },
  );
});

test("parseModalias is strict: an edited modalias parses only when it is still canonical", () => {
  const edit = fc.tuple(
    canonical,
    fc.nat(),
    fc.constantFrom("change", "drop", "add"),
    fc.constantFrom(..."0123456789ABCDEFabcdefvdsi:*_ \n\0"),
  );
  let parsed = 0;
  fc.assert(
    fc.property(edit, ([text, at, kind, c]) => {
      const i = at % text.length;
      const edited =
        kind === "change"
          ? text.slice(0, i) + c + text.slice(i + 1)
          : kind === "drop"
            ? text.slice(0, i) + text.slice(i + 1)
            : text.slice(0, i) + c + text.slice(i);
      const result = parseModalias(edited);
      if (result === undefined) return;
      parsed++;
      assert.equal(formatModalias(result.ids, result.prefix), edited);
    }),
    { numRuns: 5000 },
  );
  assert.ok(parsed > 500, `only ${parsed} edits stayed canonical`);
});

test("parseModalias refuses lower-case hex, wrong widths and other buses", () => {
  for (const bad of [
    "pci:v00001af4d00001042sv000015B3sd00000001bc01sc00i00",
    "pci:v1AF4d1042sv15B3sd0001bc01sc00i00",
    "pci:v00001AF4d00001042sv000015B3sd00000001bc01sc00i00*",
    "usb:v0BDAp8153d3000dc00dsc00dp00icFFisc00ip00in00",
    "",
  ]) {
    assert.equal(parseModalias(bad), undefined, bad);
  }
});

test("flavouredModalias prefixes pci modaliases with vfio_ and leaves others alone", () => {
  assert.equal(
    flavouredModalias("pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00").slice(0, 10),
    "vfio_pci:v",
  );
  assert.equal(flavouredModalias("usb:v1d2"), "usb:v1d2");
});
