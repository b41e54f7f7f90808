// overlaps on the real Debian 6.12 modules.alias, with the extra lines of the fixtures.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { parseGlob } from "../../src/analysis/glob.ts";
import { commonString } from "../../src/analysis/glob-intersection.ts";
import {
  type AliasInput,
  busOf,
  findOverlaps,
  identity,
  type ModuleOverlap,
  type OverlapReport,
} from "../../src/analysis/overlaps.ts";
import { writeReport } from "../../src/cli/commands/overlaps.ts";
import { recordingIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { AliasFile, parseBuiltinModinfo } from "../../src/modules/alias-file.ts";
import { pciEntryAlias } from "../../src/modules/file2alias.ts";
import { readRequiredText } from "../../src/modules/files.ts";
import { fnmatch } from "../../src/modules/fnmatch.ts";
import { idEntry } from "../../src/pci/id-entry.ts";
import { PCI_ANY_ID } from "../../src/pci/ids.ts";

const repo = new URL("../..", import.meta.url).pathname;
const modules612 = join(repo, "test/fixtures/modules/6.12.117+deb12-amd64");
const extra = join(repo, "test/fixtures/analysis");

const read = (dir: string, name: string): AliasInput[] =>
  new AliasFile(readRequiredText(dir, name)).all().map((l) => ({ pattern: l.pattern, module: l.module }));
const debian = [
  ...read(modules612, "modules.alias"),
  ...parseBuiltinModinfo(readRequiredText(modules612, "modules.builtin.modinfo")).aliases,
];
const PCI = new Set(["pci"]);

function pair(overlaps: ModuleOverlap[], a: string, b: string): ModuleOverlap {
  const found = overlaps.find((o) => o.modules.includes(a) && o.modules.includes(b) && !o.generic);
  assert.ok(found, `no overlap between ${a} and ${b}`);
  for (const p of found.pairs) {
    assert.ok(fnmatch(p.a.pattern, p.example as string), `${p.example} vs ${p.a.pattern}`);
    assert.ok(fnmatch(p.b.pattern, p.exampleB as string), `${p.exampleB} vs ${p.b.pattern}`);
  }
  return found;
}

test("overlaps: 8139cp and 8139too claim 10ec:8139 with the same pattern", () => {
  const report = findOverlaps(debian, PCI);
  const o = pair(report.overlaps, "8139cp", "8139too");
  assert.equal(o.class, "identical");
  assert.match(o.pairs[0]?.example as string, /^pci:v000010ECd00008139/);
  assert.match(o.kernel, /registration order decides/);
  // the report's figures for Debian 6.12 (module pairs by class)
  assert.deepEqual(report.counts, {
    identical: 61,
    shadows: 14,
    partial: 2,
    "flavour-separated": 0,
    generic: report.counts.generic,
  });
  assert.ok(report.counts.generic > 8000);
});

test("overlaps: ionic against pds_vfio_pci is flavour-separated", () => {
  const report = findOverlaps([...debian, ...read(extra, "pds-vfio-pci.alias")], PCI);
  const o = pair(report.overlaps, "ionic", "pds_vfio_pci");
  assert.equal(o.class, "flavour-separated");
  const p = o.pairs[0];
  assert.deepEqual([p?.example, p?.exampleB].sort(), [
    "pci:v00001DD8d00001003sv00000000sd00000000bc00sc00i00",
    "vfio_pci:v00001DD8d00001003sv00000000sd00000000bc00sc00i00",
  ]);
  assert.match(o.kernel, /override_only/);
});

test("overlaps: the 2021 thread's first mlx5_vfio_pci table overlaps virtio_pci, which is wider", () => {
  const lines = read(extra, "mlx5-vfio-pci-v1.alias");
  // the fixture line is what do_pci_entry makes of the thread's PCI_DEVICE_SUB entry
  const entry = idEntry({ vendor: 0x1af4, device: 0x1042, subvendor: 0x15b3, subdevice: PCI_ANY_ID });
  assert.equal(lines[0]?.pattern, pciEntryAlias(entry).pattern);
  const virtio = idEntry({
    vendor: 0x1af4,
    device: PCI_ANY_ID,
    subvendor: PCI_ANY_ID,
    subdevice: PCI_ANY_ID,
  });
  assert.equal(lines[1]?.pattern, pciEntryAlias(virtio).pattern);
  const o = pair(findOverlaps([...debian, ...lines], PCI).overlaps, "mlx5_vfio_pci", "virtio_pci");
  assert.equal(o.class, "shadows");
  assert.equal(o.pairs[0]?.wider, "virtio_pci");
  assert.equal(o.pairs[0]?.example, "pci:v00001AF4d00001042sv000015B3sd00000000bc00sc00i00");
});

test("overlaps: other buses by exact glob intersection", () => {
  const report = findOverlaps(
    [
      { pattern: "usb:v1234p5678d*dc*dsc*dp*ic*isc*ip*in*", module: "a" },
      { pattern: "usb:v*p*d*dc*dsc*dp*ic03isc01ip01in*", module: "b" },
      { pattern: "usb:v1234p5678d*dc*dsc*dp*ic*isc*ip*in*", module: "c" },
      { pattern: "i2c:foo[0-9]", module: "d" },
      { pattern: "i2c:foo?", module: "e" },
      { pattern: "i2c:fo[!o]?", module: "f" },
    ],
    undefined,
  );
  const classOf = (a: string, b: string) => pair(report.overlaps, a, b).class;
  assert.equal(classOf("a", "c"), "identical");
  // b (vendor and product *) is generic: counted apart, its first pair classified
  const generic = report.overlaps.find((o) => o.generic && o.modules.join() === "a,b");
  assert.equal(generic?.class, "partial");
  assert.equal(generic?.pairCount, 1);
  assert.equal(classOf("d", "e"), "shadows");
  assert.equal(pair(report.overlaps, "d", "e").pairs[0]?.wider, "e");
  assert.ok(!report.overlaps.some((o) => o.modules.includes("f") && o.modules.includes("d")));
});

test("overlaps CLI: text report names the pairs, JSON parses", async () => {
  const { io, recorded } = recordingIo();
  const code = await main(
    ["overlaps", "--modules", modules612, "--alias", join(extra, "pds-vfio-pci.alias")],
    io,
  );
  assert.equal(code, 0);
  assert.match(recorded.stdout, /identical {9}8139cp 8139too/);
  assert.match(recorded.stdout, /Flavour-separated[^\n]*\n\nflavour-separated {1}ionic pds_vfio_pci/);
  const json = recordingIo();
  assert.equal(await main(["overlaps", "--alias", join(extra, "pds-vfio-pci.alias"), "--json"], json.io), 0);
  assert.equal(JSON.parse(json.recorded.stdout).overlaps.length, 0);
  const bad = recordingIo();
  assert.equal(await main(["overlaps"], bad.io), 64);
});

test("overlaps --bus all: the whole Debian 6.12 file, a real usb and acpi collision found", () => {
  const report = findOverlaps(debian, undefined, false);
  assert.ok(report.counts.identical > 200, JSON.stringify(report.counts));
  // zcat modules.alias.gz | grep usb:v049Fp0032: lines 8057 (at76c50x_usb) and 12994 (ipaq)
  const usb = pair(report.overlaps, "at76c50x_usb", "ipaq");
  assert.equal(usb.class, "identical");
  assert.equal(usb.bus, "usb");
  assert.equal(usb.pairs[0]?.a.pattern, "usb:v049Fp0032d*dc*dsc*dp*ic*isc*ip*in*");
  assert.equal(pair(report.overlaps, "adxl345_i2c", "adxl345_spi").bus, "acpi*");
});

test("overlaps: the generic pairs a terminal report counts are the pairs --generic lists", () => {
  // countGenericPairs (shapes indexed by their narrowest field) against genericPairs, which
  // compares every module's shapes, on the whole Debian 6.12 file
  const counted = findOverlaps(debian, undefined, false, false).counts;
  const listed = findOverlaps(debian, undefined, true, false);
  assert.deepEqual(counted, listed.counts);
  assert.equal(counted.generic, listed.overlaps.filter((o) => o.generic).length);
  assert.ok(counted.generic > 15000, JSON.stringify(counted));
});

test("overlaps: bucketing by identity key gives brute force's pairs (spi, mdio, platform)", () => {
  for (const bus of ["spi", "mdio", "platform"]) {
    const inputs = debian.filter((i) => busOf(i.pattern) === bus);
    const specific = inputs.filter((i) => !identity(i.pattern).generic);
    const brute = new Set<string>();
    for (let i = 0; i < specific.length; i++) {
      for (let j = i + 1; j < specific.length; j++) {
        const [x, y] = [specific[i] as AliasInput, specific[j] as AliasInput];
        if (x.module === y.module) continue;
        if (commonString(parseGlob(x.pattern), parseGlob(y.pattern)) === undefined) continue;
        brute.add([x.module, y.module].sort().join(" "));
      }
    }
    const found = findOverlaps(inputs, new Set([bus]), false).overlaps.map((o) => o.modules.join(" "));
    if (bus === "spi") assert.ok(brute.size > 0, bus);
    assert.deepEqual(found.sort(), [...brute].sort(), bus);
  }
});

test("overlaps CLI: every bus by default, --bus selects, wildcard bus names read too", async () => {
  const whole = recordingIo();
  assert.equal(await main(["overlaps", "--modules", modules612], whole.io), 0);
  assert.match(whole.recorded.stdout, /identical {9}8139cp 8139too \[pci/);
  assert.match(whole.recorded.stdout, /identical {9}at76c50x_usb ipaq \[usb\]/);
  const pci = recordingIo();
  assert.equal(await main(["overlaps", "--modules", modules612, "--bus", "pci"], pci.io), 0);
  assert.doesNotMatch(pci.recorded.stdout, /\[usb/);
  // modules.alias's per-bus scan skips bus names holding a wildcard: read from every line
  const acpi = recordingIo();
  assert.equal(await main(["overlaps", "--modules", modules612, "--bus", "acpi*", "--json"], acpi.io), 0);
  const report = JSON.parse(acpi.recorded.stdout);
  assert.ok(
    report.overlaps.some(
      (o: ModuleOverlap) => o.bus === "acpi*" && o.modules.join() === "adxl345_i2c,adxl345_spi",
    ),
  );
});

test("overlaps CLI: patterns compared as libkmod matches them, `-` as `_` (acp-pdm-mach is acp_pdm_mach)", async () => {
  // modprobe -R platform:acp-pdm-mach on Debian 6.12 names snd_acp3x_rn and snd_acp_legacy_mach
  const { io, recorded } = recordingIo();
  assert.equal(await main(["overlaps", "--modules", modules612, "--bus", "platform", "--json"], io), 0);
  const report = JSON.parse(recorded.stdout) as OverlapReport;
  const o = pair(report.overlaps, "snd_acp3x_rn", "snd_acp_legacy_mach");
  assert.equal(o.class, "identical");
  const sides = [o.pairs[0]?.a, o.pairs[0]?.b].sort((x, y) =>
    (x?.module ?? "") < (y?.module ?? "") ? -1 : 1,
  );
  assert.deepEqual(
    sides.map((s) => [s?.module, s?.pattern, s?.written]),
    [
      ["snd_acp3x_rn", "platform:acp_pdm_mach", undefined],
      ["snd_acp_legacy_mach", "platform:acp_pdm_mach", "platform:acp-pdm-mach"],
    ],
  );
});

test("overlaps CLI: --json holds everything the text report prints, generic pairs too (the text printed again from the parsed JSON is the same)", async () => {
  const json = recordingIo();
  assert.equal(await main(["overlaps", "--modules", modules612, "--json"], json.io), 0);
  const report = JSON.parse(json.recorded.stdout) as OverlapReport;
  for (const generic of [false, true]) {
    const text = recordingIo();
    const args = ["overlaps", "--modules", modules612, ...(generic ? ["--generic"] : [])];
    assert.equal(await main(args, text.io), 0);
    let again = "";
    writeReport(report, generic, (piece) => {
      again += piece;
    });
    assert.ok(again.length > (generic ? 5_000_000 : 100_000), `${again.length} bytes`);
    assert.ok(again === text.recorded.stdout, `the text printed from --json differs (--generic: ${generic})`);
  }
});
