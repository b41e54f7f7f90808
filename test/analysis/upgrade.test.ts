// upgrade --from Debian 6.1 --to Debian 6.12 on the sysfs tree captured from 6.12 under QEMU.
// Checked by hand (zcat of the two modules.alias): 6.1 line 1152 is
// `alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci`; 6.12 builds virtio_pci in
// (modules.builtin) and, before 6.18, writes no alias line for it. e1000e (8086:10d3) and nvme
// (class 01/08/02) keep their drivers; vfio_pci stays every device's vfio flavour.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { recordingIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";

const repo = new URL("../..", import.meta.url).pathname;
const args = [
  "upgrade",
  "--from",
  join(repo, "test/fixtures/modules/6.1.0-56-amd64"),
  "--to",
  join(repo, "test/fixtures/modules/6.12.117+deb12-amd64"),
  "--sysfs",
  join(repo, "test/fixtures/sysfs/q35-linux6.12-sriov"),
];

test("upgrade 6.1 -> 6.12: only the virtio devices change (virtio_pci becomes built in)", async () => {
  const { io, recorded } = recordingIo();
  assert.equal(await main([...args, "--json"], io), 0);
  const changes = JSON.parse(recorded.stdout) as {
    address: string;
    modalias: string;
    default?: { from: { module: string | null; because: string }; to: { module: string | null } };
    vfio?: unknown;
  }[];
  assert.deepEqual(
    changes.map((c) => c.address),
    ["0000:00:02.0", "0000:00:03.0", "0000:00:0b.0", "0000:03:00.0", "0000:06:00.0"],
  );
  for (const c of changes) {
    assert.match(c.modalias, /^pci:v00001AF4/);
    assert.equal(c.default?.from.module, "virtio_pci");
    assert.match(
      c.default?.from.because as string,
      /modules\.alias\.gz:1152: alias pci:v00001AF4d\*sv\*sd\*bc\*sc\*i\* virtio_pci$/,
    );
    assert.equal(c.default?.to.module, null);
    assert.equal(c.vfio, undefined);
  }
  // the devices checked by hand not to change: e1000e at 01:00.0, nvme at 02:00.0
  assert.ok(!changes.some((c) => c.address === "0000:01:00.0" || c.address === "0000:02:00.0"));
});

test("upgrade: the text report and bad input", async () => {
  const { io, recorded } = recordingIo();
  assert.equal(await main(args, io), 0);
  assert.match(
    recorded.stdout,
    /0000:06:00\.0 pci:v00001AF4d00001042\S+ \(bound to virtio-pci\)\n {2}default: virtio_pci -> \(none\)/,
  );
  const missing = recordingIo();
  assert.equal(await main(["upgrade", "--from", "/nonexistent", "--to", "/nonexistent"], missing.io), 2);
  assert.match(missing.recorded.stderr, /nonexistent\/modules\.alias: no such file/);
  const usage = recordingIo();
  assert.equal(await main(["upgrade", "--from", "x"], usage.io), 64);
});
