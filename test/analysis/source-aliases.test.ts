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
const KNOWN_EXCEPTIONS: Record<string, string> = {
  sisfb: "ids behind SIS300/SIS315 switches the driver's own headers derive from CONFIG_",
  mb862xxfb: "PCI_VENDOR_ID_FUJITSU_LIMITED comes from a header the file reaches only through another",
  bfa: "BFA_PCI_VENDOR_ID_BROCADE is defined in a header included through bfa's include path chain",
  bna: "BFA_PCI_DEVICE_ID_CT2 defined in a header we do not reach",
  csiostor: "table expanded from cxgb4's t4_pci_id_tbl.h with macros defined before its inclusion",
  cxgb4: "table built by t4_pci_id_tbl.h's CH_PCI_DEVICE_ID_TABLE_DEFINE_BEGIN macros",
  cxgb4vf: "table built by t4_pci_id_tbl.h's CH_PCI_DEVICE_ID_TABLE_DEFINE_BEGIN macros",
  dl2k: "table in dl2k.h; entries under conditionals we decide differently",
  mana: "MANA_PF_DEVICE_ID / MANA_VF_DEVICE_ID from include/net/mana, not reached",
  intel_ipu6: "table in a header included under a path we do not resolve",
  habanalabs: "ids are enum constants (enum hl_pci_ids_devices)",
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
    if ([...patterns].sort().join("\n") !== [...mine].sort().join("\n")) differing.push(module);
  }
  const rate = (real.size - differing.length) / real.size;
  assert.ok(real.size > 600, `only ${real.size} modules with pci aliases in the fixture`);
  assert.deepEqual(differing.sort(), Object.keys(KNOWN_EXCEPTIONS).sort());
  assert.ok(rate >= 0.98, `equal for ${(rate * 100).toFixed(1)}% of modules`);
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
