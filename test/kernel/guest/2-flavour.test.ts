// flavourctl set/unset on a real kernel (issue 5): the packaged command (/usr/sbin/flavourctl) run as
// a user runs it, inside the guest, on the real /sys with the real modprobe.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ExitCode } from "../../../src/errors.ts";
import {
  addresses,
  dev,
  driverOf,
  FLAVOURCTL,
  flavourctl,
  groupOf,
  modprobe,
  moduleLoaded,
  one,
  overrideOf,
  read,
  run,
  VIRTIO_BLK_VFIO_DRIVER,
  waitForDriver,
  write,
} from "./support.ts";

const INTEL = 0x8086;
const virtioNet = () => one(0x1af4, 0x1041);
const virtioBlk = () => one(0x1af4, 0x1042);
const e1000eIntel = () => one(INTEL, 0x10d3, INTEL);
const e1000eMellanox = () => one(INTEL, 0x10d3, 0x15b3);
const legacyE1000 = () => one(INTEL, 0x100e);
const nvme = () => one(0x1b36, 0x0010);

const noSave = ["--no-save"];

/** Every device's driver and override, and the loaded modules: what --dry-run must not change. */
function snapshot(): string {
  const devices = addresses().map((a) => `${a} ${driverOf(a)} ${overrideOf(a)}`);
  const loaded = readFileSync("/proc/modules", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[0])
    .sort();
  return [...devices, ...loaded].join("\n");
}

function set(...args: string[]) {
  return flavourctl("set", ...args);
}

test("set <virtio-net> vfio picks virtio_vfio_pci over vfio_pci and binds it; unset returns it to virtio-pci", () => {
  const net = virtioNet();
  const result = set(net, "vfio", "--json", ...noSave);
  assert.equal(result.status, 0, result.stderr);
  const { plan, result: applied } = JSON.parse(result.stdout);
  assert.equal(plan.target.module, "virtio_vfio_pci");
  assert.deepEqual(
    plan.target.candidates.map((c: { module: string }) => c.module),
    ["virtio_vfio_pci", "vfio_pci"],
  );
  assert.equal(applied.outcome, "done");
  assert.equal(driverOf(net), "virtio_vfio_pci");
  assert.ok(existsSync(`/dev/vfio/${groupOf(net)}`));
  const again = set(net, "vfio", ...noSave);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /nothing to do/);
  const back = flavourctl("unset", net);
  assert.equal(back.status, 0, back.stderr);
  assert.equal(driverOf(net), "virtio-pci");
  assert.equal(overrideOf(net), null);
  assert.equal(existsSync(`/dev/vfio/${groupOf(net)}`), false);
});

/** drivers/base/dd.c's pr_debug/dev_dbg lines (really_probe, driver_bound) on or off (dynamic debug). */
function driverCoreDebug(on: boolean): void {
  const control = existsSync("/proc/dynamic_debug/control")
    ? "/proc/dynamic_debug/control"
    : "/sys/kernel/debug/dynamic_debug/control";
  writeFileSync(control, `file drivers/base/dd.c ${on ? "+p" : "-p"}\n`);
}

test("the thread's device: set <virtio-blk 1af4:1042> vfio binds virtio_vfio_pci from 6.15 (vfio-pci before); the kernel log shows the probe", (t) => {
  const blk = virtioBlk();
  const variant = VIRTIO_BLK_VFIO_DRIVER === "virtio_vfio_pci";
  const before = run("dmesg", []).stdout.split("\n").length;
  driverCoreDebug(true);
  let result: { status: number; stdout: string; stderr: string };
  try {
    result = set(blk, "vfio", "--json", ...noSave);
  } finally {
    driverCoreDebug(false);
  }
  assert.equal(result.status, 0, result.stdout + result.stderr);
  const { plan } = JSON.parse(result.stdout);
  assert.equal(plan.target.module, variant ? "virtio_vfio_pci" : "vfio_pci", plan.target.reason);
  assert.deepEqual(
    plan.target.candidates.map((c: { module: string }) => c.module),
    variant ? ["virtio_vfio_pci", "vfio_pci"] : ["vfio_pci"],
  );
  assert.equal(driverOf(blk), VIRTIO_BLK_VFIO_DRIVER);
  assert.equal(overrideOf(blk), VIRTIO_BLK_VFIO_DRIVER);
  assert.ok(existsSync(`/dev/vfio/${groupOf(blk)}`));
  const log = run("dmesg", [])
    .stdout.split("\n")
    .slice(before - 1)
    .filter((l) => l.includes(blk));
  t.diagnostic(`${release()}: set ${blk} (1af4:1042) vfio -> ${driverOf(blk)}`);
  for (const line of log) t.diagnostic(`kernel log: ${line.trim()}`);
  // really_probe's "probing driver X with device" and driver_bound's "bound to device".
  assert.ok(
    log.some((l) => l.includes(`probing driver ${VIRTIO_BLK_VFIO_DRIVER} with device`)),
    `no probe of ${VIRTIO_BLK_VFIO_DRIVER} in the kernel log:\n${log.join("\n")}`,
  );
  assert.ok(log.some((l) => l.includes(`'${VIRTIO_BLK_VFIO_DRIVER}'`) && l.includes("bound to device")));
  const back = flavourctl("unset", blk);
  assert.equal(back.status, 0, back.stdout + back.stderr);
  assert.equal(waitForDriver(blk, "virtio-pci"), "virtio-pci");
  assert.equal(overrideOf(blk), null);
});

test("set <e1000e> vfio binds vfio-pci (no variant matches); set … default returns it to e1000e", () => {
  const nic = e1000eIntel();
  const result = set(nic, "vfio", "--json", ...noSave);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout).plan.target.module, "vfio_pci");
  assert.equal(driverOf(nic), "vfio-pci");
  assert.equal(overrideOf(nic), "vfio-pci");
  const back = set(nic, "default");
  assert.equal(back.status, 0, back.stderr);
  assert.equal(driverOf(nic), "e1000e");
  assert.equal(overrideOf(nic), null);
});

// Debian builds virtio_pci in, so virtio_vfio_pci's dependency on it cannot load a host driver
// here; a modprobe.d softdep makes the same thing happen to e1000e: loading the vfio module
// loads the host driver of an unbound device, and driver_register binds every unbound device
// it matches. The hold (a driver_override no driver has) keeps it off; without it the set
// failed here, as the boot pass did on the simulated machine (e1000e bound, rolled back).
test("set vfio on an unbound device while the vfio module pulls its host driver in: held, e1000e never gets it", () => {
  const [nic, other] = [e1000eIntel(), e1000eMellanox()];
  const conf = "/etc/modprobe.d/flavourctl-test-softdep.conf";
  modprobe("-r", "e1000e");
  if (moduleLoaded("vfio_pci")) modprobe("-r", "vfio_pci");
  assert.deepEqual([driverOf(nic), driverOf(other)], [null, null]);
  writeFileSync(conf, "softdep vfio_pci pre: e1000e\n");
  let back: ReturnType<typeof set> | undefined;
  try {
    const result = set(nic, "vfio", "--json", ...noSave);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    const { plan, result: applied } = JSON.parse(result.stdout);
    assert.deepEqual(plan.steps[0], { action: "hold", override: "(flavourctl-hold)" });
    assert.equal(applied.outcome, "done");
    assert.equal(driverOf(nic), "vfio-pci");
    assert.equal(overrideOf(nic), "vfio-pci");
    // e1000e did load, and bound the device nobody held; the held one it never had.
    assert.equal(moduleLoaded("e1000e"), true);
    assert.equal(waitForDriver(other, "e1000e"), "e1000e");
    const log: string[] = applied.log;
    assert.ok(log.includes("loaded module vfio_pci"), log.join("\n"));
    assert.ok(!log.some((line) => /bound .* to e1000e|meanwhile/.test(line)), log.join("\n"));
  } finally {
    // Back to e1000e even when an assertion failed, so the tests after this one start as usual.
    unlinkSync(conf);
    back = set(nic, "default");
  }
  assert.equal(back.status, 0, back.stderr);
  assert.equal(driverOf(nic), "e1000e");
  assert.equal(overrideOf(nic), null);
  assert.equal(waitForDriver(other, "e1000e"), "e1000e");
});

test("--dry-run prints the plan and changes nothing (every device's driver and override, loaded modules)", () => {
  modprobe("-r", "virtio_vfio_pci");
  const before = snapshot();
  for (const [address, flavour] of [
    [virtioNet(), "vfio"],
    [e1000eIntel(), "vfio"],
    [nvme(), "vfio"],
  ] as const) {
    const result = set(address, flavour, "--dry-run", ...noSave);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /step {3}/);
  }
  assert.equal(snapshot(), before);
  assert.equal(moduleLoaded("virtio_vfio_pci"), false);
});

test("fault: a blacklisted variant is reported and nothing is changed", () => {
  const net = virtioNet();
  const conf = "/etc/modprobe.d/flavourctl-test-blacklist.conf";
  writeFileSync(conf, "blacklist virtio_vfio_pci\n");
  try {
    const result = set(net, "vfio", ...noSave);
    assert.equal(result.status, ExitCode.failedRolledBack, result.stdout + result.stderr);
    assert.match(result.stdout + result.stderr, /blacklisted/);
    assert.equal(driverOf(net), "virtio-pci");
    assert.equal(overrideOf(net), null);
  } finally {
    unlinkSync(conf);
  }
});

test("fault: a module that does not exist and a driver whose table lacks the device are refused", () => {
  const nic = e1000eIntel();
  const missing = set(nic, "--driver", "flavourctl_no_such_module", ...noSave);
  assert.equal(missing.status, ExitCode.refused, missing.stderr);
  assert.match(missing.stderr, /no PCI driver named 'flavourctl_no_such_module'/);
  const mismatch = set(nic, "--driver", "nvme", ...noSave);
  assert.equal(mismatch.status, ExitCode.refused, mismatch.stderr);
  assert.match(mismatch.stderr, /id tables do not include/);
  const notVfio = set(nic, "vfio", "--driver", "pci-stub", ...noSave);
  assert.equal(notVfio.status, ExitCode.refused, notVfio.stderr);
  assert.equal(driverOf(nic), "e1000e");
  assert.equal(overrideOf(nic), null);
});

test("fault: a device in a non-viable IOMMU group is refused, naming the member that blocks it", () => {
  const nic = legacyE1000();
  const result = set(nic, "vfio", ...noSave);
  assert.equal(result.status, ExitCode.refused, result.stderr);
  assert.match(result.stderr, /would not be viable/);
  assert.match(result.stderr, /bound to host driver 8139/);
  assert.equal(driverOf(nic), "e1000");
});

test("a PF with VFs enabled: refused, naming its VF; with --force the VFs are removed as a step of their own, vfio-pci binds, unset gives it back", () => {
  const pf = nvme();
  write(dev(pf, "sriov_drivers_autoprobe"), "0");
  write(dev(pf, "sriov_numvfs"), "1");
  try {
    const refused = set(pf, "vfio", ...noSave);
    assert.equal(refused.status, ExitCode.refused, refused.stderr);
    assert.match(refused.stderr, /is a PF with 1 VFs enabled, and unbinding it removes them/);
    assert.equal(read(dev(pf, "sriov_numvfs")), "1", "refused: the VF is still there");
    // vfio-pci refuses a PF whose VFs are enabled (EBUSY, vfio_pci_core's probe): the plan
    // removes them first, so the probe succeeds — and says so, never silently
    const forced = set(pf, "vfio", "--force", "--json", ...noSave);
    assert.equal(forced.status, ExitCode.ok, forced.stdout + forced.stderr);
    const { plan, result } = JSON.parse(forced.stdout);
    assert.deepEqual(
      plan.steps.map((step: { action: string }) => step.action),
      ["load-module", "write-override", "remove-vfs", "unbind", "probe", "verify"],
    );
    assert.equal(result.outcome, "done");
    assert.ok(
      result.log.some((line: string) => line.startsWith("sriov_numvfs = 0: removed VFs")),
      result.log,
    );
    assert.equal(driverOf(pf), "vfio-pci");
    assert.equal(read(dev(pf, "sriov_numvfs")), "0");
    const back = flavourctl("unset", pf);
    assert.equal(back.status, ExitCode.ok, back.stdout + back.stderr);
    assert.equal(driverOf(pf), "nvme");
    assert.equal(overrideOf(pf), null);
  } finally {
    if (driverOf(pf) !== "nvme") flavourctl("unset", pf);
    if (driverOf(pf) === "nvme") write(dev(pf, "sriov_numvfs"), "0");
    write(dev(pf, "sriov_drivers_autoprobe"), "1");
  }
});

/** The packaged command as a child process, so that two can run at once. */
function spawnCli(args: string[]): {
  pid: number;
  done: Promise<{ status: number; stdout: string; stderr: string }>;
} {
  const child = spawn(FLAVOURCTL, args);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const done = new Promise<{ status: number; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (status) => resolve({ status: status ?? -1, stdout, stderr })),
  );
  return { pid: child.pid as number, done };
}

const LOCK = "/run/flavourctl/lock";

/** Runs the commands at once, sampling which pid holds the host lock while they run. */
async function concurrently(...commands: string[][]) {
  const children = commands.map(spawnCli);
  const owners = new Set<number>();
  const sampler = setInterval(() => {
    try {
      owners.add(Number.parseInt(readFileSync(LOCK, "utf8"), 10));
    } catch {
      // not held at this instant
    }
  }, 5);
  const results = await Promise.all(children.map((c) => c.done));
  clearInterval(sampler);
  return { results, pids: children.map((c) => c.pid), owners };
}

test("two concurrent set runs: each holds the host lock in turn and reports its own outcome", async () => {
  const [a, b] = [e1000eMellanox(), virtioBlk()];
  const { results, pids, owners } = await concurrently(
    ["set", a, "vfio", "--no-save"],
    ["set", b, "vfio", "--no-save"],
  );
  for (const r of results) assert.equal(r.status, 0, r.stdout + r.stderr);
  for (const pid of pids)
    assert.ok(owners.has(pid), `pid ${pid} was never seen holding ${LOCK} (${[...owners]})`);
  assert.match(results[0]?.stdout ?? "", new RegExp(`${a}: done, now on vfio-pci`));
  assert.match(results[1]?.stdout ?? "", new RegExp(`${b}: done, now on ${VIRTIO_BLK_VFIO_DRIVER}`));
  assert.equal(driverOf(a), "vfio-pci");
  assert.equal(driverOf(b), VIRTIO_BLK_VFIO_DRIVER);
  // The same device from both at once: one moves it, the other finds it done.
  const same = await concurrently(["unset", a], ["unset", a], ["unset", b]);
  for (const r of same.results) assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal(
    same.results.filter((r) => /nothing to do/.test(r.stdout)).length,
    1,
    "one unset of the same device found nothing to do",
  );
  assert.equal(driverOf(a), "e1000e");
  assert.equal(waitForDriver(b, "virtio-pci"), "virtio-pci");
});

test("a held host lock: set waits, then fails with exit 5 and changes nothing", () => {
  writeFileSync(LOCK, `${process.pid}\n`);
  try {
    const nic = e1000eIntel();
    const result = set(nic, "vfio", ...noSave, "--wait", "2");
    assert.equal(result.status, ExitCode.busy, result.stderr);
    assert.match(result.stderr, /holds \/run\/flavourctl\/lock/);
    assert.equal(driverOf(nic), "e1000e");
  } finally {
    rmSync(LOCK, { force: true });
  }
});

test("bad input: malformed and missing addresses, unknown flavours, no root — clear messages, nothing changed", () => {
  const before = snapshot();
  for (const [args, pattern] of [
    [["../../../etc", "vfio"], /invalid PCI address/],
    [["0000:00:1f.9", "vfio"], /invalid PCI address/],
    [["0000:7f:1f.7", "vfio"], /no PCI device 0000:7f:1f\.7/],
    [[virtioNet(), "turbo"], /unknown flavour 'turbo'/],
  ] as const) {
    const result = set(...args, ...noSave);
    assert.equal(result.status, ExitCode.usage, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, pattern);
    assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
  }
  const user = run("runuser", ["-u", "nobody", "--", FLAVOURCTL, "set", virtioNet(), "vfio", "--no-save"]);
  assert.equal(user.status, ExitCode.permission, user.stderr);
  assert.match(user.stderr, /root/);
  assert.equal(snapshot(), before);
});

test("--modules outside /lib/modules: the lookup and modprobe (-d ROOT -S VERSION) both use that tree", () => {
  const tree = join(process.env.FLAVOURCTL_KERNEL_ROOT ?? "", "lib/modules", release());
  assert.ok(existsSync(join(tree, "modules.alias")), `no modules tree at ${tree}`);
  const nic = e1000eIntel();
  modprobe("-r", "vfio_pci");
  assert.equal(moduleLoaded("vfio_pci"), false);
  const result = set(nic, "vfio", "--modules", tree, ...noSave);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /loaded module vfio_pci/);
  assert.equal(driverOf(nic), "vfio-pci");
  const back = flavourctl("unset", nic, "--modules", tree);
  assert.equal(back.status, 0, back.stderr);
  assert.equal(driverOf(nic), "e1000e");
});
