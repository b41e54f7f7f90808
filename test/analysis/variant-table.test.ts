// docs/variants.md's table is what scripts/variant-table.ts makes of Debian's linux-source
// trees (test/analysis/fetch-source.sh 6.12 and 7.2; scripts/ci.sh fetches both), and the facts
// it rests on read right from the trees: xe_vfio_pci registers "xe-vfio-pci", the ids merged
// since 6.12 are 7.2's only.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { committedBlock, generatedBlock, PAGE, TREES, treePath } from "../../scripts/variant-table.ts";
import { driverName, mergeTrees, patternId, treeVariants } from "../../src/analysis/variant-table.ts";

test("variant table: docs/variants.md holds the table the trees generate", async () => {
  const { block, missing } = await generatedBlock();
  assert.deepEqual(
    missing,
    [],
    `run: ${TREES.map((t) => `bash test/analysis/fetch-source.sh ${t.series}`).join("; ")}`,
  );
  assert.equal(
    committedBlock(readFileSync(PAGE, "utf8")),
    block,
    "run: node --import tsx scripts/variant-table.ts",
  );
});

test("variant table: names and ids as 6.12 and 7.2 declare them", async () => {
  const rows = mergeTrees(
    await Promise.all(
      TREES.map(async (t) => ({ label: t.series, read: await treeVariants(treePath(t.series)) })),
    ),
  );
  const row = (module: string) => rows.find((r) => r.module === module);
  assert.equal(row("xe_vfio_pci")?.driver, "xe-vfio-pci");
  assert.equal(row("xe_vfio_pci")?.first, "7.2");
  assert.equal(row("qat_vfio_pci")?.driver, "qat_vfio_pci");
  assert.equal(row("mlx5_vfio_pci")?.driver, "mlx5_vfio_pci"); // KBUILD_MODNAME
  assert.deepEqual(row("virtio_vfio_pci")?.ids, [
    { id: "1af4:1041", first: "6.12" },
    { id: "1af4:1042", first: "7.2" },
  ]);
  assert.deepEqual(
    row("nvgrace_gpu_vfio_pci")
      ?.ids.filter((i) => i.first === "7.2")
      .map((i) => i.id),
    ["10de:2348", "10de:2941", "10de:31c2"],
  );
  assert.deepEqual(
    row("qat_vfio_pci")
      ?.ids.filter((i) => i.first === "7.2")
      .map((i) => i.id),
    ["8086:4947", "8086:4949"],
  );
  assert.equal(row("ism_vfio_pci")?.first, "7.2");
  assert.equal(row("vfio_pci"), undefined, "the catch-all is no variant");
  assert.ok(rows.every((r) => r.dropped.length === 0));
});

test("variant table: driver names and ids from C text", () => {
  const struct = (name: string) =>
    `static const struct pci_device_id t[] = {};\nstatic struct pci_driver d = {\n\t.id_table = t,\n\t.name = ${name},\n};\n`;
  assert.deepEqual(driverName(struct('"xe-vfio-pci"'), "xe_vfio_pci"), { name: "xe-vfio-pci", line: 4 });
  assert.deepEqual(driverName(struct("KBUILD_MODNAME"), "nvgrace_gpu_vfio_pci"), {
    name: "nvgrace_gpu_vfio_pci",
    line: 4,
  });
  assert.equal(driverName(struct("DRIVER_NAME"), "x").name, null);
  assert.equal(driverName("int x;", "x").name, null);
  assert.equal(patternId("vfio_pci:v000010DEd000031C2sv*sd*bc*sc*i*"), "10de:31c2");
  assert.equal(patternId("vfio_pci:v00001AF4d*sv000015B3sd*bc*sc*i*"), "1af4:* (sv000015B3sd*bc*sc*i*)");
  // an id a later tree lacks is said, not lost
  const tree = (ids: string[]) => ({
    variants: [{ module: "m", driver: "m", because: "", ids: ids.map((id) => ({ id, origin: "" })) }],
    problems: [],
  });
  const merged = mergeTrees([
    { label: "a", read: tree(["1:1", "1:2"]) },
    { label: "b", read: tree(["1:2", "1:3"]) },
  ]);
  assert.deepEqual(merged[0]?.ids, [
    { id: "1:1", first: "a" },
    { id: "1:2", first: "a" },
    { id: "1:3", first: "b" },
  ]);
  assert.deepEqual(merged[0]?.dropped, ["b: 1:1"]);
});
