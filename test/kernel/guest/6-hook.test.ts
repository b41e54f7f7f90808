// Boot 1 half of the udev hook proof (issues 6 and 17); 6-hook.boot2.test.ts is the other half.
// The Debian package is installed in the guest's root (guest.sh, every boot), its udev rule in
// /usr/lib/udev/rules.d. Boot 1 saves, with the packaged command, what a machine's disk would
// keep: a vfio rule for the e1000e with the Mellanox subsystem and a vfs-of rule for the nvme's
// VFs. They go to state/etc, which guest.sh copies over /etc at the start of the next boot,
// before udevd starts (the guest's /etc is a tmpfs overlay, gone with the reboot). Nothing here
// stays changed in boot 1 itself (8-restored checks that).
import assert from "node:assert/strict";
import { existsSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { basename, join } from "node:path";
import { test } from "node:test";
import { dev, driverOf, flavourctl, one, overrideOf, run, stateDir } from "./support.ts";

const INTEL = 0x8086;
/** What the next boot sees as /etc/flavourctl/rules.d, the default rules directory. */
const rulesDir = join(stateDir, "etc/flavourctl/rules.d");
/** The packaged rule; one of the same name in /etc/udev/rules.d would override it. */
const packagedRule = "/usr/lib/udev/rules.d/60-flavourctl.rules";

test("the package is installed: /usr/sbin/flavourctl runs the packaged bundle, and its udev rule names it and /usr/bin/node", () => {
  assert.equal(realpathSync("/usr/sbin/flavourctl"), "/usr/lib/flavourctl/flavourctl.js");
  assert.equal(readFileSync("/usr/lib/flavourctl/flavourctl.js", "latin1").split("\n")[0], "#!/usr/bin/node");
  const version = flavourctl("--version");
  assert.equal(version.status, 0, version.stderr);
  const packaged = JSON.parse(readFileSync(join(process.cwd(), "package.json"), "utf8")).version as string;
  assert.ok(version.stdout.includes(packaged), `--version: ${version.stdout}`);
  assert.match(
    readFileSync(packagedRule, "utf8"),
    /^ACTION=="add", SUBSYSTEM=="pci", RUN\+="\/usr\/bin\/node --jitless \/usr\/sbin\/flavourctl hook"$/m,
  );
  assert.ok(
    !existsSync("/etc/udev/rules.d/60-flavourctl.rules"),
    "a rule in /etc would hide the packaged one",
  );
  assert.ok(!existsSync(join(stateDir, "etc/udev/rules.d/60-flavourctl.rules")));
});

test("boot 1 saves a subsystem rule for the Mellanox e1000e and a vfs-of rule for the nvme VFs", () => {
  const mellanox = one(INTEL, 0x10d3, 0x15b3);
  const set = flavourctl("set", mellanox, "vfio", "--match", "subsystem", "--config", rulesDir);
  assert.equal(set.status, 0, set.stdout + set.stderr);
  assert.equal(driverOf(mellanox), "vfio-pci");
  const back = flavourctl("set", mellanox, "default", "--no-save");
  assert.equal(back.status, 0, back.stdout + back.stderr);
  assert.equal(driverOf(mellanox), "e1000e");
  assert.equal(overrideOf(mellanox), null);

  // A vfs-of rule is made from a VF: create one, save, remove. With no rule yet, the VF is
  // offered to its kernel driver once sriov_drivers_autoprobe is back: nvme's probe runs, and
  // fails on QEMU's offline VF controller (after ~10 s), which flavourctl verifies and reports
  // (exit 1: nothing bound it; the VF stays).
  const pf = one(0x1b36, 0x0010);
  const logLines = run("dmesg", []).stdout.split("\n").length;
  const created = flavourctl("vfs", pf, "1", "--config", rulesDir);
  const vf = basename(readlinkSync(dev(pf, "virtfn0")));
  const newLog = run("dmesg", [])
    .stdout.split("\n")
    .slice(logLines - 1);
  // nvme_probe's first line (drivers/nvme/host/pci.c): it was called for the VF.
  assert.ok(
    newLog.some((l) => l.includes(`: pci function ${vf}`)),
    `nvme's probe did not run for ${vf}:\n${created.stdout}`,
  );
  assert.equal(driverOf(vf), null);
  assert.equal(created.status, 1, created.stdout + created.stderr);
  assert.match(created.stdout, /verification failed: no driver bound the device/);
  const vfRule = flavourctl("set", vf, "vfio", "--match", "vfs-of", "--config", rulesDir);
  assert.equal(vfRule.status, 0, vfRule.stdout + vfRule.stderr);
  assert.equal(driverOf(vf), "vfio-pci");
  const removed = flavourctl("vfs", pf, "0", "--config", rulesDir);
  assert.equal(removed.status, 0, removed.stdout + removed.stderr);

  const listed = flavourctl("rules", "--config", rulesDir);
  assert.equal(listed.status, 0, listed.stderr);
  assert.match(listed.stdout, /id 8086:10d3:15b3:0001/);
  assert.match(listed.stdout, new RegExp(`vfs-of ${pf}`));
});
