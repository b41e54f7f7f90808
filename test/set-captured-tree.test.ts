// set on a sysfs tree that is not the live /sys (--sysfs DIR, a captured copy): modules are
// never loaded into the running kernel for it, and a write the tree refuses is the plan's
// outcome (exit 1, nothing changed), never a stack trace.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { ExitCode } from "../src/errors.ts";
import { DEBIAN_612, debianModules } from "./support/modules.ts";
import { buildTree } from "./support/sysfs-builder.ts";
import { tempDir } from "./support/tmp.ts";

const NIC = "0000:00:03.0";

function tree(modules: Record<string, string> = {}): string {
  const root = join(tempDir("captured"), "sys");
  buildTree(
    root,
    [{ address: NIC, vendor: 0x8086, device: 0x10d3, classCode: 0x020000, driver: "e1000e", group: 3 }],
    {
      e1000e: "e1000e",
      ...modules,
    },
  );
  return root;
}

async function set(root: string) {
  const { io, recorded } = recordingIo();
  const args = [
    "set",
    NIC,
    "vfio",
    "--sysfs",
    root,
    "--modules",
    debianModules(DEBIAN_612),
    "--no-save",
    "--force",
  ];
  const code = await main(args, io);
  return { code, out: recorded.stdout + recorded.stderr };
}

test("a captured tree: the module it lacks is not loaded into the running kernel", async () => {
  const root = tree();
  const { code, out } = await set(root);
  assert.equal(code, ExitCode.failedRolledBack, out);
  assert.match(
    out,
    /modprobe vfio_pci: .*sys is not a live sysfs \(a captured tree\): no module is loaded for it/,
  );
  assert.match(out, /nothing had been changed/);
  assert.equal(readFileSync(join(root, "devices/pci0000:00", NIC, "driver_override"), "utf8"), "(null)\n");
});

test("a write the tree refuses (not a permission) ends the plan with exit 1 and its message, no stack trace", async () => {
  const root = tree({ "vfio-pci": "vfio_pci" }); // vfio_pci loaded: no modprobe
  const override = join(root, "devices/pci0000:00", NIC, "driver_override");
  rmSync(override);
  mkdirSync(override);
  const { code, out } = await set(root);
  assert.equal(code, ExitCode.failedRolledBack, out);
  assert.match(out, /writing 'vfio-pci' to .*driver_override failed: EISDIR/);
  assert.match(out, /nothing had been changed/);
  assert.doesNotMatch(out, /\n\s+at /);
});

test("a rule naming a driver on a capture without module/: the driver's module is the one the capture recorded", async () => {
  // the real 25-device capture records each driver's module in drivers/<driver>/.module
  const dir = tempDir("captured-q35");
  execFileSync("tar", [
    "-xzf",
    new URL("fixtures/sysfs/q35-linux6.12-sriov.tar.gz", import.meta.url).pathname,
    "-C",
    dir,
  ]);
  const root = join(dir, "q35-linux6.12-sriov");
  writeFileSync(join(root, "bus/pci/devices/0000:07:00.0/driver_override"), "e1000e\n");
  const rules = tempDir("captured-rules");
  writeFileSync(join(rules, "nic.rule"), "match address 0000:07:00.0\nflavour driver\ndriver e1000e\n");
  const run = tempDir("captured-run");
  writeFileSync(join(run, "boot-pass-done"), "");
  const { io, recorded } = recordingIo("", {
    ACTION: "add",
    SUBSYSTEM: "pci",
    PCI_SLOT_NAME: "0000:07:00.0",
  });
  const args = [
    "hook",
    "--sysfs",
    root,
    "--modules",
    debianModules(DEBIAN_612),
    "--config",
    rules,
    "--run-dir",
    run,
  ];
  assert.equal(await main(args, io), ExitCode.ok, recorded.stderr);
  assert.match(recorded.stdout + recorded.stderr, /already e1000e/);
});
