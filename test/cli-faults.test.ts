// Every writing command against a sysfs write that fails: whatever the attribute and the errno,
// the command ends with one line per problem on stderr and an exit code of the README's table,
// never with a stack trace (issue 15, defect 1: `vfs` printed 4 kB of minified bundle).
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { recordingIo } from "../src/cli/io.ts";
import { internalError, main } from "../src/cli/main.ts";
import { DEBIAN_612, debianModules } from "./support/modules.ts";
import { buildTree } from "./support/sysfs-builder.ts";
import { tempDir } from "./support/tmp.ts";

const PF = "0000:00:03.0";

const EXIT_CODES = new Set([0, 1, 2, 3, 4, 5, 6, 64]);

async function cli(args: string[], env: Record<string, string>) {
  const { io, recorded } = recordingIo("", env);
  const code = await main(args, io);
  return { code, ...recorded };
}

/** A writing command on the demo machine, what must be done before it (without a fault), and the attributes it writes. */
interface Case {
  args: string[];
  writes: string[];
  before?: string[][];
  env?: Record<string, string>;
}

const AWAY = [
  ["set", "0000:03:00.0", "vfio", "--machine", "demo"],
  ["set", "0000:03:00.0", "default", "--no-save", "--machine", "demo"],
];
const GIVE = ["driver_override", "unbind", "drivers_probe"];
const NO_VFS = [["vfs", "0000:01:00.0", "0", "--machine", "demo"]];
const HOOK_ENV = { ACTION: "add", SUBSYSTEM: "pci", PCI_SLOT_NAME: "0000:03:00.0" };

const CASES: Case[] = [
  { args: ["set", "0000:03:00.0", "vfio"], writes: GIVE },
  { args: ["set", "0000:0a:00.0", "vfio", "--group"], writes: GIVE },
  { args: ["set", "0000:02:00.0", "vfio", "--driver", "vfio-pci"], writes: GIVE },
  { args: ["unset", "0000:03:00.0"], writes: GIVE, before: [AWAY[0] as string[]] },
  { args: ["apply"], writes: GIVE, before: AWAY },
  { args: ["hook"], writes: GIVE, before: AWAY, env: HOOK_ENV },
  { args: ["vfs", "0000:05:00.0", "0"], writes: ["sriov_numvfs"] },
  { args: ["vfs", "0000:01:00.0", "2"], writes: ["sriov_numvfs", "sriov_drivers_autoprobe"], before: NO_VFS },
  {
    args: ["vfs", "0000:01:00.0", "2", "--flavour", "vfio"],
    writes: ["sriov_numvfs", "sriov_drivers_autoprobe", "driver_override", "drivers_probe"], // new VFs: no unbind
    before: NO_VFS,
  },
];
const ERRNOS = ["EINVAL", "ENOMEM", "ERANGE", "EIO", "EBUSY", "ENODEV", "EPERM"];

function checkOneLineErrors(what: string, result: { code: number; stderr: string }) {
  assert.ok(EXIT_CODES.has(result.code), `${what}: exit ${result.code}`);
  assert.doesNotMatch(result.stderr, /^\s+at /m, `${what}: a stack trace\n${result.stderr}`);
  for (const line of result.stderr.split("\n").filter((l) => l !== ""))
    assert.match(line, /^flavourctl[ :]/, `${what}: a line that is not flavourctl's\n${result.stderr}`);
}

test("every writing command, each sysfs attribute it writes failing with each errno: one-line errors and a documented exit code", async () => {
  let tried = 0;
  for (const command of CASES) {
    for (const attribute of command.writes) {
      // two errnos for each pair, in turn through the list
      for (const errno of [ERRNOS[tried % 7], ERRNOS[(tried + 3) % 7]] as string[]) {
        const env = { XDG_STATE_HOME: tempDir("faults"), ...command.env };
        for (const step of command.before ?? []) assert.equal((await cli(step, env)).code, 0, step.join(" "));
        const fault = JSON.stringify({ kind: "sysfs-write-fails", attribute, errno });
        assert.equal((await cli(["sim", "fault", "demo", fault], env)).code, 0);
        const what = `${command.args.join(" ")} with ${attribute} failing ${errno}`;
        const result = await cli([...command.args, "--machine", "demo"], env);
        checkOneLineErrors(what, result);
        // the fault was met: not a run that never reached the write
        assert.notEqual(result.code, 0, `${what}: exit 0\n${result.stdout}`);
        // (the hook's boot-pass line gives the outcome only)
        if (command.args[0] !== "hook")
          assert.match(result.stdout + result.stderr, new RegExp(`${attribute} failed: ${errno}`), what);
        tried++;
      }
    }
  }
  assert.equal(tried, 50);
});

test("sim write: a write the kernel refuses is one line with its errno", async () => {
  const env = { XDG_STATE_HOME: tempDir("faults") };
  for (const [path, value] of [
    ["/sys/bus/pci/devices/0000:05:00.0/sriov_numvfs", "99"],
    ["/sys/bus/pci/devices/0000:04:00.0/sriov_numvfs", "1"],
    ["/sys/bus/pci/drivers/nvme/bind", "0000:03:00.0"],
  ] as const) {
    const result = await cli(["sim", "write", "demo", path, value], env);
    checkOneLineErrors(`sim write ${path} ${value}`, result);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /E[A-Z]+/);
  }
});

test("vfs: more VFs than sriov_totalvfs, and a device that is not a PF, are usage errors (64) naming the limit", async () => {
  const env = { XDG_STATE_HOME: tempDir("faults") };
  const many = await cli(["vfs", "0000:05:00.0", "99", "--machine", "demo"], env);
  assert.equal(many.code, 64);
  assert.equal(
    many.stderr,
    "flavourctl vfs: 0000:05:00.0 can have at most 16 VFs (sriov_totalvfs), not 99\n",
  );
  const nvme = await cli(["vfs", "0000:04:00.0", "2", "--machine", "demo"], env);
  assert.equal(nvme.code, 64);
  assert.equal(nvme.stderr, "flavourctl vfs: 0000:04:00.0 is not an SR-IOV PF (it has no sriov_totalvfs)\n");
});

test("vfs: sriov_numvfs or sriov_drivers_autoprobe refused by the kernel: exit 1, one line, autoprobe put back, no VF", async () => {
  for (const [attribute, errno, says] of [
    [
      "sriov_numvfs",
      "ENOMEM",
      /sriov_numvfs failed: ENOMEM \(the kernel could not create the VFs.*\); no VF was created/,
    ],
    ["sriov_numvfs", "ERANGE", /sriov_numvfs failed: ERANGE/],
    ["sriov_drivers_autoprobe", "EIO", /sriov_drivers_autoprobe failed: EIO; nothing was changed/],
  ] as const) {
    const env = { XDG_STATE_HOME: tempDir("faults") };
    assert.equal((await cli(["vfs", "0000:01:00.0", "0", "--machine", "demo"], env)).code, 0);
    await cli(["sim", "fault", "demo", JSON.stringify({ kind: "sysfs-write-fails", attribute, errno })], env);
    const result = await cli(["vfs", "0000:01:00.0", "2", "--machine", "demo"], env);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, says);
    assert.equal(result.stderr.split("\n").length, 2);
    const shown = await cli(["show", "0000:01:00.0", "--json", "--machine", "demo"], env);
    const device = JSON.parse(shown.stdout);
    assert.deepEqual(device.virtfns, []);
    assert.equal(device.sriov.driversAutoprobe, true);
  }
});

test("vfs on a sysfs tree: a write the file system refuses (sriov_numvfs a directory: EISDIR) is one line, exit 1", async () => {
  const root = join(tempDir("vfs-tree"), "sys");
  const files = { sriov_totalvfs: "4\n", sriov_numvfs: null, sriov_drivers_autoprobe: "1\n" };
  buildTree(root, [
    { address: PF, vendor: 0x8086, device: 0x10d3, classCode: 0x020000, driver: "e1000e", files },
  ]);
  mkdirSync(join(root, "bus/pci/devices", PF, "sriov_numvfs"));
  const args = ["vfs", PF, "2", "--sysfs", root, "--modules", debianModules(DEBIAN_612)];
  const result = await cli([...args, "--config", tempDir("rules")], {});
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stderr,
    /^flavourctl vfs: writing '2' to .*\/sriov_numvfs failed: EISDIR; no VF was created/,
  );
  assert.equal(result.stderr.split("\n").length, 2);
  assert.equal(readFileSync(join(root, "bus/pci/devices", PF, "sriov_drivers_autoprobe"), "utf8"), "1");
});

test("a bug of ours (an error that is neither ours nor an errno) ends with exit 70 and the stack's frames to report", () => {
  const { io, recorded } = recordingIo();
  const bug = new TypeError("Cannot read properties of undefined (reading 'name')");
  assert.equal(internalError("list", bug, io), 70);
  assert.match(
    recorded.stderr,
    /^flavourctl list: internal error \(a bug in flavourctl; please report it\): TypeError: Cannot read/,
  );
  assert.match(recorded.stderr, /\n\s+at .*cli-faults\.test\.ts:\d+:\d+/);
});
