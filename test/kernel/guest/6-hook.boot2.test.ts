// Second boot of the udev hook proof (issues 6 and 17; 6-hook.test.ts saved the rules in boot 1,
// guest.sh put them in /etc before udevd started). The hook is the Debian package's: its rule in
// /usr/lib/udev/rules.d runs /usr/sbin/flavourctl. guest.sh recorded every
// kernel uevent of the coldplug (udevadm monitor --kernel --property, listening before
// `udevadm trigger`): that record, and the kernel log, are the driver history of each device.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { closeSync, copyFileSync, openSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { test } from "node:test";
import {
  dev,
  driverOf,
  flavourctl,
  one,
  overrideOf,
  run,
  sleep,
  stateDir,
  waitForDriver,
  write,
} from "./support.ts";

const INTEL = 0x8086;
const mellanox = () => one(INTEL, 0x10d3, 0x15b3);
const intel = () => one(INTEL, 0x10d3, INTEL);
const nvme = () => one(0x1b36, 0x0010);

interface Uevent {
  action: string;
  devpath: string;
  props: Record<string, string>;
}

/** udevadm monitor --property output: blocks of `KERNEL[t] ACTION DEVPATH (SUBSYSTEM)` + KEY=VALUE. */
function parseUevents(text: string): Uevent[] {
  const events: Uevent[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.trim().split("\n");
    if (!/^KERNEL\[/.test(lines[0] ?? "")) continue;
    const props: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const eq = line.indexOf("=");
      if (eq > 0) props[line.slice(0, eq)] = line.slice(eq + 1);
    }
    events.push({ action: props.ACTION ?? "", devpath: props.DEVPATH ?? "", props });
  }
  return events;
}

const of = (address: string) => (e: Uevent) => basename(e.devpath) === address;
const binds = (events: Uevent[], address: string) =>
  events.filter((e) => of(address)(e) && e.action === "bind").map((e) => e.props.DRIVER);

function coldplugEvents(): Uevent[] {
  const path = process.env.FLAVOURCTL_COLDPLUG_UEVENTS;
  assert.ok(path, "guest.sh did not record the coldplug's uevents (FLAVOURCTL_COLDPLUG_UEVENTS)");
  return parseUevents(readFileSync(path, "utf8"));
}

/** Kernel uevents while `action` runs: a monitor listening before it starts, stopped after settle. */
function captureUevents(action: () => void): Uevent[] {
  const path = `/run/uevents-${Date.now()}`;
  const fd = openSync(path, "w");
  const monitor = spawn("stdbuf", ["-oL", "udevadm", "monitor", "--kernel", "--property"], {
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  try {
    for (let i = 0; i < 100 && !/^KERNEL - /m.test(readFileSync(path, "utf8")); i++) sleep(50);
    assert.match(readFileSync(path, "utf8"), /^KERNEL - /m, "udevadm monitor did not start");
    action();
    run("udevadm", ["settle", "--timeout=60"]);
    sleep(300);
  } finally {
    monitor.kill("SIGTERM");
  }
  spawnSync("sleep", ["0.2"]);
  return parseUevents(readFileSync(path, "utf8"));
}

function kernelLog(): string {
  return run("dmesg", []).stdout;
}

/** Kernel log lines added while `action` runs. */
function newKernelLines(action: () => void): string[] {
  const before = kernelLog().split("\n").length;
  action();
  return kernelLog()
    .split("\n")
    .slice(before - 1);
}

/** nvme_probe's first line (drivers/nvme/host/pci.c): it was called for this device. */
const nvmeProbed = (lines: string[], address: string) =>
  lines.some((l) => l.includes(`: pci function ${address}`));

/** The packaged rule's command: what udev runs at each PCI add event. */
function packagedHook(): string[] {
  const text = readFileSync("/usr/lib/udev/rules.d/60-flavourctl.rules", "utf8");
  const command = /RUN\+="([^"]+)"/.exec(text)?.[1];
  assert.equal(command, "/usr/bin/node --jitless /usr/sbin/flavourctl hook");
  return command.split(" ");
}

test("the packaged rule is in /usr/lib/udev/rules.d and udev runs its hook before 80-drivers.rules' kmod load", () => {
  packagedHook();
  const tested = run("udevadm", ["test", "--action=add", `/sys/bus/pci/devices/${mellanox()}`]);
  const out = (tested.stdout + tested.stderr).split("\n");
  const hook = out.findIndex((l) => /^run: '.*\/usr\/sbin\/flavourctl hook'/i.test(l.trim()));
  const kmod = out.findIndex((l) => /^run: 'kmod load'/i.test(l.trim()));
  assert.ok(hook >= 0 && kmod >= 0, `udevadm test shows no hook or kmod RUN:\n${out.join("\n")}`);
  assert.ok(hook < kmod, "the hook runs after kmod load");
});

test("after the reboot the Mellanox e1000e is on vfio-pci and never bound e1000e; the other e1000e did", (t) => {
  const [mlx, plain] = [mellanox(), intel()];
  const log = kernelLog();
  const hookLines = log.split("\n").filter((l) => l.includes("flavourctl: "));
  for (const line of hookLines) t.diagnostic(`kernel log: ${line.trim()}`);
  // The driver history, kept for a look after the run (FLAVOURCTL_KERNEL_KEEP=1).
  copyFileSync(process.env.FLAVOURCTL_COLDPLUG_UEVENTS ?? "", join(stateDir, "boot2-coldplug.uevents"));
  writeFileSync(join(stateDir, "boot2-dmesg.txt"), log);
  assert.match(
    hookLines.find((l) => l.includes(`flavourctl: ${mlx}:`)) ?? "",
    /: done -> vfio-pci \(boot pass\)$/,
    "the hook's boot pass did not bind it",
  );
  assert.equal(driverOf(mlx), "vfio-pci");
  assert.equal(overrideOf(mlx), "vfio-pci");
  assert.equal(driverOf(plain), "e1000e", "the other e1000e: its driver did load at coldplug");
  const events = coldplugEvents();
  assert.ok(
    events.some((e) => of(mlx)(e) && e.action === "add"),
    "the record misses the coldplug add",
  );
  assert.deepEqual(binds(events, mlx), ["vfio-pci"], `${mlx}: its binds during coldplug`);
  assert.deepEqual(binds(events, plain), ["e1000e"], `${plain}: its binds during coldplug`);
  // The race the hold wins: the e1000e module was loaded during this coldplug (for the other
  // device), and its driver_register tried every unbound device it matches, the Mellanox one
  // among them: the hook's driver_override was already there (its only bind is vfio-pci's, and
  // no e1000e line names it). Whether vfio-pci bound before or after that load is the hook's
  // speed, not the hold: under TCG on a loaded host the packaged hook bound it 40 s after the
  // load (both kernels), so the order is reported, not asserted.
  const moduleLoad = events.findIndex((e) => e.action === "add" && e.devpath === "/module/e1000e");
  const vfioBind = events.findIndex((e) => of(mlx)(e) && e.action === "bind");
  assert.ok(moduleLoad >= 0, "e1000e was not loaded during coldplug");
  assert.ok(vfioBind >= 0, "no bind uevent of the Mellanox e1000e");
  assert.doesNotMatch(log, new RegExp(`e1000e ${mlx}`), "the kernel log has e1000e probing it");
  assert.match(log, new RegExp(`e1000e ${plain}`));
  t.diagnostic(
    `coldplug uevents: ${events.length}; ${mlx} binds ${binds(events, mlx)}; ${plain} binds ${binds(events, plain)}; module e1000e loaded at event ${moduleLoad}, ${mlx} bound at ${vfioBind} (${vfioBind < moduleLoad ? "before" : "after"} the load)`,
  );
});

test("apply twice: the first brings the device back to its flavour, the second has nothing to do", (t) => {
  const mlx = mellanox();
  const away = flavourctl("set", mlx, "default", "--no-save");
  assert.equal(away.status, 0, away.stdout + away.stderr);
  assert.equal(driverOf(mlx), "e1000e");
  const first = flavourctl("apply");
  assert.equal(first.status, 0, first.stdout + first.stderr);
  assert.doesNotMatch(first.stdout, /nothing to do/);
  assert.equal(driverOf(mlx), "vfio-pci");
  const second = flavourctl("apply");
  assert.equal(second.status, 0, second.stderr);
  assert.equal(second.stdout, "nothing to do: every device named by a rule has its flavour\n");
  const json = flavourctl("apply", "--json");
  const outcomes = JSON.parse(json.stdout) as { address: string; give: { plan: { done: boolean } } }[];
  assert.deepEqual(
    outcomes.map((o) => [o.address, o.give.plan.done]),
    [[mlx, true]],
  );
  t.diagnostic(`first apply: ${first.stdout.trim().split("\n").join(" | ")}`);
  t.diagnostic(`second apply: ${second.stdout.trim()}`);
});

test("vfs PF 2 with a vfs-of rule: both VFs on vfio-pci, never nvme; again after vfs PF 0", (t) => {
  const pf = nvme();
  for (const round of [1, 2]) {
    let created = { status: -1, stdout: "", stderr: "" };
    let events: Uevent[] = [];
    const log = newKernelLines(() => {
      events = captureUevents(() => {
        created = flavourctl("vfs", pf, "2");
      });
    });
    assert.equal(created.status, 0, created.stdout + created.stderr);
    const vfs = [0, 1].map((i) => basename(readlinkSync(dev(pf, `virtfn${i}`))));
    for (const vf of vfs) {
      assert.equal(driverOf(vf), "vfio-pci", `round ${round}: ${vf}`);
      assert.ok(
        events.some((e) => of(vf)(e) && e.action === "add"),
        `round ${round}: no add uevent of ${vf}`,
      );
      assert.deepEqual(binds(events, vf), ["vfio-pci"], `round ${round}: ${vf}: its binds`);
      assert.ok(!nvmeProbed(log, vf), `round ${round}: nvme's probe ran for ${vf}`);
    }
    t.diagnostic(`round ${round}: ${vfs.map((vf) => `${vf} binds ${binds(events, vf)}`).join("; ")}`);
    const removed = flavourctl("vfs", pf, "0");
    assert.equal(removed.status, 0, removed.stdout + removed.stderr);
  }
});

test("the contrast: a VF made by writing sriov_numvfs (autoprobe on) goes to nvme's probe first; the hook then gives it vfio-pci", (t) => {
  const pf = nvme();
  let vf = "";
  let events: Uevent[] = [];
  const log = newKernelLines(() => {
    events = captureUevents(() => {
      write(dev(pf, "sriov_numvfs"), "1");
      vf = basename(readlinkSync(dev(pf, "virtfn0")));
      waitForDriver(vf, "vfio-pci", 30_000);
    });
  });
  const history = binds(events, vf);
  t.diagnostic(`${vf} binds ${history.join(", ")}`);
  for (const line of log.filter((l) => l.includes(vf))) t.diagnostic(`kernel log: ${line.trim()}`);
  assert.ok(nvmeProbed(log, vf), "nvme's probe did not run: the contrast shows nothing");
  assert.equal(driverOf(vf), "vfio-pci", "the hook did not give the VF its flavour");
  assert.equal(history.at(-1), "vfio-pci");
  const removed = flavourctl("vfs", pf, "0");
  assert.equal(removed.status, 0, removed.stdout + removed.stderr);
});

function medianMs(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function timeRuns(command: string, args: string[], env: NodeJS.ProcessEnv, runs = 7): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    const result = spawnSync(command, args, { env, encoding: "utf8" });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    assert.equal(result.status, 0, `${command} ${args.join(" ")}: ${result.stderr}`);
  }
  return medianMs(times);
}

test("the packaged hook's time per PCI add event in the guest (TCG), beside node -e 0", (t) => {
  const [node, ...args] = packagedHook() as [string, ...string[]];
  const env = (address: string) => ({ ACTION: "add", SUBSYSTEM: "pci", PCI_SLOT_NAME: address });
  const floor = timeRuns(node, ["-e", "0"], {});
  const noRule = timeRuns(node, args, env(intel()));
  const withRule = timeRuns(node, args, env(mellanox()));
  t.diagnostic(
    `median of 7 (ms): node -e 0 ${floor.toFixed(0)}; hook, no rule ${noRule.toFixed(0)}; hook, rule already met ${withRule.toFixed(0)}`,
  );
  assert.equal(driverOf(mellanox()), "vfio-pci");
});
