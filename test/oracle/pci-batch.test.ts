// The input flavourctl's users produce — PCI devices asking for their driver and their vfio
// flavour (pci-names.ts) — looked up in a batch: by lookup() after prepareBatch, as the
// command's positional names and --json are (only the batch's buses are read, canonical PCI
// patterns compared field by field: pci-field-index.ts), and by `resolve` reading standard
// input, which answers canonical names from its PCI tables (src/modules/pci-batch.ts) and the
// rest by lookup(). Every answer must equal libkmod's: with and without the caches, and with
// modprobe.d aliases for such names.
import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { recordingIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { lookup } from "../../src/modules/lookup.ts";
import { ModulesDir } from "../../src/modules/modules-dir.ts";
import { tempDir } from "../support/tmp.ts";
import { readModulesTree } from "./generate.ts";
import { KMOD_NAME, kmodResolve, ORACLE_TREES, oracleTree } from "./oracle.ts";
import { generatePciNames } from "./pci-names.ts";

const COUNT = 30_000;

ORACLE_TREES.forEach(({ version, kmod }, i) => {
  test(`a batch of ${COUNT} PCI names equals ${KMOD_NAME[kmod]}, Debian ${version}`, (t) => {
    const dir = oracleTree(version, kmod);
    const inputs = generatePciNames(readModulesTree(dir), { count: COUNT, seed: 7 + i });
    const expected = kmodResolve(dir, inputs, [], kmod);
    const cacheDir = tempDir("pci-batch-cache");
    new ModulesDir(dir, { configPaths: ["/dev/null"], cacheDir }).aliases; // writes the cache
    for (const cached of [false, true]) {
      const modules = new ModulesDir(dir, { configPaths: ["/dev/null"], ...(cached ? { cacheDir } : {}) });
      modules.aliases.prepareBatch(new Set(["pci", "vfio_pci"]));
      let matched = 0;
      const differences: string[] = [];
      for (let n = 0; n < inputs.length; n++) {
        const result = lookup(modules, inputs[n] as string);
        const got = result.errno ? `!${result.errno}` : result.matches.map((m) => m.module).join(" ");
        if (got !== "") matched++;
        if (got !== expected[n])
          differences.push(`${inputs[n]}: flavourctl '${got}', libkmod '${expected[n]}'`);
      }
      t.diagnostic(
        `${version}, ${cached ? "index cache" : "no cache"}: ${matched} of ${inputs.length} names matched`,
      );
      // the input must exercise matches, or equality says little
      assert.ok(matched > inputs.length / 3, `only ${matched} names matched`);
      assert.deepEqual(differences.slice(0, 20), []);
    }
  });
});

/**
 * What resolve reads from standard input besides canonical names: forms lookup() answers alone
 * (PciBatch leaves them), some close to canonical.
 */
const ODD_LINES = [
  "pci:v00008086d000010d3sv00008086sd00000000bc02sc00i00", // lower-case hex
  "vfio-pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00", // the raw bus
  "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i0", // a digit short
  "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i000", // a digit more
  "pci:v00008086d000010D3sv00008086sd00000000bc02sc00x00",
  "usb:v1D6Bp0002d0606dc09dsc00dp01ic09isc00ip00in00",
  "e1000e",
  "",
];

/**
 * modprobe.d aliases for pci: and vfio_pci: names (lookup()'s first stage: PciBatch tries those
 * that may match a name of the bus, whole), and others it must leave out.
 */
const PCI_CONFIG = [
  "alias pci:v00008086d000010D3sv*sd*bc*sc*i* local_e1000e",
  "alias vfio_pci:v*d*sv*sd*bc02sc*i* local_vfio_network",
  "alias pci:v0000*d*sv*sd*bc0Csc03i30* local_xhci",
  "alias p?i:v000015B3* local_mellanox",
  "alias char-major-10-229 fuse",
  "alias usb:v* local_usb",
].join("\n");

ORACLE_TREES.forEach(({ version, kmod }, i) => {
  test(`resolve of ${COUNT} PCI names and odd lines on stdin equals ${KMOD_NAME[kmod]}, Debian ${version}: no cache, a cache made, a cache read, a modprobe.d config`, async (t) => {
    const dir = oracleTree(version, kmod);
    const names = generatePciNames(readModulesTree(dir), { count: COUNT, seed: 11 + i });
    const inputs = names.flatMap((name, n) =>
      n % 1000 === 0 ? [ODD_LINES[(n / 1000) % ODD_LINES.length] as string, name] : [name],
    );
    const configFile = join(tempDir("pci-batch-config"), "local.conf");
    writeFileSync(configFile, `${PCI_CONFIG}\n`);
    const cacheDir = tempDir("pci-batch-tables");
    for (const [what, config, cache] of [
      ["no cache", [], "off"],
      ["a cache made", [], cacheDir],
      ["a cache read", [], cacheDir],
      ["a modprobe.d config", [configFile], cacheDir],
    ] as const) {
      const expected = kmodResolve(dir, inputs, config, kmod).map(
        (answer, n) => `${inputs[n]}\t${answer.startsWith("!") ? "" : answer}`,
      );
      const { io, recorded } = recordingIo(`${inputs.join("\n")}\n`, {
        FLAVOURCTL_INDEX_CACHE: cache,
        FLAVOURCTL_KMOD_RELEASE: kmod === "sid" ? "34" : "30",
      });
      const code = await main(
        [
          "resolve",
          "--modules",
          dir,
          ...(config.length ? ["--config", configFile] : ["--config", "/dev/null"]),
        ],
        io,
      );
      assert.equal(code, 0, recorded.stderr);
      const got = recorded.stdout.split("\n");
      assert.equal(got.pop(), "");
      const differences = got.flatMap((line, n) =>
        line === expected[n] ? [] : [`got '${line}', libkmod '${expected[n]}'`],
      );
      const matched = got.filter((line) => !line.endsWith("\t")).length;
      t.diagnostic(`${version}, ${what}: ${matched} of ${got.length} lines matched`);
      assert.ok(matched > inputs.length / 3, `only ${matched} names matched`);
      assert.equal(got.length, expected.length);
      assert.deepEqual(differences.slice(0, 20), []);
      // the configuration's aliases answer some names (its first stage decides them)
      const local = got.filter((line) => line.includes("\tlocal_")).length;
      if (config.length > 0) assert.ok(local > 10, `only ${local} names answered by modprobe.d`);
    }
    // the cache was made and read: its file is there
    assert.ok(readdirSync(cacheDir).some((name) => name.endsWith(".pci-tables")));
  });
});
