// The vfio choice on a real modules tree (the bench guest's Debian 6.12 modules with the vfio-pci
// variants) and on that tree with one alias line added: two variants whose patterns match a
// device equally well are a tie, reported with both names and no module, never broken.
import assert from "node:assert/strict";
import { appendFileSync, cpSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BENCH_MODULES, debianModules } from "../../test/support/modules.ts";
import { tempDir } from "../../test/support/tmp.ts";
import { ModulesDir } from "../modules/modules-dir.ts";
import { chooseVfio } from "./vfio-choice.ts";

/** QEMU's virtio-net (1af4:1041, subsystem 1af4:1100): virtio_vfio_pci's device. */
const VIRTIO_NET = "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00";

function bench(extra?: { alias: string; module: string }): ModulesDir {
  const dir = join(tempDir("vfio-choice"), "modules");
  cpSync(debianModules(BENCH_MODULES), dir, { recursive: true });
  if (extra) {
    const ko = `updates/${extra.module}.ko`;
    appendFileSync(join(dir, "modules.alias"), `alias ${extra.alias} ${extra.module}\n`);
    appendFileSync(join(dir, "modules.dep"), `${ko}: kernel/drivers/vfio/pci/vfio-pci-core.ko.xz\n`);
    appendFileSync(join(dir, "modules.order"), `${ko}\n`);
  }
  return new ModulesDir(dir, { configPaths: [] });
}

const ranking = (choice: ReturnType<typeof chooseVfio>) =>
  choice.candidates.map((c) => `${c.module} ${c.wildcards}`);

test("real tree: virtio_vfio_pci matches the virtio-net with fewer wildcard fields than vfio_pci; no tie", () => {
  const choice = chooseVfio(bench(), VIRTIO_NET);
  assert.equal(choice.module, "virtio_vfio_pci");
  assert.equal(choice.tie, undefined);
  assert.deepEqual(ranking(choice), ["virtio_vfio_pci 5", "vfio_pci 7"]);
});

test("real tree plus a variant matching vendor and subvendor (5 wildcard fields, as vendor and device): a tie, no module, both named", () => {
  const choice = chooseVfio(
    bench({ alias: "vfio_pci:v00001AF4d*sv00001AF4sd*bc*sc*i*", module: "other_vfio_pci" }),
    VIRTIO_NET,
  );
  assert.equal(choice.module, null);
  assert.deepEqual(choice.tie, ["virtio_vfio_pci", "other_vfio_pci"]);
  assert.deepEqual(ranking(choice), ["virtio_vfio_pci 5", "other_vfio_pci 5", "vfio_pci 7"]);
  assert.match(
    choice.reason,
    /^virtio_vfio_pci and other_vfio_pci match vfio_pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00 equally well \(5 wildcard fields\): choose one with --driver$/,
  );
});

test("one wildcard field fewer breaks the tie: the more specific variant wins, the other is the runner-up", () => {
  const choice = chooseVfio(
    bench({ alias: "vfio_pci:v00001AF4d00001041sv00001AF4sd*bc*sc*i*", module: "other_vfio_pci" }),
    VIRTIO_NET,
  );
  assert.equal(choice.module, "other_vfio_pci");
  assert.equal(choice.tie, undefined);
  assert.match(
    choice.reason,
    /variant other_vfio_pci matches with 4 wildcard fields, fewer than virtio_vfio_pci \(5\)/,
  );
});
