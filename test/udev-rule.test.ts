// The udev rule's command under the sandbox systemd-udevd.service gives every RUN program:
// MemoryDenyWriteExecute=yes (Debian 12), reproduced by test/support/mdwe.c, a seccomp filter
// like systemd's. Plain node aborts under it; the command the rule holds gives the device its
// flavour. Needs gcc (scripts/ci.sh installs it) and the built dist/flavourctl.js.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { UDEV_NODE_FLAGS } from "../src/cli/commands/udev-rule.ts";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { builtBundle } from "./support/bundle.ts";
import { tempDir } from "./support/tmp.ts";

/** What V8 before 13 (Node 18-22) says of --jitless alone on stderr (udev-rule.ts UDEV_NODE_FLAGS); 24 nothing. */
const jitlessWarning =
  Number.parseInt(process.versions.v8, 10) < 13
    ? "Warning: disabling flag --expose_wasm due to conflicting flags\n"
    : "";

function mdwe(): string {
  const out = join(tempDir("mdwe"), "mdwe");
  const built = spawnSync("gcc", ["-O2", "-o", out, new URL("./support/mdwe.c", import.meta.url).pathname], {
    encoding: "utf8",
  });
  assert.equal(
    built.status,
    0,
    `gcc (apt-get install gcc) could not build test/support/mdwe.c: ${built.error ?? built.stderr}`,
  );
  return out;
}

test("udev-rule: the hook runs under udevd's MemoryDenyWriteExecute and gives the device its flavour", async () => {
  const bundle = builtBundle();
  const sandbox = mdwe();
  // the filter is systemd's: node with its compilers dies under it
  const plain = spawnSync(sandbox, [process.execPath, "-e", "0"], { encoding: "utf8" });
  assert.notEqual(plain.status, 0, "plain node must not survive MemoryDenyWriteExecute");
  assert.match(plain.stderr, /Check failed|Fatal/);

  const rules = join(tempDir("udev-rules"), "rules.d");
  mkdirSync(rules);
  writeFileSync(join(rules, "net.rule"), "match address 0000:03:00.0\nflavour vfio\n");
  const written = recordingIo();
  assert.equal(await main(["udev-rule", "--config", rules], written.io), 0);
  const run = /RUN\+="([^"]+)"/.exec(written.recorded.stdout)?.[1];
  assert.ok(run, written.recorded.stdout);
  const [node, ...args] = run.split(" ") as [string, ...string[]];
  assert.equal(node, process.execPath);
  // the rule's own script is the bundle of the process that wrote it (the test runner here)
  const words = args.map((word) => (word.endsWith(".ts") || word.endsWith(".js") ? bundle : word));
  const state = tempDir("udev-state");
  // udev gives RUN programs only the event's properties as their environment
  const env = {
    ACTION: "add",
    SUBSYSTEM: "pci",
    PCI_SLOT_NAME: "0000:03:00.0",
    XDG_STATE_HOME: state,
    FLAVOURCTL_INDEX_CACHE: "off",
  };
  const hook = spawnSync(sandbox, [node, ...words, "--machine", "demo", "--run-dir", tempDir("udev-run")], {
    encoding: "utf8",
    env,
  });
  assert.equal(hook.status, 0, hook.stdout + hook.stderr);
  // its one line is what it did (as kmsg gets it); no abort from node, no warning but V8's
  assert.equal(
    hook.stderr,
    `${jitlessWarning}flavourctl: 0000:03:00.0: rule net: done -> virtio_vfio_pci (boot pass)\n`,
  );
  const devices = recordingIo("", { XDG_STATE_HOME: state });
  assert.equal(await main(["sim", "devices", "demo"], devices.io), 0);
  assert.match(devices.recorded.stdout, /0000:03:00\.0 .* virtio_vfio_pci /);
});

test("udev-rule: a word udev would rewrite (% or $ specifiers) is refused", async () => {
  for (const config of ["/tmp/rules%k", "/tmp/$kernel"]) {
    const { io, recorded } = recordingIo();
    assert.equal(await main(["udev-rule", "--config", config], io), 64, config);
    assert.match(recorded.stderr, /cannot put .* into a udev rule \(spaces, quotes, % or \$\)/);
    assert.equal(recorded.stdout, "");
  }
});

test("udev-rule: --node and --command name what the rule runs (a package's paths); relative ones are refused", async () => {
  const { io, recorded } = recordingIo();
  assert.equal(
    await main(["udev-rule", "--node", "/usr/bin/node", "--command", "/usr/sbin/flavourctl"], io),
    0,
  );
  assert.match(
    recorded.stdout,
    /^ACTION=="add", SUBSYSTEM=="pci", RUN\+="\/usr\/bin\/node --jitless \/usr\/sbin\/flavourctl hook"$/m,
  );
  for (const args of [
    ["--node", "node"],
    ["--command", "sbin/flavourctl"],
  ]) {
    const refused = recordingIo();
    assert.equal(await main(["udev-rule", ...args], refused.io), 64, args.join(" "));
    assert.equal(
      refused.recorded.stderr,
      `flavourctl udev-rule: ${args[0]} must be an absolute path, not '${args[1]}'\n`,
    );
    assert.equal(refused.recorded.stdout, "");
  }
});

test("udev-rule: node's flags are --jitless alone, whatever node writes the rule (the node that runs it may be another, and Node 24 refuses --no-expose-wasm)", () => {
  assert.deepEqual(UDEV_NODE_FLAGS, ["--jitless"]);
  // this node takes them, and says nothing under them but V8's line before V8 13
  const run = spawnSync(process.execPath, [...UDEV_NODE_FLAGS, "-e", "0"], { encoding: "utf8" });
  assert.deepEqual([run.status, run.stderr], [0, jitlessWarning]);
});
