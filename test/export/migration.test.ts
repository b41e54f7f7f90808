// The variants export marks live-migratable: the table in src/export/migration.ts, checked
// against linux-source-6.12 (test/analysis/fetch-source.sh unpacks it): the drivers under
// drivers/vfio/pci/ that set a vfio_device's mig_ops are exactly the table's entries since 6.12
// or earlier, and the file each entry cites names its ops.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { implementsMigration, MIGRATING_VARIANTS } from "../../src/export/migration.ts";

const cache = process.env.FLAVOURCTL_CACHE ?? new URL("../../.cache", import.meta.url).pathname;
const TREE = join(cache, "linux-source", "linux-source-6.12");

function variantsDir(): string {
  const dir = join(TREE, "drivers/vfio/pci");
  if (!existsSync(join(dir, "vfio_pci.c")))
    assert.fail(
      `${TREE}: no linux-source-6.12 tree; run 'bash test/analysis/fetch-source.sh' (FLAVOURCTL_CACHE=${cache})`,
    );
  return dir;
}

/** Each variant's module (its Makefile's obj-$(CONFIG_…) += NAME.o) and whether it sets mig_ops. */
function variantsIn(dir: string): Map<string, boolean> {
  const found = new Map<string, boolean>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const sub = join(dir, entry.name);
    const makefile = readFileSync(join(sub, "Makefile"), "utf8");
    const module = /^obj-\$\(CONFIG_\w+\)\s*\+=\s*([\w-]+)\.o/m.exec(makefile)?.[1];
    assert.ok(module, `${sub}/Makefile names no module`);
    const sources = readdirSync(sub).filter((f) => f.endsWith(".c"));
    const setsOps = sources.some((f) =>
      /\bmig_ops\s*=\s*(&|mig_ops\b)/.test(readFileSync(join(sub, f), "latin1")),
    );
    found.set(module.replaceAll("-", "_"), setsOps);
  }
  return found;
}

test("the variants that set mig_ops in linux-source-6.12 are the table's entries since 6.12 or earlier", () => {
  const found = variantsIn(variantsDir());
  assert.ok(found.size >= 6, `only ${found.size} variant directories`);
  const migrating = [...found].filter(([, sets]) => sets).map(([module]) => module);
  const table = MIGRATING_VARIANTS.filter((v) => implementsMigration(v.driver, "6.12.117+deb12-amd64")).map(
    (v) => v.driver,
  );
  assert.deepEqual(migrating.sort(), table.sort());
  assert.equal(found.get("virtio_vfio_pci"), false, "6.12's virtio_vfio_pci has no migration");
  assert.equal(found.get("nvgrace_gpu_vfio_pci"), false);
});

test("each 6.12 entry's cited ops are in its cited file", () => {
  const dir = variantsDir();
  for (const variant of MIGRATING_VARIANTS.filter((v) => implementsMigration(v.driver, "6.12"))) {
    const [file, cited] = variant.source.split(" ") as [string, string];
    const ops = cited.replace(/,$/, "");
    const text = readFileSync(join(dir, "../../..", file), "latin1");
    assert.match(text, new RegExp(`struct vfio_migration_ops ${ops} = \\{`), `${variant.driver}: ${file}`);
  }
});

test("implementsMigration: by the kernel's release; unknown kernels, vfio-pci and host drivers never", () => {
  assert.equal(implementsMigration("mlx5_vfio_pci", "6.12.117+deb12-amd64"), true);
  assert.equal(implementsMigration("mlx5_vfio_pci", "5.17.0"), false);
  assert.equal(implementsMigration("virtio_vfio_pci", "6.12.117-sim"), false);
  assert.equal(implementsMigration("virtio_vfio_pci", "7.2.13+deb14-amd64"), true);
  assert.equal(implementsMigration("xe-vfio-pci", "6.19.0"), true);
  assert.equal(implementsMigration("xe-vfio-pci", "6.18.3"), false);
  assert.equal(implementsMigration("mlx5_vfio_pci", null), false);
  assert.equal(implementsMigration("mlx5_vfio_pci", "simulated"), false);
  assert.equal(implementsMigration("vfio-pci", "7.2.13"), false);
  assert.equal(implementsMigration("nvgrace_gpu_vfio_pci", "7.2.13"), false);
  assert.equal(implementsMigration("mlx5_core", "7.2.13"), false);
});
