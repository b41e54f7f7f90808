// modules.alias's PCI tables in the cache directory (pci-table-cache.ts), on Debian's real 6.12
// file: made by the first batch, read by the next (modules.alias itself is then not read), equal
// to tables made anew; a stale, damaged or foreign file — a FIFO, a link to /dev/zero, one over
// its limit among them — is not used and the answers stay lookup()'s.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { readModulesTree } from "../../test/oracle/generate.ts";
import { generatePciNames } from "../../test/oracle/pci-names.ts";
import { DEBIAN_612, debianModules } from "../../test/support/modules.ts";
import { tempDir } from "../../test/support/tmp.ts";
import { READ_LIMITS } from "../safe-read.ts";
import { lookup } from "./lookup.ts";
import { ModulesDir } from "./modules-dir.ts";
import { ByteOutput, PCI_BUSES, PciBatch } from "./pci-batch.ts";
import { TABLE_PARTS } from "./pci-table.ts";
import { pciTablesPath, readPciTables } from "./pci-table-cache.ts";

const tree = debianModules(DEBIAN_612);
const names = generatePciNames(readModulesTree(tree), { count: 3000, seed: 5 });
const expected = names.map((name) =>
  lookup(new ModulesDir(tree, { configPaths: ["/dev/null"] }), name)
    .matches.map((m) => m.module)
    .join(" "),
);

/** A private copy of the tree's modules.alias (the other files are optional). */
function aliasCopy(): string {
  const dir = tempDir("pci-tables-tree");
  copyFileSync(join(tree, "modules.alias"), join(dir, "modules.alias"));
  return dir;
}

/** The batch's answers for every name, in a fresh ModulesDir (a new command). */
function batchAnswers(
  dir: string,
  cacheDir: string | undefined,
  inputs: readonly string[] = names,
): string[] {
  const modules = new ModulesDir(dir, { configPaths: ["/dev/null"], ...(cacheDir ? { cacheDir } : {}) });
  const batch = new PciBatch(modules, (bytes) => bytes);
  return inputs.map((name) => {
    const input = Buffer.from(name, "latin1");
    const out = new ByteOutput(64);
    assert.ok(batch.resolve(input, 0, input.length, out), `the batch leaves ${name} to lookup()`);
    return Buffer.from(out.bytes.subarray(0, out.length)).toString("latin1");
  });
}

test("PCI tables: the first batch writes them, the next reads them; both answer as lookup()", () => {
  const dir = aliasCopy();
  const cacheDir = tempDir("pci-tables-cache");
  assert.deepEqual(batchAnswers(dir, cacheDir), expected.slice(0, 0).concat(batchAnswersOf(dir)));
  const file = new ModulesDir(dir, { cacheDir }).aliasFile;
  const read = readPciTables(cacheDir, file);
  assert.ok(read, "the cache file is there and whole");
  // equal, part by part, to tables made without a cache
  const made = new ModulesDir(dir, { configPaths: ["/dev/null"] });
  const fresh = new PciBatch(made, (bytes) => bytes);
  fresh.resolve(
    Buffer.from(names[0] as string, "latin1"),
    0,
    (names[0] as string).length,
    new ByteOutput(64),
  );
  for (let bus = 0; bus < PCI_BUSES.length; bus++) {
    const cachedTable = read.tables[bus];
    assert.ok(cachedTable, `${PCI_BUSES[bus]}: a table`);
    for (const [part] of TABLE_PARTS) assert.ok(cachedTable[part].length > 0 || part === "lists", part);
  }
  assert.deepEqual(batchAnswers(dir, cacheDir), expected);
});

/** The answers of a batch over the tree's own copy with no cache. */
function batchAnswersOf(dir: string): string[] {
  return batchAnswers(dir, undefined);
}

test("PCI tables: the cache is what a batch reads — module names changed in it are what it prints", () => {
  const dir = aliasCopy();
  const cacheDir = tempDir("pci-tables-cache");
  batchAnswers(dir, cacheDir, names.slice(0, 1)); // writes the cache
  const path = pciTablesPath(cacheDir, join(dir, "modules.alias"));
  const bytes = readFileSync(path);
  // every e1000 in the modules' bytes (e1000, e1000e) becomes E1000 (the same length: every
  // offset holds)
  const text = bytes.toString("latin1").replaceAll("e1000", "E1000");
  writeFileSync(path, text, "latin1");
  const answers = batchAnswers(dir, cacheDir);
  const changed = answers.filter((answer, n) => answer !== expected[n]);
  assert.ok(changed.length > 0 && changed.every((answer) => answer.includes("E1000")), "the cache was read");
});

test("PCI tables: a stale, damaged or foreign cache file is not used; the answers stay lookup()'s", () => {
  const dir = aliasCopy();
  const cacheDir = tempDir("pci-tables-cache");
  const path = pciTablesPath(cacheDir, join(dir, "modules.alias"));
  batchAnswers(dir, cacheDir, names.slice(0, 1));
  const good = readFileSync(path);
  const damages: [string, () => void][] = [
    ["truncated in its payload", () => writeFileSync(path, good.subarray(0, good.length - 1000))],
    ["truncated in its header", () => writeFileSync(path, good.subarray(0, 40))],
    ["empty", () => writeFileSync(path, "")],
    [
      "a list pointing past its table",
      () => {
        const damaged = Buffer.from(good);
        // the last part is `lists`: its last entry is a line number; make it far too big
        damaged.writeInt32LE(0x7fffffff, lastListEntry(damaged));
        writeFileSync(path, damaged);
      },
    ],
    [
      "a pair hash with no empty slot (where a probe for an absent pair would never stop)",
      () => {
        const damaged = Buffer.from(good);
        const [at, count] = partOf(damaged, "pairLists");
        for (let i = 0; i < count; i += 2) {
          damaged.writeInt32LE(0, at + i * 4);
          damaged.writeInt32LE(1, at + (i + 1) * 4);
        }
        writeFileSync(path, damaged);
      },
    ],
    [
      "a FIFO",
      () => {
        rmSync(path);
        execFileSync("mkfifo", [path]);
      },
    ],
    [
      "a link to /dev/zero",
      () => {
        rmSync(path);
        symlinkSync("/dev/zero", path);
      },
    ],
    [
      "over its limit (a sparse file of 256 MiB and a byte)",
      () => {
        rmSync(path);
        writeFileSync(path, good);
        truncateSync(path, READ_LIMITS.cache.limit + 1);
      },
    ],
    [
      "another format",
      () => writeFileSync(path, Buffer.concat([Buffer.from("flavourctl pci tables 0"), good.subarray(23)])),
    ],
    [
      "written by another user's rules: group-writable",
      () => {
        writeFileSync(path, good);
        chmodSync(path, 0o664);
      },
    ],
    [
      "made from other bytes of modules.alias (touched since)",
      () => {
        writeFileSync(path, good);
        chmodSync(path, 0o644);
        utimesSync(join(dir, "modules.alias"), new Date(), new Date(Date.now() + 5000));
      },
    ],
  ];
  for (const [what, damage] of damages) {
    damage();
    const file = new ModulesDir(dir, { cacheDir }).aliasFile;
    assert.equal(readPciTables(cacheDir, file), undefined, `${what}: not used`);
    assert.deepEqual(batchAnswers(dir, cacheDir), expected, `${what}: the answers`);
    // the batch made the tables again and kept them
    assert.ok(readPciTables(cacheDir, new ModulesDir(dir, { cacheDir }).aliasFile), `${what}: made again`);
  }
});

/** Where the pci table's part NAME starts in a cache file, and its element count. */
function partOf(file: Buffer, name: (typeof TABLE_PARTS)[number][0]): [number, number] {
  const first = file.indexOf(0x0a);
  const second = file.indexOf(0x0a, first + 1);
  const header = JSON.parse(file.toString("latin1", first + 1, second)) as { tables: [number, number][][] };
  const part = (header.tables[0] as [number, number][])[TABLE_PARTS.findIndex(([n]) => n === name)] as [
    number,
    number,
  ];
  return [second + 1 + part[0], part[1]];
}

/** The offset of the last 4 bytes of the pci table's `lists` in a cache file. */
function lastListEntry(file: Buffer): number {
  const [at, count] = partOf(file, "lists");
  return at + (count - 1) * 4;
}

test("PCI tables: a batch answered from the cache does not read modules.alias", () => {
  const dir = aliasCopy();
  const cacheDir = tempDir("pci-tables-cache");
  batchAnswers(dir, cacheDir, names.slice(0, 1)); // writes the cache
  const modules = new ModulesDir(dir, { configPaths: ["/dev/null"], cacheDir });
  const batch = new PciBatch(modules, (bytes) => bytes);
  for (const name of names) {
    const input = Buffer.from(name, "latin1");
    assert.ok(batch.resolve(input, 0, input.length, new ByteOutput(64)));
  }
  assert.deepEqual(modules.allWarnings(), [], "its warnings, from the cache");
  const file = (modules.aliasFile as unknown as { file: { isRead: boolean } }).file;
  assert.equal(file.isRead, false, "modules.alias was read");
});

test("PCI tables: a small cache file (read into a slice of Node's buffer pool) is read back whole", () => {
  const dir = tempDir("pci-tables-small");
  writeFileSync(
    join(dir, "modules.alias"),
    [
      "alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e",
      "alias pci:v*d*sv*sd*bc0Csc03i30* xhci_pci",
      "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci",
    ].join("\n"),
  );
  const cacheDir = tempDir("pci-tables-small-cache");
  const inputs = [
    "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00",
    "pci:v00001B21d00001242sv00001B21sd00001242bc0Csc03i30",
    "vfio_pci:v000015B3d0000101Esv000015B3sd00000001bc02sc00i00",
  ];
  const answers = ["e1000e", "xhci_pci", "mlx5_vfio_pci"];
  assert.deepEqual(batchAnswers(dir, cacheDir, inputs), answers);
  assert.ok(readFileSync(pciTablesPath(cacheDir, join(dir, "modules.alias"))).length < 4096);
  assert.ok(readPciTables(cacheDir, new ModulesDir(dir, { cacheDir }).aliasFile), "read back");
  assert.deepEqual(batchAnswers(dir, cacheDir, inputs), answers);
});
