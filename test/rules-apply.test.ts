// A damaged rule file at apply time and at hook time (issue 6): a clear error naming the file
// and line, exit 2, and every other rule still applied — a reboot must not leave all devices on
// their host drivers because one file is broken. Runs on the simulated demo machine.
import assert from "node:assert/strict";
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { ExitCode } from "../src/errors.ts";
import { tempDir } from "./support/tmp.ts";

async function cli(args: string[], env: Record<string, string>) {
  const { io, recorded } = recordingIo("", env);
  const code = await main(args, io);
  return { code, ...recorded };
}

const NET = "0000:03:00.0";

test("a corrupt rule file: apply and the hook name it with its line, exit 2, and apply the other rules", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  const rules = join(tempDir("rules"), "rules.d");
  mkdirSync(rules);
  writeFileSync(join(rules, "net.rule"), `match address ${NET}\nflavour vfio\n`);
  writeFileSync(join(rules, "bad.rule"), "match id 15b3:101e\nflavour gpu\n");
  const machine = ["--machine", "demo", "--config", rules];

  const first = await cli(["apply", ...machine], env);
  assert.equal(first.code, ExitCode.badInput, first.stderr);
  assert.equal(
    first.stderr.split("\n")[0],
    `flavourctl apply: ${rules}/bad.rule:2: flavour must be vfio or driver, not 'gpu' (this rule is not applied)`,
  );
  assert.match(first.stdout, /rule net:/);
  assert.match((await cli(["sim", "devices", "demo"], env)).stdout, /0000:03:00.0 .* virtio_vfio_pci/);

  // Still reported on every run (never silently skipped), and the good rule is already met.
  const second = await cli(["apply", ...machine], env);
  assert.equal(second.code, ExitCode.badInput);
  assert.match(second.stderr, /bad\.rule:2:/);
  assert.equal(second.stdout, "nothing to do: every device named by a rule has its flavour\n");

  // The hook after a reboot: its boot pass applies the good rule despite the bad file.
  assert.equal((await cli(["sim", "reset", "demo"], env)).code, 0);
  assert.match((await cli(["sim", "devices", "demo"], env)).stdout, /0000:03:00.0 .* virtio-pci /);
  const hook = await cli(["hook", ...machine], { ...env, ACTION: "add", PCI_SLOT_NAME: "0000:00:01.0" });
  assert.equal(hook.code, ExitCode.badInput, hook.stderr);
  assert.match(hook.stderr, /^flavourctl hook: .*bad\.rule:2: .*\(this rule is not applied\)$/m);
  assert.match((await cli(["sim", "devices", "demo"], env)).stdout, /0000:03:00.0 .* virtio_vfio_pci/);
  assert.equal(readFileSync(join(rules, "bad.rule"), "utf8"), "match id 15b3:101e\nflavour gpu\n");
});

test("--driver vfio_pci (the module's name) is a vfio driver: its group checks run, and FLAVOUR vfio accepts it", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  const machine = ["--machine", "demo", "--no-save"];
  // the GPU shares group 90 with its audio function, which snd_hda_intel holds
  const gpu = await cli(["set", "0000:0a:00.0", "--driver", "vfio_pci", ...machine], env);
  assert.equal(gpu.code, ExitCode.refused, gpu.stdout);
  assert.match(gpu.stderr, /snd_hda_intel/);
  const net = await cli(["set", NET, "vfio", "--driver", "vfio_pci", ...machine], env);
  assert.equal(net.code, ExitCode.ok, net.stderr);
  assert.match((await cli(["sim", "devices", "demo"], env)).stdout, /0000:03:00.0 .* vfio-pci /);
});

test("set ADDRESS default removes the device's address rule, as unset does", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  const rules = join(tempDir("rules"), "rules.d");
  const machine = ["--machine", "demo", "--config", rules];
  assert.equal((await cli(["set", NET, "vfio", ...machine], env)).code, ExitCode.ok);
  assert.match((await cli(["rules", ...machine], env)).stdout, /0000:03:00\.0/);
  const back = await cli(["set", NET, "default", ...machine], env);
  assert.equal(back.code, ExitCode.ok, back.stderr);
  assert.doesNotMatch((await cli(["rules", ...machine], env)).stdout, /0000:03:00\.0/);
  // nothing left to bring it back to vfio
  assert.equal((await cli(["apply", ...machine], env)).code, ExitCode.ok);
  assert.match((await cli(["sim", "devices", "demo"], env)).stdout, /0000:03:00.0 .* virtio-pci /);
});

test("a wrong target refuses even when the device already has it: no rule is saved that apply would refuse", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  const rules = join(tempDir("rules"), "rules.d");
  const machine = ["--machine", "demo", "--config", rules];
  const vf = "0000:01:00.2";
  assert.equal(
    (await cli(["set", vf, "--driver", "pci-stub", "--no-save", ...machine], env)).code,
    ExitCode.ok,
  );
  const wrong = await cli(["set", vf, "vfio", "--driver", "pci-stub", ...machine], env);
  assert.equal(wrong.code, ExitCode.refused, wrong.stdout);
  assert.match(wrong.stderr, /refused: pci-stub is not a vfio driver/);
  assert.doesNotMatch(wrong.stdout, /saved/);
  assert.doesNotMatch((await cli(["rules", ...machine], env)).stdout, /0000:01:00\.2/);
});

test("a rule file others could write, or another user's, is not trusted: named, exit 2, not applied; the other rules are", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  const rules = join(tempDir("rules"), "rules.d");
  mkdirSync(rules);
  writeFileSync(join(rules, "net.rule"), `match address ${NET}\nflavour vfio\n`);
  // a planted rule would take the NVMe (0000:02:00.0) from the host
  const planted = join(rules, "planted.rule");
  writeFileSync(planted, "match address 0000:02:00.0\nflavour vfio\n");
  const machine = ["--machine", "demo", "--config", rules];
  const cases: [string, () => void, RegExp][] = [
    ["world-writable", () => chmodSync(planted, 0o666), /writable by anyone \(mode 0666\); not trusted/],
    ["group-writable", () => chmodSync(planted, 0o664), /writable by its group \(mode 0664\); not trusted/],
  ];
  // root can give the file away; another user cannot, and then the owner check cannot be shown
  if (process.getuid?.() === 0)
    cases.push([
      "another user's",
      () => {
        chmodSync(planted, 0o644);
        chownSync(planted, 65534, 65534);
      },
      /owned by uid 65534, neither root nor this user; not trusted/,
    ]);
  for (const [what, make, message] of cases) {
    make();
    const run = await cli(["apply", ...machine], env);
    assert.equal(run.code, ExitCode.badInput, `${what}: ${run.stderr}`);
    assert.match(run.stderr, new RegExp(`^flavourctl apply: ${planted}: ${message.source}`, "m"), what);
    const devices = (await cli(["sim", "devices", "demo"], env)).stdout;
    assert.match(devices, /0000:03:00.0 .* virtio_vfio_pci/, what);
    assert.doesNotMatch(devices, /0000:02:00.0 .* vfio/, `${what}: the planted rule was applied`);
  }
  assert.equal(cases.length, process.getuid?.() === 0 ? 3 : 2);
});
