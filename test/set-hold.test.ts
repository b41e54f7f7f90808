// `set ADDRESS vfio` through the CLI on a device with no driver whose host module is not
// loaded (the demo machine with virtio_pci blacklisted, so coldplug leaves its virtio devices
// unbound): the plan shows the hold in --dry-run and --json, and the set binds the variant
// although loading it loads virtio_pci (a dependency of virtio_vfio_pci).
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { HOLD_OVERRIDE } from "../src/host/control.ts";
import demo from "../src/host/sim/machines/demo.json" with { type: "json" };
import { tempDir } from "./support/tmp.ts";

async function cli(args: string[], env: Record<string, string>) {
  const { io, recorded } = recordingIo("", env);
  const code = await main(args, io);
  return { code, ...recorded };
}

const NET = "0000:03:00.0";

test("set vfio on an unbound virtio-net with virtio_pci unloaded: the hold is in the plan, and the variant binds", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  const file = join(tempDir("machine"), "unbound.json");
  writeFileSync(file, JSON.stringify({ ...demo, name: "demo-unbound", blacklist: ["virtio_pci"] }));
  const machine = ["--machine", file, "--no-save"];
  assert.match((await cli(["sim", "devices", file], env)).stdout, /0000:03:00\.0 .* - /);

  const dry = await cli(["set", NET, "vfio", "--dry-run", ...machine], env);
  assert.equal(dry.code, 0, dry.stderr);
  const steps = dry.stdout.split("\n").filter((l) => l.startsWith("  step"));
  assert.equal(
    steps[0],
    `  step   driver_override = ${HOLD_OVERRIDE} (no driver matches it: nothing binds the device while modules load)`,
  );
  assert.equal(steps[1], "  step   modprobe virtio_vfio_pci");

  const json = await cli(["set", NET, "vfio", "--dry-run", "--json", ...machine], env);
  assert.deepEqual(JSON.parse(json.stdout).plan.steps[0], { action: "hold", override: HOLD_OVERRIDE });

  const set = await cli(["set", NET, "vfio", ...machine], env);
  assert.equal(set.code, 0, set.stdout + set.stderr);
  assert.match(
    set.stdout,
    /did {4}driver_override = \(flavourctl-hold\): no driver may bind it while modules load/,
  );
  assert.match(set.stdout, /done, now on virtio_vfio_pci/);
  assert.match(
    (await cli(["sim", "devices", file], env)).stdout,
    /0000:03:00\.0 .* virtio_vfio_pci +override=virtio_vfio_pci/,
  );
});
