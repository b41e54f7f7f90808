// bash completion (scripts/completion.ts, issue 17), driven in a real bash as bash-completion
// drives it: the file sourced, COMP_WORDS and COMP_CWORD set, the function called, COMPREPLY read.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { bashCompletion } from "../scripts/completion.ts";
import { inProcessHelp } from "../scripts/man.ts";
import { tempDir } from "./support/tmp.ts";

const dir = tempDir("completion");
const file = join(dir, "flavourctl.bash");
writeFileSync(file, await bashCompletion(inProcessHelp));

/** A sysfs tree with three PCI devices and two drivers, as /sys lays them out. */
const sysfs = join(dir, "sys");
for (const address of ["0000:00:01.0", "0000:3b:00.2", "0000:3b:00.3"]) {
  mkdirSync(join(sysfs, "devices/pci0000:00", address), { recursive: true });
  mkdirSync(join(sysfs, "bus/pci/devices"), { recursive: true });
  symlinkSync(`../../../devices/pci0000:00/${address}`, join(sysfs, "bus/pci/devices", address));
}
for (const driver of ["vfio-pci", "virtio-pci"])
  mkdirSync(join(sysfs, "bus/pci/drivers", driver), { recursive: true });
// a machine file in the directory completion runs in
const cwd = join(dir, "cwd");
mkdirSync(cwd);
writeFileSync(join(cwd, "lab.json"), "{}");
writeFileSync(join(cwd, "notes.txt"), "");

/** What completion offers for the command line `words`, the cursor on the last word. */
function complete(...words: string[]): string[] {
  const script = `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _flavourctl; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const out = execFileSync("bash", ["--norc", "--noprofile", "-c", script, "bash", file, ...words], {
    cwd,
    encoding: "utf8",
  });
  return out.split("\n").filter((line) => line !== "");
}

test("completion: commands, and a command after the global options", () => {
  const all = complete("flavourctl", "");
  for (const command of ["list", "show", "set", "unset", "udev-rule", "sim", "upgrade", "help"])
    assert.ok(all.includes(command), `${command} in ${all.join(" ")}`);
  assert.deepEqual(complete("flavourctl", "u"), ["unset", "udev-rule", "upgrade"]);
  assert.deepEqual(complete("flavourctl", "--machine", "demo", "li"), ["list"]);
  assert.deepEqual(complete("flavourctl", "help", "ov"), ["overlaps"]);
  assert.deepEqual(complete("flavourctl", "--m"), ["--machine", "--modules"]);
});

test("completion: each command's own options", () => {
  assert.deepEqual(complete("flavourctl", "set", "0000:3b:00.2", "vfio", "--d"), ["--driver", "--dry-run"]);
  assert.deepEqual(complete("flavourctl", "hook", "--r"), ["--run-dir"]);
  assert.deepEqual(complete("flavourctl", "sim", "run", "x", "--p"), ["--properties"]);
  assert.ok(!complete("flavourctl", "list", "--").includes("--dry-run"), "list has no --dry-run");
});

test("completion: device addresses from the sysfs tree, flavours after the address", () => {
  assert.deepEqual(complete("flavourctl", "set", "--sysfs", sysfs, ""), [
    "0000:00:01.0",
    "0000:3b:00.2",
    "0000:3b:00.3",
  ]);
  assert.deepEqual(complete("flavourctl", "show", "--sysfs", sysfs, "0000:3b"), [
    "0000:3b:00.2",
    "0000:3b:00.3",
  ]);
  assert.deepEqual(complete("flavourctl", "--sysfs", sysfs, "vfs", "0000:00"), ["0000:00:01.0"]);
  assert.deepEqual(complete("flavourctl", "set", "--sysfs", sysfs, "0000:3b:00.2", ""), ["vfio", "default"]);
  assert.deepEqual(complete("flavourctl", "set", "--sysfs", sysfs, "0000:3b:00.2", "--driver", "v"), [
    "vfio-pci",
    "virtio-pci",
  ]);
  // a value that is not an operand: --wait's seconds are not the address
  assert.deepEqual(complete("flavourctl", "unset", "--wait", "5", "--sysfs", sysfs, "0000:00"), [
    "0000:00:01.0",
  ]);
});

test("completion: machines for --machine, scenarios for sim run", () => {
  assert.deepEqual(complete("flavourctl", "list", "--machine", ""), [
    "demo",
    "thread",
    "lab.json",
    "snapshot:",
  ]);
  assert.deepEqual(complete("flavourctl", "sim", "reset", "d"), ["demo"]);
  assert.deepEqual(complete("flavourctl", "sim", ""), [
    "run",
    "devices",
    "write",
    "fault",
    "reset",
    "scenarios",
  ]);
  const scenarios = complete("flavourctl", "sim", "run", "overlap-v1");
  assert.deepEqual(scenarios, ["overlap-v1-coldplug", "overlap-v1-preloaded"]);
});
