// aliases --source against the real thing: Debian's linux-source-6.12 read by our C reader,
// compared with the modules.alias Debian's build of the same tree wrote; and the vfio variant
// drivers (not built by Debian) with the MODULE_ALIAS lines modpost wrote when they were
// built out of tree. Both inputs are made by scripts; a missing one fails naming its script.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { type SourceAliases, sourceAliases } from "../../src/analysis/source-aliases.ts";
import { ModulesDir } from "../../src/modules/modules-dir.ts";

const repo = new URL("../..", import.meta.url).pathname;
const cache = process.env.FLAVOURCTL_CACHE ?? join(repo, ".cache");
const tree = join(cache, "linux-source/linux-source-6.12");
const version = "6.12.117+deb12-amd64";
const fixtures = join(repo, "test/fixtures/modules", version);

/**
 * Modules whose generated pci aliases differ from Debian's, each with why. A module leaving
 * or joining this list fails the test: a regression, or an improvement to record here.
 */
const KNOWN_EXCEPTIONS: Record<string, { why: string; reportedIn: string }> = {
  bfa: {
    why: "BFA_PCI_VENDOR_ID_BROCADE is an enum constant (bfa_defs.h) and only #defines are resolved: 6 entries not read",
    reportedIn: "drivers/scsi/bfa/bfad.c",
  },
  bna: {
    why: "BFA_PCI_DEVICE_ID_CT2: an enum constant of the same kind: 1 entry not read",
    reportedIn: "drivers/net/ethernet/brocade/bna/bnad.c",
  },
};

let generated: Promise<SourceAliases> | undefined;
function fromSource(): Promise<SourceAliases> {
  if (!existsSync(join(tree, "include/linux/pci_ids.h"))) {
    assert.fail(`${tree} is missing: run test/analysis/fetch-source.sh (with FLAVOURCTL_CACHE=${cache})`);
  }
  generated ??= sourceAliases(tree, { config: join(fixtures, "config.gz") });
  return generated;
}

function byModule(lines: { pattern: string; module: string }[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of lines) {
    const list = map.get(line.module) ?? [];
    list.push(line.pattern);
    map.set(line.module, list);
  }
  return map;
}

test("aliases --source: Debian 6.12's pci aliases, module by module, against its modules.alias", async () => {
  const result = await fromSource();
  const real = byModule(
    new ModulesDir(fixtures).aliasFile.all().filter((l) => /^(vfio_)?pci:/.test(l.pattern)),
  );
  const ours = byModule(result.lines);
  const differing: string[] = [];
  for (const [module, patterns] of real) {
    const mine = ours.get(module) ?? [];
    if ([...patterns].sort().join("\n") === [...mine].sort().join("\n")) continue;
    differing.push(module);
    // an exception only loses entries, each one reported with its file:line
    const known = KNOWN_EXCEPTIONS[module];
    if (!known) continue;
    assert.deepEqual(
      mine.filter((p) => !patterns.includes(p)),
      [],
      `${module}: aliases Debian lacks`,
    );
    const reported = result.problems.filter((p) => p.startsWith(`${known.reportedIn}:`));
    assert.equal(reported.length, patterns.length - mine.length, `${module}: ${known.why}`);
  }
  const rate = (real.size - differing.length) / real.size;
  assert.ok(real.size > 600, `only ${real.size} modules with pci aliases in the fixture`);
  assert.deepEqual(differing.sort(), Object.keys(KNOWN_EXCEPTIONS).sort());
  assert.ok(rate >= 0.99, `equal for ${(rate * 100).toFixed(1)}% of modules`);
  // nothing is dropped silently: every entry we could not read is reported with file:line
  for (const problem of result.problems) assert.match(problem, /^[\w./+-]+:\d+: \w+: /);
});

test("aliases --source: the vfio variants equal modpost's MODULE_ALIAS lines of their out-of-tree builds", async () => {
  const built = join(cache, "variants", version);
  if (!existsSync(built) || !readdirSync(built).some((f) => f.endsWith(".mod.c"))) {
    assert.fail(`${built}/*.mod.c missing: run test/kernel/build-variants.sh (branch kernel)`);
  }
  const ours = byModule((await fromSource()).lines);
  let compared = 0;
  for (const file of readdirSync(built).filter((f) => f.endsWith(".mod.c"))) {
    const module = file.replace(/\.mod\.c$/, "").replaceAll("-", "_");
    const expected = [...readFileSync(join(built, file), "latin1").matchAll(/MODULE_ALIAS\("([^"]+)"\)/g)]
      .map((m) => m[1] as string)
      .filter((a) => /^(vfio_)?pci:/.test(a))
      .sort();
    assert.deepEqual([...(ours.get(module) ?? [])].sort(), expected, module);
    compared++;
  }
  assert.ok(compared >= 4, `only ${compared} variant builds found`);
});
