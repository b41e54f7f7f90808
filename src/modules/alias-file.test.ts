import assert from "node:assert/strict";
import { closeSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { tempDir } from "../../test/support/tmp.ts";
import { AliasFile, parseBuiltinModinfo } from "./alias-file.ts";
import { LazyTextFile, openOptionalText, UnreadableFile } from "./files.ts";

const text =
  "alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\n" +
  "alias vfio-pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_vfio_pci\n" +
  "alias usb:v0BDAp8179d*dc*dsc*dp*ic*isc*ip*in* rtl8xxxu\n" +
  "alias char-major-10-* misc\n" +
  "alias pcspkr pcspkr\n" +
  "alias pci:v*d*sv*sd*bc01sc06i01* ahci\n";

function visited(
  scan: (visit: (bus: string | null, prefix: string, ref: number, literal: boolean) => void) => void,
) {
  const seen: string[] = [];
  scan((bus, prefix, ref, literal) =>
    seen.push(`${bus} ${prefix} ${text.slice(ref, text.indexOf("\n", ref)).split(" ")[2]} ${literal}`),
  );
  return seen;
}

test("one pass reads the asked buses (raw '-' in the file, normalised) and the busless patterns", () => {
  const file = new AliasFile({ path: "modules.alias", text });
  const asked = visited((visit) => file.scan(["pci", "vfio_pci"], true, visit));
  assert.deepEqual(asked, [
    "pci pci:v00001AF4d virtio_pci false",
    "vfio_pci vfio_pci:v00001AF4d00001041sv virtio_vfio_pci false",
    "null char_major_10_ misc false",
    "null pcspkr pcspkr true",
    "pci pci:v ahci false",
  ]);
  // The same lines scanAll finds for those buses, and nothing else.
  const all = visited((visit) => file.scanAll(visit)).filter((line) => !line.startsWith("usb "));
  assert.deepEqual(asked, all);
  assert.deepEqual(
    visited((visit) => file.scan(["usb"], false, visit)),
    ["usb usb:v0BDAp8179d rtl8xxxu false"],
  );
  // A bus holding a wildcard names no pattern's bus; nothing asked, nothing read.
  assert.deepEqual(
    visited((visit) => file.scan(["p*"], false, visit)),
    [],
  );
});

test("a modules.alias on disk is read a line at a time until its whole text is needed", () => {
  const dir = tempDir("lazy-alias");
  const long = `pci:v00001AF4d00001041sv*sd*bc*sc*i*${"x".repeat(600)}`;
  const lines = `${text}alias ${long} long_pattern\nalias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e`;
  writeFileSync(join(dir, "modules.alias"), lines);
  const lazy = openOptionalText(dir, "modules.alias");
  assert.ok(lazy instanceof LazyTextFile);
  const file = new AliasFile(lazy);
  // the line longer than a first read, and the last one, with no newline after it
  assert.equal(file.load(lines.indexOf(`alias ${long}`))?.module, "long_pattern");
  assert.equal(file.load(lines.lastIndexOf("alias "))?.key, "pci:v00008086d000010D3sv*sd*bc*sc*i*");
  assert.equal(file.load(text.indexOf("alias pcspkr"))?.pattern, "pcspkr");
  assert.equal(file.load(3), undefined, "not the start of a line");
  assert.equal(file.load(lines.length + 10), undefined, "past the end");
  assert.equal(lazy.isRead, false);
  // a whole-file question reads it once; lines then come from the text, and the same
  assert.equal(file.lineAt(lines.indexOf(`alias ${long}`)), 7);
  assert.equal(lazy.isRead, true);
  assert.equal(file.load(lines.indexOf(`alias ${long}`))?.module, "long_pattern");
});

test("modules.builtin.modinfo: alias records by record number, malformed records and bad patterns warned", () => {
  const text = "a.alias=p1\0nodot\0.x=1\0b.c\0m.alias=q[\0m.alias=\0k.alias=pci:v*\0k.author=x=y\0";
  const { aliases, warnings } = parseBuiltinModinfo({ path: "modinfo", text });
  assert.deepEqual(
    aliases.map((a) => [a.module, a.pattern, a.line]),
    [
      ["a", "p1", 1],
      ["k", "pci:v*", 7],
    ],
  );
  assert.deepEqual(warnings, [
    "modinfo: record 2: expected 'module.key=value', got 'nodot'",
    "modinfo: record 3: expected 'module.key=value', got '.x=1'",
    "modinfo: record 4: expected 'module.key=value', got 'b.c'",
    "modinfo: record 5: unbalanced brackets in 'q['",
  ]);
});

test("a modules.alias that cannot be read says so, the same way each time it is asked", () => {
  const dir = tempDir("lazy-fail");
  const path = join(dir, "modules.alias");
  writeFileSync(path, text);
  const fd = openSync(path, "r");
  const lazy = new LazyTextFile(path, fd, "identity");
  closeSync(fd); // as a read error would: the descriptor no longer reads
  for (const ask of [() => lazy.text, () => lazy.text, () => lazy.piece(0, 10)]) {
    assert.throws(
      ask,
      (error: Error) => error instanceof UnreadableFile && /cannot read \(EBADF\)/.test(error.message),
    );
  }
});

test("warnings after keys() (from the lines keys() did not match) are the whole text's", () => {
  const line = fc.constantFrom(
    "alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci",
    "alias usb:v0BDAp8179d*dc*dsc*dp*ic*isc*ip*in* rtl8xxxu",
    "alias char-major-10-* misc",
    "alias of:N*T*C[ab]x foo",
    "alias a:]x bad_bracket",
    "alias b:[x bad_open",
    "alias c:[x-y] fine-range",
    "alias d:[x extra words",
    "alias e:]y two words",
    "# Aliases extracted from modules themselves.",
    "",
    "alias",
    "alias only-pattern",
    "garbage line",
    " alias leading space",
    "alias f:x\rmid carriage",
    "alias g:y mod\r",
    "alias h:\0z nul",
  );
  fc.assert(
    fc.property(fc.array(line, { maxLength: 12 }), fc.boolean(), (lines, newlineAtEnd) => {
      const text = lines.join("\n") + (newlineAtEnd ? "\n" : "");
      const whole = new AliasFile({ path: "modules.alias", text }).warnings();
      const afterKeys = new AliasFile({ path: "modules.alias", text });
      afterKeys.keys(() => {});
      assert.deepEqual(afterKeys.warnings(), whole, JSON.stringify(text));
    }),
    { numRuns: 800 },
  );
  // and on the real file: the one comment line, no warning
  const real = new AliasFile({ path: "modules.alias", text: `# comment\n${text}` });
  real.keys(() => {});
  assert.deepEqual(real.warnings(), []);
});
