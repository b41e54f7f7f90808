// Several built-in modules whose aliases match one name: the order libkmod gives them
// (modules.builtin.alias.bin, which depmod builds from modules.builtin.modinfo). Random
// modules.builtin.modinfo files — a dozen modules, each with aliases drawn from a pool of
// overlapping patterns (repeats, the same pattern for several modules, other keys between the
// aliases) — go through depmod and kmod-resolve, and through lookup() on the same text files;
// every answer must be the same list in the same order. Once with this machine's kmod 30, once
// with sid's kmod 34 (its depmod and its libkmod).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { lookup } from "../../src/modules/lookup.ts";
import { ModulesDir } from "../../src/modules/modules-dir.ts";
import { tempDir } from "../support/tmp.ts";
import { createRng, instantiate } from "./generate.ts";
import { depmodCommand, KMOD_NAME, type Kmod, kmodResolve } from "./oracle.ts";

const POOL = [
  "pci:v00008086d*sv*sd*bc*sc*i*",
  "pci:v00008086d00001234sv*sd*bc*sc*i*",
  "pci:v*d*sv*sd*bc02sc*i*",
  "pci:v*d*sv*sd*bc02sc00i*",
  "pci:*",
  "pci:v0000808[0-9]d*sv*sd*bc*sc*i*",
  "pci:v00008086d0000123?sv*sd*bc*sc*i*",
  "pci:v00008086d00001234sv*sd*bc02sc00i00",
  "platform:foo*",
  "platform:foo-bar",
];

const INPUTS = [
  "pci:v00008086d00001234sv00000000sd00000000bc02sc00i00",
  "pci:v00008086d00001235sv00000000sd00000000bc03sc00i00",
  "pci:v00008081d00000001sv00000000sd00000000bc02sc00i01",
  "pci:v000010DEd00001234sv00000000sd00000000bc02sc00i00",
  "platform:foo-bar",
  "platform:foo_bar",
  "platform:fooz",
];

for (const kmod of ["host", "sid"] as const)
  test(`built-in aliases: several modules matching one name come in ${KMOD_NAME[kmod]}'s order (random modules.builtin.modinfo through its depmod)`, (t) =>
    builtinOrder(t, kmod));

function builtinOrder(t: { diagnostic(message: string): void }, kmod: Kmod): void {
  const rng = createRng(20_261_208);
  let compared = 0;
  let multiple = 0;
  const differences: string[] = [];
  for (let tree = 0; tree < 12; tree++) {
    const version = "9.9.9";
    const root = tempDir("builtin-aliases");
    const dir = join(root, "lib/modules", version);
    mkdirSync(dir, { recursive: true });
    const modules = Array.from({ length: 12 }, (_, i) => `m${tree}_${i}`);
    const records: string[] = [];
    for (const module of modules) {
      records.push(`${module}.file=drivers/${module}`);
      for (let n = 1 + rng.int(3); n > 0; n--) {
        records.push(`${module}.alias=${rng.pick(POOL)}`);
        if (rng.chance(0.3)) records.push(`${module}.parmtype=x:int`);
      }
    }
    // modinfo records of different modules interleave as the linker lays out their sections
    for (let i = records.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [records[i], records[j]] = [records[j] as string, records[i] as string];
    }
    writeFileSync(join(dir, "modules.builtin.modinfo"), records.map((r) => `${r}\0`).join(""), "latin1");
    writeFileSync(join(dir, "modules.builtin"), modules.map((m) => `kernel/drivers/${m}.ko\n`).join(""));
    writeFileSync(join(dir, "modules.order"), "");
    const [depmod, ...prefix] = depmodCommand(kmod) as [string, ...string[]];
    execFileSync(depmod, [...prefix, "-b", root, version]);

    const inputs = [...INPUTS];
    for (let i = 0; i < 20; i++) inputs.push(instantiate(rng.pick(POOL), rng));
    const expected = kmodResolve(dir, inputs, [], kmod);
    const ours = new ModulesDir(dir, { configPaths: [] });
    for (const [n, input] of inputs.entries()) {
      const result = lookup(ours, input);
      const got = result.errno ? `!${result.errno}` : result.matches.map((m) => m.module).join(" ");
      compared++;
      if ((expected[n] ?? "").split(" ").length > 1) multiple++;
      if (got !== expected[n])
        differences.push(`tree ${tree} ${input}: flavourctl '${got}', libkmod '${expected[n]}'`);
    }
  }
  t.diagnostic(
    `${compared} names on 12 trees, ${multiple} answered by several built-in aliases, ${differences.length} differences`,
  );
  assert.ok(multiple > 100, `${multiple} answers with several modules`);
  assert.deepEqual(differences.slice(0, 10), []);
}
