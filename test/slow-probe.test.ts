// Issue 15, defect 5: a probe that takes 9 s was reported as rolled back, and bound anyway
// 6 s later. On Linux a `drivers_probe` or `bind` write returns only when the probe has
// (device_attach, device_driver_attach: synchronous), so the command that made the write sees
// the device bound, and so does the next one. Through `set` (from no driver, from a host
// driver) and through `apply`.
import assert from "node:assert/strict";
import { test } from "node:test";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { tempDir } from "./support/tmp.ts";

async function cli(args: string[], env: Record<string, string>) {
  const { io, recorded } = recordingIo("", env);
  const code = await main(args, io);
  return { code, ...recorded };
}

const QAT_VF = "0000:05:00.1"; // no driver on the demo machine
const MLX_VF = "0000:01:00.1"; // on mlx5_core

async function bindingOf(address: string, env: Record<string, string>): Promise<string> {
  const line = (await cli(["sim", "devices", "demo"], env)).stdout
    .split("\n")
    .find((l) => l.startsWith(address));
  return (line ?? "").split(/\s+/)[6] ?? "";
}

async function slow(driver: string, env: Record<string, string>) {
  const fault = await cli(
    ["sim", "fault", "demo", JSON.stringify({ kind: "slow-probe", driver, ms: 9000 })],
    env,
  );
  assert.equal(fault.code, 0, fault.stderr);
}

for (const [address, driver] of [
  [QAT_VF, "qat_vfio_pci"],
  [MLX_VF, "mlx5_vfio_pci"],
] as const) {
  test(`a 9 s probe of ${driver}: set ${address} vfio waits for it and says done; the next command sees it bound`, async () => {
    const env = { XDG_STATE_HOME: tempDir("state") };
    await slow(driver, env);
    const set = await cli(["set", address, "vfio", "--machine", "demo", "--no-save"], env);
    assert.equal(set.code, 0, set.stdout + set.stderr);
    assert.match(set.stdout, new RegExp(`done, now on ${driver}`));
    assert.doesNotMatch(set.stdout + set.stderr, /rolled back/);
    assert.equal(await bindingOf(address, env), driver);
    // time passes: nothing lands late, the device stays where set said it is
    await cli(["sim", "write", "demo", "/sys/bus/pci/rescan", "1"], env);
    assert.equal(await bindingOf(address, env), driver);
  });
}

test("a 9 s probe through apply: the device given back by hand gets its rule's driver, exit 0", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  assert.equal((await cli(["set", QAT_VF, "vfio", "--machine", "demo"], env)).code, 0);
  for (const [path, value] of [
    [`/sys/bus/pci/devices/${QAT_VF}/driver_override`, "\n"],
    ["/sys/bus/pci/drivers/qat_vfio_pci/unbind", QAT_VF],
  ] as const)
    assert.equal((await cli(["sim", "write", "demo", path, value], env)).code, 0);
  assert.equal(await bindingOf(QAT_VF, env), "-");
  await slow("qat_vfio_pci", env);
  const apply = await cli(["apply", "--machine", "demo"], env);
  assert.equal(apply.code, 0, apply.stdout + apply.stderr);
  assert.equal(await bindingOf(QAT_VF, env), "qat_vfio_pci");
  const again = await cli(["apply", "--machine", "demo"], env);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /nothing to do/);
});
