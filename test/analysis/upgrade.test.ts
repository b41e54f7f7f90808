// upgrade between Debian's trees on the sysfs trees captured from 6.12 under QEMU. Checked by
// hand (zcat of the modules.alias files): 6.1 line 1152 is
// `alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci`; 6.12 builds virtio_pci in (modules.builtin)
// and, before 6.18, writes no alias line for it — the virtio devices keep virtio-pci, no change.
// e1000e (8086:10d3) and nvme (class 01/08/02) keep their drivers. The bench tree (6.12 plus the
// vfio variants built out of tree) gives the virtio-net 1af4:1041 virtio_vfio_pci, line 27468.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { recordingIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { tempDir } from "../support/tmp.ts";

const repo = new URL("../..", import.meta.url).pathname;
const modules = (name: string) => join(repo, "test/fixtures/modules", name);
const sysfs = (name: string) => join(repo, "test/fixtures/sysfs", name);
const upgrade = (from: string, to: string, tree: string) => [
  "upgrade",
  "--from",
  modules(from),
  "--to",
  modules(to),
  "--sysfs",
  sysfs(tree),
];

interface Change {
  address: string;
  modalias: string;
  default?: unknown;
  vfio?: { from: { module: string | null; because: string }; to: { module: string | null; because: string } };
}

async function changes(args: string[]): Promise<Change[]> {
  const { io, recorded } = recordingIo();
  assert.equal(await main([...args, "--json"], io), 0, recorded.stderr);
  return JSON.parse(recorded.stdout) as Change[];
}

test("upgrade 6.1 -> 6.12: virtio_pci becomes built in, and the virtio devices keep it: no change", async () => {
  assert.deepEqual(
    await changes(upgrade("6.1.0-56-amd64", "6.12.117+deb12-amd64", "q35-linux6.12-sriov")),
    [],
  );
  // the other way round too: the module 6.1 names is built into 6.12
  assert.deepEqual(
    await changes(upgrade("6.12.117+deb12-amd64", "6.1.0-56-amd64", "q35-linux6.12-sriov")),
    [],
  );
});

test("upgrade 6.1 -> 6.12 with the vfio variants: the virtio-net's flavour becomes virtio_vfio_pci", async () => {
  const found = await changes(upgrade("6.1.0-56-amd64", "6.12.117+deb12-amd64+bench", "q35-linux6.12-bench"));
  assert.deepEqual(
    found.map((c) => [c.address, c.default, c.vfio?.from.module, c.vfio?.to.module]),
    [["0000:08:00.0", undefined, "vfio_pci", "virtio_vfio_pci"]],
  );
  assert.match(found[0]?.modalias as string, /^pci:v00001AF4d00001041/);
  assert.match(
    found[0]?.vfio?.from.because as string,
    /modules\.alias\.gz:\d+: alias vfio_pci:v\*d\*sv\*sd\*bc\*sc\*i\* vfio_pci$/,
  );
  assert.match(
    found[0]?.vfio?.to.because as string,
    /modules\.alias\.gz:27468: alias vfio_pci:v00001AF4d00001041sv\*sd\*bc\*sc\*i\* virtio_vfio_pci$/,
  );
});

test("upgrade: the text report and bad input", async () => {
  const same = recordingIo();
  assert.equal(
    await main(upgrade("6.1.0-56-amd64", "6.12.117+deb12-amd64", "q35-linux6.12-sriov"), same.io),
    0,
  );
  assert.equal(same.recorded.stdout, "no device changes its default driver or vfio flavour\n");
  const { io, recorded } = recordingIo();
  assert.equal(
    await main(upgrade("6.1.0-56-amd64", "6.12.117+deb12-amd64+bench", "q35-linux6.12-bench"), io),
    0,
  );
  assert.match(
    recorded.stdout,
    /^0000:08:00\.0 pci:v00001AF4d00001041\S+ \(bound to virtio-pci\)\n {2}vfio: vfio_pci -> virtio_vfio_pci\n/,
  );
  const missing = recordingIo();
  assert.equal(await main(["upgrade", "--from", "/nonexistent", "--to", "/nonexistent"], missing.io), 2);
  assert.match(missing.recorded.stderr, /nonexistent\/modules\.alias: no such file/);
  const usage = recordingIo();
  assert.equal(await main(["upgrade", "--from", "x"], usage.io), 64);
});

test("upgrade to a 6.18+ tree: a match among built-in drivers' aliases only is no default driver, and keeps a module built in", async () => {
  // Debian 7.2.13's bridges: modules.alias has no line, modules.builtin.modinfo has shpchp's
  // (built in, =y, so not in modules.builtin); pcieport, which binds them, has no alias at all
  const dir = tempDir("upgrade-builtin");
  const tree = (name: string, files: Record<string, string>) => {
    mkdirSync(join(dir, name));
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, name, file), text);
    return join(dir, name);
  };
  const old = tree("6.12", { "modules.alias": "alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\n" });
  const now = tree("7.2", {
    "modules.alias": "# Aliases extracted from modules themselves.\n",
    "modules.builtin.modinfo":
      "shpchp.alias=pci:v*d*sv*sd*bc06sc04i00*\0virtio_pci.alias=pci:v00001AF4d*sv*sd*bc*sc*i*\0",
  });
  const run = async (from: string, to: string) => {
    const { io, recorded } = recordingIo("", { HOME: dir, XDG_STATE_HOME: join(dir, "state") });
    assert.equal(
      await main(["upgrade", "--from", from, "--to", to, "--machine", "demo", "--json"], io),
      0,
      recorded.stderr,
    );
    return JSON.parse(recorded.stdout) as { address: string; default?: unknown }[];
  };
  // the demo's bridges (class 0604 i00) and virtio devices: nothing changes either way
  assert.deepEqual(await run(old, now), []);
  assert.deepEqual(await run(now, old), []);
  // a module that only a built-in alias now names is said as such
  const gone = tree("7.2-no-virtio", {
    "modules.alias": "",
    "modules.builtin.modinfo": "other_pci.alias=pci:v00001AF4d*sv*sd*bc*sc*i*\0",
  });
  const changes = (await run(old, gone)) as {
    address: string;
    default?: { to: { module: null; builtIn: string[] } };
  }[];
  assert.deepEqual(
    changes.map((c) => [c.address, c.default?.to.module, c.default?.to.builtIn]),
    [
      ["0000:02:00.0", null, ["other_pci"]],
      ["0000:03:00.0", null, ["other_pci"]],
    ],
  );
});
