// The demo machine's id tables come from the kernel source they cite: each cited line names the
// table, and every entry of the vfio variants' tables (small, copied whole) is in that table,
// as PCI_DRIVER_OVERRIDE_DEVICE_VFIO entries. The tree is Debian's linux-source-6.12, unpacked
// by test/analysis/fetch-source.sh (scripts/ci.sh runs it).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { bundledMachine } from "../../src/host/sim/bundled.ts";
import { readMachine } from "../../src/host/sim/machine-format.ts";
import { PCI_ANY_ID } from "../../src/pci/ids.ts";

const cache = process.env.FLAVOURCTL_CACHE ?? new URL("../../.cache", import.meta.url).pathname;
const TREE = join(cache, "linux-source", "linux-source-6.12");

function tree(): string {
  if (!existsSync(join(TREE, "drivers/vfio/pci/vfio_pci.c")))
    assert.fail(
      `${TREE}: no linux-source-6.12 tree; run 'bash test/analysis/fetch-source.sh' (FLAVOURCTL_CACHE=${cache})`,
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

test("demo machine: every cited table is at its file and line; the variants' entries are in them", async () => {
  const root = tree();
  const defines = (files: string[]) => {
    const found = new Map<string, number>();
    for (const file of files)
      for (const m of readFileSync(join(root, file), "latin1").matchAll(
        /^#define\s+(\w+)\s+0x([0-9a-fA-F]+)/gm,
      ))
        found.set(m[1] as string, Number.parseInt(m[2] as string, 16));
    return found;
  };
  const demo = readMachine(await bundledMachine("demo"), "demo");
  let variants = 0;
  for (const module of demo.modules) {
    const cite = /\) (\S+\.c):(\d+) (\w+)/.exec(module.source ?? "");
    if (!cite) continue; // a library (vfio_pci_core) or a table filled by parameters (pci-stub)
    const [, file, line, name] = cite as unknown as [string, string, string, string];
    const table = tableAt(join(root, file), Number(line));
    assert.match(
      table.split("\n")[0] as string,
      new RegExp(`\\b${name}\\b`),
      `${file}:${line} names ${name}`,
    );
    const driver = module.drivers[0];
    if (!driver?.vfio) continue;
    variants++;
    const known = defines(["include/linux/pci_ids.h", file]); // the driver's own #defines (pds has PENSANDO)
    const entries = [...table.matchAll(/PCI_DRIVER_OVERRIDE_DEVICE_VFIO\(\s*(\w+)\s*,\s*(\w+)\s*\)/g)].map(
      (m) => {
        const value = (word: string) =>
          word === "PCI_ANY_ID"
            ? PCI_ANY_ID
            : /^0x/.test(word)
              ? Number.parseInt(word, 16)
              : (known.get(word) ?? Number.NaN);
        return [value(m[1] as string), value(m[2] as string)];
      },
    );
    assert.deepEqual(
      driver.ids.map((id) => [id.vendor, id.device]),
      entries,
      `${module.name}: the table at ${file}:${line}`,
    );
    assert.ok(
      driver.ids.every((id) => id.overrideOnly),
      `${module.name}: override_only`,
    );
  }
  assert.equal(variants, 6);
});
