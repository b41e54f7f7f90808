// A machine built from a captured sysfs tree and Debian's real modules directory boots to the
// bindings the real kernel had; --machine keeps one machine's state across CLI runs.
import assert from "node:assert/strict";
import { readdirSync, readlinkSync } from "node:fs";
import { basename, join } from "node:path";
import { test } from "node:test";
import { recordingIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { machineSource, openMachine } from "../../src/host/sim/open.ts";
import { DEBIAN_612, debianModules } from "../support/modules.ts";
import { tempDir } from "../support/tmp.ts";

const TREE = new URL("../fixtures/sysfs/q35-linux6.12-sriov", import.meta.url).pathname;

function capturedDriver(address: string): string | null {
  try {
    return basename(readlinkSync(join(TREE, "bus/pci/devices", address, "driver")));
  } catch {
    return null;
  }
}

test("snapshot machine: booted from the captured q35 tree + Debian 6.12 modules, every device ends where the real kernel bound it", async () => {
  const source = await machineSource(`snapshot:${TREE},modules=${debianModules(DEBIAN_612)}`);
  const { machine } = openMachine(source, { XDG_STATE_HOME: tempDir("state") }, () => {});
  const addresses = readdirSync(join(TREE, "bus/pci/devices")).sort();
  assert.equal(addresses.length, 25);
  const simulated = addresses.map((a) => [a, machine.kernel.devices.get(a as never)?.driver?.name ?? null]);
  assert.deepEqual(
    simulated,
    addresses.map((a) => [a, capturedDriver(a)]),
  );
});

async function cli(args: string[], env: Record<string, string>) {
  const { io, recorded } = recordingIo("", env);
  const code = await main(args, io);
  return { code, ...recorded };
}

test("--machine demo: state persists between runs, rules live beside it, sim reset boots it again", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  const set = await cli(["set", "0000:03:00.0", "vfio", "--machine", "demo"], env);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /done, now on virtio_vfio_pci/);
  assert.match(set.stdout, new RegExp(`saved ${env.XDG_STATE_HOME}/flavourctl/machines/demo/rules.d/`));
  const devices = await cli(["sim", "devices", "demo"], env);
  assert.match(devices.stdout, /0000:03:00.0 .* virtio_vfio_pci +override=virtio_vfio_pci/);
  const rules = await cli(["rules", "--machine", "demo"], env);
  assert.match(rules.stdout, /devices 0000:03:00.0/);
  const dry = await cli(["set", "0000:03:00.0", "vfio", "--machine", "demo", "--dry-run"], env);
  assert.match(dry.stdout, /already has this flavour|nothing to do|done/i);
  // A reboot: the state is dropped, the rules stay, and the hook's boot pass gives the flavour again.
  assert.equal((await cli(["sim", "reset", "demo"], env)).code, 0);
  const after = await cli(["sim", "devices", "demo"], env);
  assert.match(after.stdout, /0000:03:00.0 .* virtio_vfio_pci/);
  assert.equal((await cli(["unset", "0000:03:00.0", "--machine", "demo"], env)).code, 0);
  assert.match((await cli(["sim", "devices", "demo"], env)).stdout, /0000:03:00.0 .* virtio-pci /);
});

test("--machine errors: unknown name, bad file, --sysfs together", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  const unknown = await cli(["rules", "--machine", "nosuch"], env);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no bundled machine 'nosuch'/);
  const both = await cli(["rules", "--machine", "demo", "--sysfs", "/tmp"], env);
  assert.equal(both.code, 64);
});

test("sim run --json gives the trace and the checks; a bad scenario file names its JSON path", async () => {
  const run = await cli(["sim", "run", "device-added", "--json"], {});
  assert.equal(run.code, 0);
  const result = JSON.parse(run.stdout) as {
    failures: string[];
    bindings: Record<string, string | null>;
    trace: unknown[];
  };
  assert.deepEqual(result.failures, []);
  assert.equal(result.bindings["0000:00:03.0"], "virtio-pci");
  const dir = tempDir("scenario");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(
    join(dir, "bad.json"),
    JSON.stringify({
      format: "flavourctl-scenario/1",
      name: "x",
      machine: "demo",
      actions: [{ do: "dance" }],
    }),
  );
  const bad = await cli(["sim", "run", join(dir, "bad.json")], {});
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /bad\.json: \$\.actions\[0\]\.do: expected one of note, hotplug/);
});
