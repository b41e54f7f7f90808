// aliases --source against the real thing: Debian's linux-source-6.12 read by our C reader,
// compared with the modules.alias Debian's build of the same tree wrote; and the vfio variant
// drivers (not built by Debian) with the MODULE_ALIAS lines modpost wrote when they were
// built out of tree. Both inputs are made by scripts; a missing one fails naming its script.
import assert from "node:assert/strict";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { gunzipSync } from "node:zlib";
import { findOverlaps } from "../../src/analysis/overlaps.ts";
import { type SourceAliases, sourceAliases } from "../../src/analysis/source-aliases.ts";
import { ModulesDir } from "../../src/modules/modules-dir.ts";
import { tempDir } from "../support/tmp.ts";

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

/**
 * The variants as a config that enables them builds them (Debian's leaves them off): Debian's
 * config with each variant's option =m, read from a tree of links to linux-source-6.12 in which
 * only drivers/vfio is a real directory, so that only its files are read.
 */
async function variantsFromSource(): Promise<SourceAliases> {
  await fromSource(); // fails naming the script when the tree is missing
  const small = tempDir("variants-tree");
  for (const entry of readdirSync(tree))
    if (entry !== "drivers") symlinkSync(join(tree, entry), join(small, entry));
  mkdirSync(join(small, "drivers"));
  for (const entry of readdirSync(join(tree, "drivers")))
    if (entry !== "vfio") symlinkSync(join(tree, "drivers", entry), join(small, "drivers", entry));
  cpSync(join(tree, "drivers/vfio"), join(small, "drivers/vfio"), { recursive: true });
  const variants = ["MLX5", "HISI_ACC", "PDS", "VIRTIO", "NVGRACE_GPU", "QAT"].map(
    (v) => `CONFIG_${v}_VFIO_PCI=m\n`,
  );
  const config = join(small, "config");
  writeFileSync(
    config,
    gunzipSync(readFileSync(join(fixtures, "config.gz"))).toString("latin1") + variants.join(""),
  );
  return sourceAliases(small, { config });
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
  const ours = byModule(result.lines.filter((l) => !l.builtIn));
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

test("aliases --source with Debian's config: only modules Debian builds; built-in ones print no alias line", async () => {
  const result = await fromSource();
  const gunzipped = (name: string) => gunzipSync(readFileSync(join(fixtures, name))).toString("latin1");
  const debianModules = new Set(
    [...gunzipped("modules.alias.gz").matchAll(/^alias \S+ (\S+)$/gm)].map((m) => m[1] as string),
  );
  const builtIn = new Set(
    [...gunzipped("modules.builtin.gz").matchAll(/([^/\n]+)\.ko$/gm)].map((m) =>
      (m[1] as string).replaceAll("-", "_"),
    ),
  );
  const modules = new Set(result.lines.filter((l) => !l.builtIn).map((l) => l.module));
  assert.deepEqual(
    [...modules].filter((m) => !debianModules.has(m)),
    [],
    "modules Debian's modules.alias does not have",
  );
  // built in: modules.builtin lists the tristate ones; shpchp's HOTPLUG_PCI_SHPC is a bool
  const inside = new Set(result.lines.filter((l) => l.builtIn).map((l) => l.module));
  assert.deepEqual(
    [...inside].filter((m) => !builtIn.has(m) && m !== "shpchp"),
    [],
  );
  assert.ok(inside.has("virtio_pci") && inside.has("8250_pci") && inside.has("intel_agp"));
  assert.ok(!modules.has("virtio_pci"), "virtio_pci (=y) printed as a module alias");
  // `# CONFIG_CRYPTO_DEV_QAT_4XXX is not set`: not built at all
  assert.ok(!modules.has("qat_4xxx") && !inside.has("qat_4xxx"));
  assert.match(
    result.notes.join("\n"),
    /: 2\d\d modules with pci tables not built \(left out\): .*; 10 built in/,
  );
});

test("aliases --source: the figures the manual states for Debian's tree and config are what it finds", async () => {
  const readme = readFileSync(join(repo, "docs/commands/analysis.md"), "utf8").replace(/\s*\n\s*/g, " ");
  const figure = (pattern: RegExp) => {
    const m = pattern.exec(readme);
    assert.ok(m, `docs/commands/analysis.md no longer says ${pattern}`);
    return m.slice(1).map(Number);
  };
  const result = await fromSource();
  const printed = new Set(result.lines.filter((l) => !l.builtIn).map((l) => l.module));
  const builtIn = new Set(result.lines.filter((l) => l.builtIn).map((l) => l.module));
  assert.deepEqual(figure(/`aliases` prints (\d+) modules/), [printed.size]);
  assert.deepEqual(figure(/; (\d+) modules with tables are left out as not built/), [
    Number(/: (\d+) modules with pci tables not built/.exec(result.notes.join("\n"))?.[1]),
  ]);
  assert.deepEqual(figure(/and (\d+) are built in \(virtio_pci/), [builtIn.size]);
  const real = byModule(
    new ModulesDir(fixtures).aliasFile.all().filter((l) => /^(vfio_)?pci:/.test(l.pattern)),
  );
  const ours = byModule(result.lines.filter((l) => !l.builtIn));
  const same = [...real].filter(
    ([module, patterns]) =>
      [...patterns].sort().join("\n") === [...(ours.get(module) ?? [])].sort().join("\n"),
  );
  assert.deepEqual(
    figure(/(\d+) of the (\d+) modules that have pci aliases in Debian's modules\.alias get exactly/),
    [same.length, real.size],
  );
  // `overlaps --source TREE --config config.gz --bus pci`: the same lines, built-in ones kept
  const counts = findOverlaps(result.lines, new Set(["pci"]), false, false).counts;
  assert.deepEqual(figure(/--bus pci` now reports `identical (\d+), shadows (\d+), partial (\d+)`/), [
    counts.identical,
    counts.shadows,
    counts.partial,
  ]);
});

test("aliases --source: the vfio variants equal modpost's MODULE_ALIAS lines of their out-of-tree builds", async () => {
  const built = join(cache, "variants", version);
  if (!existsSync(built) || !readdirSync(built).some((f) => f.endsWith(".mod.c"))) {
    assert.fail(`${built}/*.mod.c missing: run test/kernel/build-variants.sh (branch kernel)`);
  }
  const ours = byModule((await variantsFromSource()).lines);
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
