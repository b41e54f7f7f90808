// The input flavourctl's users produce — PCI devices asking for their driver and their vfio
// flavour (pci-names.ts) — looked up as `resolve` does a batch of them: prepareBatch told the
// batch's buses, so only those are read, and canonical PCI patterns are compared field by field
// (pci-field-index.ts). Every answer must equal libkmod's, with and without the index cache.
import assert from "node:assert/strict";
import { test } from "node:test";
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
