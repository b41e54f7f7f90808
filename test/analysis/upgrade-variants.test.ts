// upgrade from 6.12 to 7.2 as docs/variants.md runs it: the trees are the aliases Debian's
// linux-source-6.12 and linux-source-7.2 generate for drivers/vfio/pci (aliases --under; the
// trees are unpacked by test/analysis/fetch-source.sh, which scripts/ci.sh runs), the devices
// the demo machine's and the sysfs trees captured under QEMU. The page's report is the one
// printed here, byte for byte.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { treePath } from "../../scripts/variant-table.ts";
import { recordingIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { tempDir } from "../support/tmp.ts";

const repo = new URL("../..", import.meta.url).pathname;

async function run(args: string[], env: Record<string, string> = {}): Promise<string> {
  const { io, recorded } = recordingIo("", env);
  assert.equal(await main(args, io), 0, recorded.stderr);
  return recorded.stdout;
}

let trees: Promise<string> | undefined;
/** A directory holding vfio-6.12/ and vfio-7.2/, each with its generated modules.alias. */
function vfioTrees(): Promise<string> {
  trees ??= (async () => {
    const dir = tempDir("upgrade-variants");
    for (const series of ["6.12", "7.2"]) {
      mkdirSync(join(dir, `vfio-${series}`));
      const aliases = await run(["aliases", "--source", treePath(series), "--under", "drivers/vfio/pci"]);
      writeFileSync(join(dir, `vfio-${series}`, "modules.alias"), aliases);
    }
    return dir;
  })();
  return trees;
}

async function upgrade(devices: string[], json = false): Promise<string> {
  const dir = await vfioTrees();
  const home = tempDir("upgrade-home");
  const out = await run(
    [
      "upgrade",
      "--from",
      join(dir, "vfio-6.12"),
      "--to",
      join(dir, "vfio-7.2"),
      ...devices,
      ...(json ? ["--json"] : []),
    ],
    { HOME: home, XDG_STATE_HOME: join(home, "state") },
  );
  return out.replaceAll(`${dir}/`, "");
}

test("upgrade 6.12 -> 7.2 on the demo machine: six devices gain a variant, none loses one", async () => {
  const changes = JSON.parse(await upgrade(["--machine", "demo"], true)) as {
    address: string;
    default?: unknown;
    vfio?: { from: { module: string }; to: { module: string; because: string } };
  }[];
  assert.deepEqual(
    changes.map((c) => [c.address, c.default, c.vfio?.from.module, c.vfio?.to.module]),
    [
      ["0000:02:00.0", undefined, "vfio_pci", "virtio_vfio_pci"],
      ["0000:0b:00.0", undefined, "vfio_pci", "xe_vfio_pci"],
      ["0000:0b:00.1", undefined, "vfio_pci", "xe_vfio_pci"],
      ["0000:0c:00.0", undefined, "vfio_pci", "nvgrace_gpu_vfio_pci"],
      ["0000:0d:00.0", undefined, "vfio_pci", "nvgrace_gpu_vfio_pci"],
      ["0000:0e:00.1", undefined, "vfio_pci", "qat_vfio_pci"],
    ],
  );
  // each names the 7.2 line of its own id
  for (const [c, id] of changes.map(
    (c, i) =>
      [
        c,
        [
          "1AF4d00001042",
          "8086d0000E211",
          "8086d0000E211",
          "10DEd00002941",
          "10DEd000031C2",
          "8086d00004949",
        ][i],
      ] as const,
  ))
    assert.match(
      c.vfio?.to.because ?? "",
      new RegExp(`^vfio-7\\.2/modules\\.alias:\\d+: alias vfio_pci:v0000${id}sv\\*sd\\*bc\\*sc\\*i\\* `),
    );
});

test("upgrade 6.12 -> 7.2: docs/variants.md's report is the demo's, as printed", async () => {
  const page = readFileSync(join(repo, "docs/variants.md"), "utf8");
  const block = /<!-- upgrade-report: [^\n]*-->\n```\n([\s\S]*?)```\n<!-- upgrade-report: end -->/.exec(page);
  assert.ok(block, "docs/variants.md: no upgrade-report block");
  assert.equal(block[1], await upgrade(["--machine", "demo"]));
});

test("upgrade 6.12 -> 7.2 on the captured trees: the virtio-blk 1af4:1042 gains virtio_vfio_pci, nothing else changes", async () => {
  for (const [tree, address] of [
    ["q35-linux6.12-sriov", "0000:06:00.0"],
    ["q35-linux6.12-bench", "0000:07:00.0"],
    ["firecracker-linux6.18", "0000:00:02.0"],
  ] as const) {
    const report = await upgrade(["--sysfs", join(repo, "test/fixtures/sysfs", tree)]);
    const lines = report.split("\n");
    assert.match(lines[0] as string, new RegExp(`^${address} pci:v00001AF4d00001042`), tree);
    assert.deepEqual(
      lines.slice(1),
      [
        "  vfio: vfio_pci -> virtio_vfio_pci",
        "    from: vfio-6.12/modules.alias:11: alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci",
        "    to:   vfio-7.2/modules.alias:19: alias vfio_pci:v00001AF4d00001042sv*sd*bc*sc*i* virtio_vfio_pci",
        "",
      ],
      tree,
    );
  }
});

test("upgrade --machine with --sysfs, and aliases --under outside the tree: refused", async () => {
  const both = recordingIo();
  assert.equal(
    await main(["upgrade", "--from", "a", "--to", "b", "--machine", "demo", "--sysfs", "/sys"], both.io),
    64,
  );
  assert.match(both.recorded.stderr, /--machine and --sysfs do not go together/);
  const outside = recordingIo();
  assert.equal(
    await main(["aliases", "--source", treePath("7.2"), "--under", "../linux-source-6.12"], outside.io),
    2,
  );
  assert.match(outside.recorded.stderr, /linux-source-6\.12: not a directory inside the tree/);
});
