// One safe way to write (src/safe-write.ts, src/atomic-write.ts), shown on every name flavourctl
// writes that someone else could plant first: the temporary file of a rule, the lock and the
// file written aside for it, the takeover guard, the hook's boot marker, the snapshot's work
// directory, and every sysfs attribute and driver lever written in a tree (issue 15, defects 3,
// 11 and 17). Each planted link points at a victim file outside, which must keep its bytes.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { ExitCode } from "../src/errors.ts";
import { saveRule } from "../src/flavour/rules-store.ts";
import { takeLock } from "../src/host/lock.ts";
import { snapshot } from "../src/host/snapshot.ts";
import { SysfsControl } from "../src/host/sysfs-control.ts";
import type { PciAddress } from "../src/pci/address.ts";
import { DEBIAN_612, debianModules } from "./support/modules.ts";
import { buildTree } from "./support/sysfs-builder.ts";
import { tempDir } from "./support/tmp.ts";

const NIC = "0000:00:03.0" as PciAddress;
const bundle = new URL("../dist/flavourctl.js", import.meta.url).pathname;

function victim(): string {
  const path = join(tempDir("victim"), "precious");
  writeFileSync(path, "precious\n");
  return path;
}

const intact = (path: string) =>
  assert.equal(readFileSync(path, "utf8"), "precious\n", `${path} was written`);

/** A tree with the NIC on e1000e and vfio_pci loaded (so no modprobe is needed). */
function tree(): string {
  const root = join(tempDir("escape"), "sys");
  buildTree(
    root,
    [{ address: NIC, vendor: 0x8086, device: 0x10d3, classCode: 0x020000, driver: "e1000e", group: 3 }],
    { e1000e: "e1000e", "vfio-pci": "vfio_pci" },
  );
  for (const lever of ["bind", "unbind"]) {
    writeFileSync(join(root, "bus/pci/drivers/e1000e", lever), "");
    writeFileSync(join(root, "bus/pci/drivers/vfio-pci", lever), "");
  }
  writeFileSync(join(root, "bus/pci/drivers_probe"), "");
  return root;
}

const device = (root: string, name: string) => join(root, "devices/pci0000:00", NIC, name);

async function setOnTree(root: string, ...extra: string[]) {
  const { io, recorded } = recordingIo();
  const args = ["set", NIC, "vfio", "--sysfs", root, "--modules", debianModules(DEBIAN_612), "--no-save"];
  const code = await main([...args, ...extra], io);
  return { code, out: recorded.stdout + recorded.stderr };
}

test("set --sysfs: a link that leads out of the tree, at any file the plan writes, refuses before anything is written, even with --force", async () => {
  const cases: [string, (root: string) => string][] = [
    ["driver_override", (root) => device(root, "driver_override")],
    ["drivers/e1000e/unbind", (root) => join(root, "bus/pci/drivers/e1000e/unbind")],
    ["drivers/e1000e/bind", (root) => join(root, "bus/pci/drivers/e1000e/bind")],
    ["drivers_probe", (root) => join(root, "bus/pci/drivers_probe")],
  ];
  for (const [name, at] of cases) {
    for (const force of [[], ["--force"]]) {
      const root = tree();
      const outside = victim();
      rmSync(at(root));
      symlinkSync(outside, at(root));
      const { code, out } = await setOnTree(root, ...force);
      assert.equal(code, ExitCode.refused, `${name} ${force}: ${out}`);
      assert.match(out, /not inside .*sys \(a planted link/, name);
      intact(outside);
      if (name !== "driver_override")
        assert.equal(
          readFileSync(device(root, "driver_override"), "utf8"),
          "(null)\n",
          `${name}: nothing written`,
        );
    }
  }
});

test("set --sysfs: links inside the tree are written through (a real /sys is made of them)", async () => {
  const root = tree();
  // driver_override a link to another file of the tree: inside after resolution
  writeFileSync(join(root, "elsewhere"), "(null)\n");
  rmSync(device(root, "driver_override"));
  symlinkSync("../../../elsewhere", device(root, "driver_override"));
  const { code, out } = await setOnTree(root, "--force");
  // a captured tree has no kernel to bind: the plan runs, verification fails, it is rolled back
  assert.equal(code, ExitCode.failedRolledBack, out);
  assert.doesNotMatch(out, /outside/);
  assert.match(readFileSync(join(root, "bus/pci/drivers/e1000e/unbind"), "utf8"), new RegExp(NIC));
});

test("every sysfs lever of SysfsControl refuses a link out of the tree (vfs's sriov files too)", () => {
  const levers: [string, (c: SysfsControl) => void][] = [
    ["driver_override", (c) => c.writeOverride(NIC, "vfio-pci")],
    ["sriov_numvfs", (c) => c.setNumVfs(NIC, 2)],
    ["sriov_drivers_autoprobe", (c) => c.setSriovAutoprobe(NIC, false)],
  ];
  for (const [name, pull] of levers) {
    const root = tree();
    const outside = victim();
    rmSync(device(root, name), { force: true });
    symlinkSync(outside, device(root, name));
    const control = new SysfsControl({ sysfs: root, proc: null, modprobe: null, dev: join(root, "dev") });
    assert.throws(() => pull(control), /leads outside the tree, not written/, name);
    intact(outside);
  }
  for (const lever of ["bind", "unbind"] as const) {
    const root = tree();
    const outside = victim();
    rmSync(join(root, "bus/pci/drivers/e1000e", lever));
    symlinkSync(outside, join(root, "bus/pci/drivers/e1000e", lever));
    const control = new SysfsControl({ sysfs: root, proc: null, modprobe: null, dev: join(root, "dev") });
    assert.throws(() => control[lever](NIC, "e1000e"), /leads outside the tree/, lever);
    intact(outside);
  }
  const root = tree();
  const outside = victim();
  rmSync(join(root, "bus/pci/drivers_probe"));
  symlinkSync(outside, join(root, "bus/pci/drivers_probe"));
  const control = new SysfsControl({ sysfs: root, proc: null, modprobe: null, dev: join(root, "dev") });
  assert.throws(() => control.probe(NIC), /leads outside the tree/);
  intact(outside);
});

test("a rule's temporary file: a link planted under the name the old code used (.NAME.rule.tmp-PID) is not written through", () => {
  const dir = tempDir("planted-rule");
  const outside = victim();
  symlinkSync(outside, join(dir, `.nic.rule.tmp-${process.pid}`));
  saveRule(dir, { name: "nic", selector: { kind: "address", address: NIC }, flavour: "vfio" });
  intact(outside);
  assert.match(readFileSync(join(dir, "nic.rule"), "utf8"), /flavour vfio/);
});

test("the lock: a link planted under the old name of the file written aside (LOCK.PID) is not written through", () => {
  const dir = tempDir("planted-lock");
  const lock = join(dir, ".flavourctl.lock");
  const outside = victim();
  symlinkSync(outside, `${lock}.${process.pid}`);
  takeLock(lock, 1000)();
  intact(outside);
});

test("the lock: a dangling link, or a link to a file, as the lock is taken over at once, never followed", () => {
  const dir = tempDir("linked-lock");
  const lock = join(dir, ".flavourctl.lock");
  // a dangling link: not "held" until removed by hand (the old code waited, then exit 5)
  symlinkSync(join(dir, "nowhere"), lock);
  const started = Date.now();
  const release = takeLock(lock, 5000);
  assert.ok(Date.now() - started < 2000, "not waited for");
  assert.ok(lstatSync(lock).isFile(), "the lock is our own file now");
  release();
  assert.equal(existsSync(lock), false);
  // a link to a file: never read or written through, replaced by the lock
  const other = victim();
  symlinkSync(other, lock);
  takeLock(lock, 5000)();
  intact(other);
  assert.equal(lstatSync(lock, { throwIfNoEntry: false }), undefined);
});

test("the lock: a dead owner's lock with a dangling link as its takeover guard is taken over, not spun on", () => {
  // The old code followed the guard (statSync: ENOENT, ignored) and retried at once, forever:
  // a child process, so that a spin fails the test instead of hanging it.
  const dir = tempDir("planted-guard");
  const lock = join(dir, "lock");
  writeFileSync(lock, "999999999\n"); // no such process
  symlinkSync(join(dir, "nowhere"), `${lock}.takeover`);
  const child = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      `import { takeLock } from ${JSON.stringify(new URL("../src/host/lock.ts", import.meta.url).pathname)};
       takeLock(${JSON.stringify(lock)}, 2000)(); console.log("taken");`,
    ],
    { encoding: "utf8", timeout: 20_000 },
  );
  assert.equal(child.signal, null, "it did not finish in 20 s");
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout, "taken\n");
});

test("the hook's boot marker: a dangling link planted in the run directory is replaced, not written through", async () => {
  const root = tree();
  const rules = tempDir("marker-rules");
  writeFileSync(join(rules, "nic.rule"), `match address ${NIC}\nflavour driver\ndriver e1000e\n`);
  writeFileSync(device(root, "driver_override"), "e1000e\n"); // it has its flavour: nothing to do
  const run = tempDir("marker-run");
  const victimDir = tempDir("marker-victim");
  // existsSync follows it and finds nothing: a boot pass, whose marker must not land in victimDir
  symlinkSync(join(victimDir, "planted"), join(run, "boot-pass-done"));
  const { io, recorded } = recordingIo("", { ACTION: "add", SUBSYSTEM: "pci", PCI_SLOT_NAME: NIC });
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
  assert.equal(await main(args, io), 0, recorded.stderr);
  assert.match(recorded.stderr, /boot pass/);
  assert.deepEqual(readdirSync(victimDir), [], "nothing written through the link");
  assert.ok(lstatSync(join(run, "boot-pass-done")).isFile(), "the marker is a file of its own");
});

test("snapshot: a link planted under the old work directory's name (DEST.partial-PID) is left alone", () => {
  const root = tree();
  const dest = join(tempDir("snapshot-dest"), "copy");
  const victimDir = tempDir("victim-dir");
  symlinkSync(victimDir, `${dest}.partial-${process.pid}`);
  snapshot(root, dest, () => {});
  assert.deepEqual(readdirSync(victimDir), [], "nothing was copied into the victim's directory");
  assert.ok(existsSync(join(dest, "bus/pci/devices", NIC)));
});

test("a place that cannot be a directory (/proc/x) refuses up front with one line, never spins (bundled CLI)", () => {
  assert.ok(existsSync(bundle), `${bundle} is missing: run npm run build`);
  const state = { XDG_STATE_HOME: tempDir("proc-state") };
  const rules = tempDir("proc-rules");
  writeFileSync(join(rules, "nic.rule"), "match address 0000:03:00.0\nflavour vfio\n");
  const cases: [string[], Record<string, string>][] = [
    [["set", "0000:03:00.0", "vfio", "--machine", "demo", "--config", "/proc/x"], {}],
    [
      ["hook", "--machine", "demo", "--config", rules, "--run-dir", "/proc/x"],
      { ACTION: "add", SUBSYSTEM: "pci", PCI_SLOT_NAME: "0000:03:00.0" },
    ],
    [["udev-rule", "--output", "/proc/x/r"], {}],
    [["snapshot", "/proc/x", "--sysfs", tree()], {}],
  ];
  for (const [argv, env] of cases) {
    const started = Date.now();
    const run = spawnSync(process.execPath, [bundle, ...argv], {
      encoding: "utf8",
      timeout: 20_000,
      env: { ...process.env, FLAVOURCTL_INDEX_CACHE: "off", NO_COLOR: "1", ...state, ...env },
    });
    assert.equal(run.signal, null, `${argv.join(" ")}: still running after 20 s`);
    assert.ok(run.status === 2 || run.status === 6, `${argv.join(" ")}: exit ${run.status}: ${run.stderr}`);
    assert.match(run.stderr, /^flavourctl [a-z-]+: [^\n]*\/proc\/x[^\n]*\n$/, argv.join(" "));
    assert.ok(Date.now() - started < 10_000);
  }
  const devices = spawnSync(process.execPath, [bundle, "sim", "devices", "demo", "--json"], {
    encoding: "utf8",
    env: { ...process.env, FLAVOURCTL_INDEX_CACHE: "off", ...state },
  });
  const nic = (JSON.parse(devices.stdout) as { address: string; driver: string }[]).find(
    (d) => d.address === "0000:03:00.0",
  );
  assert.equal(nic?.driver, "virtio-pci", "set and the hook refused before the device moved");
});

test("makeDirectory: a directory made here, a file in the way and /proc/x each end in one clear error", async () => {
  const { makeDirectory } = await import("../src/safe-write.ts");
  const dir = tempDir("mkdir");
  makeDirectory(join(dir, "a/b/c"));
  assert.ok(lstatSync(join(dir, "a/b/c")).isDirectory());
  writeFileSync(join(dir, "file"), "");
  assert.throws(() => makeDirectory(join(dir, "file/sub")), {
    message: `${join(dir, "file")}: not a directory (ENOTDIR)`,
    exitCode: 2,
  });
  assert.throws(() => makeDirectory("/proc/x/y"), {
    message: "/proc/x: cannot make the directory (ENOENT)",
    exitCode: 2,
  });
  mkdirSync(join(dir, "real"));
  symlinkSync(join(dir, "real"), join(dir, "linked"));
  makeDirectory(join(dir, "linked/inner")); // an operator's link on the way is followed
  assert.ok(lstatSync(join(dir, "real/inner")).isDirectory());
});
