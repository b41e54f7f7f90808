// The command line a system tool has (issue 17): global options before the verb as after it,
// `help COMMAND`, `--version` from package.json (in the bundle: put there by scripts/build.mjs).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { DEBIAN_612, debianModules } from "./support/modules.ts";
import { SYSFS_FIXTURES, sysfsTree } from "./support/sysfs-trees.ts";
import { tempDir } from "./support/tmp.ts";

const repo = new URL("..", import.meta.url).pathname;
const packageVersion = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).version as string;

/** main in this process, its simulated machines' state in a directory of its own. */
async function run(args: string[], state = tempDir("command-line-state")) {
  const { io, recorded } = recordingIo("", { XDG_STATE_HOME: state });
  const code = await main(args, io);
  return { code, ...recorded };
}

test("global options before the command give what they give after it (git, systemctl, kubectl's order)", async () => {
  const q35 = ["--sysfs", sysfsTree(SYSFS_FIXTURES.q35), "--modules", debianModules(DEBIAN_612)];
  const cases: [before: string[], after: string[]][] = [
    [
      ["--machine", "demo", "list"],
      ["list", "--machine", "demo"],
    ],
    [
      [...q35, "--json", "list"],
      ["list", ...q35, "--json"],
    ],
    [
      ["--machine=demo", "--json", "show", "0000:03:00.0"],
      ["show", "0000:03:00.0", "--machine=demo", "--json"],
    ],
    // `--` ends the global options; what follows the verb is the verb's own
    [
      ["--machine", "demo", "--", "list", "--json"],
      ["list", "--machine", "demo", "--json"],
    ],
    [
      ["--json", "--machine", "demo", "set", "0000:03:00.0", "vfio", "--dry-run"],
      ["set", "0000:03:00.0", "vfio", "--dry-run", "--machine", "demo", "--json"],
    ],
  ];
  for (const [before, after] of cases) {
    // one machine for both (nothing here changes it): set --json names its rules directory
    const state = tempDir("command-line-state");
    const first = await run(before, state);
    assert.equal(first.code, 0, `${before.join(" ")}: ${first.stderr}`);
    assert.notEqual(first.stdout, "");
    assert.deepEqual(first, await run(after, state), before.join(" "));
  }
});

test("an option before the command that the command does not take, or no global option at all, is exit 64 in one line", async () => {
  const cases: [string[], string][] = [
    [["--machine", "demo", "overlaps"], "flavourctl overlaps: unknown option '--machine'\n"],
    [["--wait", "3", "list"], "flavourctl list: unknown option '--wait'\n"],
    [
      ["--dry-run", "set", "0000:03:00.0", "vfio"],
      "flavourctl: unknown option '--dry-run' before the command (only global options go there) (see 'flavourctl --help')\n",
    ],
    [["--machine"], "flavourctl: option '--machine' needs a value (see 'flavourctl --help')\n"],
    [
      ["--sysfs", "--json", "list"],
      "flavourctl: option '--sysfs' needs a value (use --sysfs=--json if it is one) (see 'flavourctl --help')\n",
    ],
    [["--json"], ""],
    [
      ["--kernel", "../x", "list"],
      "flavourctl list: option '--kernel' needs a kernel version (a directory name in /lib/modules), not '../x'\n",
    ],
  ];
  for (const [args, message] of cases) {
    const { code, stdout, stderr } = await run(args);
    assert.equal(code, 64, args.join(" "));
    assert.equal(stdout, "", args.join(" "));
    if (message === "") assert.match(stderr, /^usage: flavourctl \[GLOBAL OPTIONS\] COMMAND/);
    else assert.equal(stderr, message, args.join(" "));
  }
});

test("help COMMAND is COMMAND --help; help alone, --help and -h are the usage on stdout", async () => {
  for (const verb of ["list", "set", "sim", "udev-rule"]) {
    const help = await run(["help", verb]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, new RegExp(`^usage: flavourctl ${verb}`));
    assert.deepEqual(help, await run([verb, "--help"]));
    assert.deepEqual(help, await run(["--help", verb]));
  }
  const usage = await run(["help"]);
  assert.equal(usage.code, 0);
  assert.match(usage.stdout, /^usage: flavourctl \[GLOBAL OPTIONS\] COMMAND/);
  assert.match(usage.stdout, /'flavourctl help COMMAND'/);
  assert.deepEqual(await run(["--help"]), usage);
  assert.deepEqual(await run(["-h"]), usage);
  assert.deepEqual(await run(["help", "lsit"]), {
    code: 64,
    stdout: "",
    stderr: "flavourctl: unknown command 'lsit' (see 'flavourctl --help')\n",
  });
  assert.deepEqual(await run(["help", "list", "show"]), {
    code: 64,
    stdout: "",
    stderr: "flavourctl: 'help' takes one command (see 'flavourctl --help')\n",
  });
});

test("--version is package.json's version, before or with global options", async () => {
  for (const args of [["--version"], ["--machine", "demo", "--version"]]) {
    assert.deepEqual(await run(args), { code: 0, stdout: `flavourctl ${packageVersion}\n`, stderr: "" });
  }
});

test("the bundle's --version is the version package.json had when it was built", () => {
  // a copy of the project whose package.json says another version, built by scripts/build.mjs
  const root = tempDir("version-build");
  for (const path of ["src", "cockpit", "scripts", "package-lock.json"])
    cpSync(join(repo, path), join(root, path), { recursive: true });
  symlinkSync(join(repo, "node_modules"), join(root, "node_modules"));
  const manifest = JSON.parse(readFileSync(join(repo, "package.json"), "utf8"));
  writeFileSync(join(root, "package.json"), JSON.stringify({ ...manifest, version: "9.8.7-test" }));
  execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: root });
  const printed = execFileSync(process.execPath, [join(root, "dist/flavourctl.js"), "--version"], {
    encoding: "utf8",
    env: { ...process.env, FLAVOURCTL_INDEX_CACHE: "off" },
  });
  assert.equal(printed, "flavourctl 9.8.7-test\n");
});
