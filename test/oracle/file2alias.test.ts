// file2alias against what modpost really wrote: for every Debian module with a pci: or
// vfio_pci: alias (6.12, 6.1 and sid's 7.2.13), and for the vfio-pci variant drivers built out of tree from
// Debian's linux-source-6.12, the struct pci_device_id tables are read from the .ko file, each
// entry goes through pciEntryAlias, and the patterns must equal the module's own `alias=pci:` /
// `alias=vfio_pci:` .modinfo strings, in their order (see modinfoOrders), and, for the variants,
// the MODULE_ALIAS lines modpost wrote into the .mod.c beside them, in the same order.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { pciEntryAlias } from "../../src/modules/file2alias.ts";
import { type KernelModule, readKernelModule } from "./ko.ts";
import { CACHE, pciModulesDir, TREE_72, TREE_VERSIONS } from "./oracle.ts";

/** modpost's prefixes for PCI entries: override_only 0 is `pci:`, PCI_ID_F_VFIO_DRIVER_OVERRIDE (1) `vfio_pci:`. */
const PCI_ALIAS = /^alias=((?:vfio_)?pci:.*)$/s;

interface Compared {
  tables: number;
  entries: number;
  dropped: number;
  flavoured: number;
}

/**
 * The aliases modpost would write for each of the module's tables (do_table + do_pci_entry),
 * and the ones its .modinfo holds; counts what was compared.
 */
function compare(module: KernelModule, counts: Compared): { tables: string[][]; written: string[] } {
  const tables = module.pciTables.map((table) => {
    assert.ok(table.terminated, `${table.symbol}: not terminated by an all-zero entry`);
    counts.tables++;
    const aliases: string[] = [];
    table.entries.forEach((entry, i) => {
      counts.entries++;
      // do_pci_entry: any override_only value but 0 and 1 is dropped with a warning
      const alias = pciEntryAlias(entry, table.overrideOnly[i] as number).pattern;
      if (alias === undefined) counts.dropped++;
      else {
        if (alias.startsWith("vfio_pci:")) counts.flavoured++;
        aliases.push(alias);
      }
    });
    return aliases;
  });
  const written = module.modinfo.map((record) => PCI_ALIAS.exec(record)?.[1]).filter((a) => a !== undefined);
  return { tables, written };
}

/**
 * The .modinfo order: modpost writes one MODULE_ALIAS line per entry into the .mod.c, table by
 * table in the order of the symbol table it read, and the compiler emits those strings into
 * .modinfo in reverse. The linked .ko does not keep that symbol order (mt7915e and mt7996e
 * have the same two tables in the same order in their .ko, and opposite orders in .modinfo),
 * so with several tables every order of the tables is tried; within a table the order is exact.
 * DEDUPLICATED: 7.2's modpost keeps an alias once per module, where it first came
 * (file2alias.c module_alias_printf, "avoid duplication"); 6.12's writes every entry.
 */
function modinfoOrders(tables: string[][], deduplicated: boolean): string[][] {
  const orders = (left: string[][]): string[][] =>
    left.length <= 1
      ? [[...(left[0] ?? [])]]
      : left.flatMap((first, i) => orders(left.filter((_, j) => j !== i)).map((rest) => [...first, ...rest]));
  return orders(tables).map((written) => (deduplicated ? [...new Set(written)] : written).reverse());
}

const newCounts = (): Compared => ({ tables: 0, entries: 0, dropped: 0, flavoured: 0 });
const describe = (modules: number, c: Compared) =>
  `${modules} modules, ${c.tables} tables, ${c.entries} entries (${c.flavoured} vfio_pci:, ${c.dropped} dropped by modpost)`;

for (const version of [...TREE_VERSIONS, TREE_72]) {
  test(`file2alias equals modpost on every PCI module of Debian ${version}`, (t) => {
    const dir = pciModulesDir(version);
    const files = readdirSync(dir).filter((name) => name.endsWith(".ko"));
    const counts = newCounts();
    const differences: string[] = [];
    let severalTables = 0;
    for (const name of files) {
      const { tables, written } = compare(readKernelModule(readFileSync(join(dir, name)), name), counts);
      if (tables.length > 1) severalTables++;
      const expected = JSON.stringify(written);
      if (!modinfoOrders(tables, version === TREE_72).some((order) => JSON.stringify(order) === expected)) {
        differences.push(`${name}: generated ${JSON.stringify(tables)}, modinfo ${expected}`);
      }
    }
    t.diagnostic(
      `${version}: ${describe(files.length, counts)}; ${severalTables} modules with several tables; ` +
        `${differences.length} differences`,
    );
    assert.ok(files.length >= 500, `only ${files.length} PCI modules in ${dir}`);
    assert.deepEqual(differences.slice(0, 10), []);
  });
}

/** Where test/kernel/build-variants.sh leaves the vfio-pci variant drivers it builds. */
const VARIANTS = join(CACHE, "variants", "6.12.117+deb12-amd64");
/** Every variant driver of linux-source-6.12's drivers/vfio/pci/ (one directory each). */
const VARIANT_MODULES = [
  "hisi_acc_vfio_pci",
  "mlx5_vfio_pci",
  "nvgrace_gpu_vfio_pci",
  "pds_vfio_pci",
  "qat_vfio_pci",
  "virtio_vfio_pci",
];

test("file2alias equals modpost on the vfio-pci variant drivers built from linux-source-6.12", (t) => {
  const files = existsSync(VARIANTS) ? readdirSync(VARIANTS).filter((name) => name.endsWith(".ko")) : [];
  if (files.length === 0) {
    assert.fail(`no variant drivers in ${VARIANTS}: run \`bash test/kernel/build-variants.sh\` first`);
  }
  const built = files.map((name) => name.replace(/\.ko$/, "").replaceAll("-", "_")).sort();
  assert.deepEqual(built, VARIANT_MODULES, `the variants built in ${VARIANTS}`);
  const counts = newCounts();
  for (const name of files) {
    const module = readKernelModule(readFileSync(join(VARIANTS, name)), name);
    const { tables, written } = compare(module, counts);
    assert.equal(tables.length, 1, `${name}: ${tables.length} PCI id tables`);
    const generated = tables[0] as string[];
    assert.ok(generated.length > 0, `${name}: an empty PCI id table`);
    assert.deepEqual([...generated].reverse(), written, `${name}: generated vs .modinfo`);
    // The .mod.c modpost wrote for it: MODULE_ALIAS("...") lines, in the same order.
    const modC = join(VARIANTS, name.replace(/\.ko$/, ".mod.c"));
    assert.ok(existsSync(modC), `${modC} is missing: build-variants.sh keeps each module's .mod.c`);
    const fromModC = [
      ...readFileSync(modC, "latin1").matchAll(/^MODULE_ALIAS\("((?:vfio_)?pci:[^"]*)"\);$/gm),
    ].map((m) => m[1]);
    assert.deepEqual(generated, fromModC, `${name}: generated vs .mod.c`);
  }
  t.diagnostic(`variants: ${describe(files.length, counts)}: ${files.join(" ")}`);
  assert.ok(counts.flavoured > 0, "no vfio_pci: entry among the variants");
});
