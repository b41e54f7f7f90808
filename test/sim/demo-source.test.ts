// The demo machine's id tables come from the kernel source they cite: each cited line names the
// table, and each vfio driver's aliases in the simulated modules tree are exactly the ones
// source-aliases.ts reads from that driver's table (the aliases modpost writes), in order, with
// the driver name its struct pci_driver registers. The tree is Debian's linux-source-7.2,
// unpacked by test/analysis/fetch-source.sh 7.2 (scripts/ci.sh runs it).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { sourceAliases } from "../../src/analysis/source-aliases.ts";
import { driverName, VARIANTS_DIR } from "../../src/analysis/variant-table.ts";
import { bundledMachine } from "../../src/host/sim/bundled.ts";
import { readMachine } from "../../src/host/sim/machine-format.ts";
import { modulesTreeFiles } from "../../src/host/sim/modules-tree.ts";

const cache = process.env.FLAVOURCTL_CACHE ?? new URL("../../.cache", import.meta.url).pathname;
const TREE = join(cache, "linux-source", "linux-source-7.2");

function tree(): string {
  if (!existsSync(join(TREE, "drivers/vfio/pci/vfio_pci.c")))
    assert.fail(
      `${TREE}: no linux-source-7.2 tree; run 'bash test/analysis/fetch-source.sh 7.2' (FLAVOURCTL_CACHE=${cache})`,
    );
  return TREE;
}

/** The C table starting at a line, up to its closing brace. */
function tableAt(file: string, line: number): string {
  const lines = readFileSync(file, "latin1")
    .split("\n")
    .slice(line - 1);
  const end = lines.findIndex((l) => /^};/.test(l));
  return lines.slice(0, end + 1).join("\n");
}

test("demo machine: every cited table is at its file and line; each vfio driver's aliases and name are its source's", async () => {
  const root = tree();
  const demo = readMachine(await bundledMachine("demo"), "demo");
  assert.match(demo.kernel, /^7\.2\./, "the tables are 7.2's: so is the simulated kernel");
  const simulated = (modulesTreeFiles(demo).get("modules.alias") as string).split("\n");
  const source = await sourceAliases(root, { under: VARIANTS_DIR });
  assert.deepEqual(source.problems, []);
  const variants: string[] = [];
  for (const module of demo.modules) {
    const cite = /^linux-source-7\.2 \(Debian 7\.2\.13-1\) (\S+\.c):(\d+) (\w+)/.exec(module.source ?? "");
    if (!cite) {
      assert.match(
        module.source ?? "",
        /^linux-source-7\.2 .*\.c \(/,
        `${module.name}: cites no table, says why`,
      );
      continue; // a library (vfio_pci_core) or a table filled by parameters (pci-stub)
    }
    const [, file, line, name] = cite as unknown as [string, string, string, string];
    const table = tableAt(join(root, file), Number(line));
    assert.match(
      table.split("\n")[0] as string,
      new RegExp(`\\b${name}\\b`),
      `${file}:${line} names ${name}`,
    );
    const driver = module.drivers[0];
    if (!driver?.vfio) continue;
    variants.push(module.name);
    assert.deepEqual(
      simulated.filter((l) => l.endsWith(` ${module.name}`)),
      source.lines.filter((l) => l.module === module.name).map((l) => `alias ${l.pattern} ${l.module}`),
      `${module.name}: the simulated tree's aliases are the ones ${file}'s table generates`,
    );
    assert.equal(
      driver.name,
      driverName(readFileSync(join(root, file), "latin1"), module.name).name,
      `${module.name}: the driver name its struct pci_driver registers`,
    );
  }
  // every variant of the tree is on the demo, but s390's ism_vfio_pci (Kconfig: depends on S390)
  const inTree = new Set(source.lines.map((l) => l.module));
  inTree.delete("ism_vfio_pci");
  assert.deepEqual(variants.sort(), [...inTree].sort());
});
