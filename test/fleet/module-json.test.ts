// What the Ansible modules (ansible/plugins/modules) read from flavourctl, on the demo machine:
// `set … --json`'s `rules` (the change each run makes, or a dry run would make, to the rules
// directory: an empty plan with every rule `keep` is `changed: false`) and `list --match
// SELECTOR` (the devices a rule's selector names, decided by the rules' own matcher).
import assert from "node:assert/strict";
import { test } from "node:test";
import { recordingIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { tempDir } from "../support/tmp.ts";

async function run(args: string[], env: Record<string, string>) {
  const { io, recorded } = recordingIo("", env);
  const code = await main(args, io);
  return { code, ...recorded };
}

const VF1 = "0000:01:00.1";
const VF2 = "0000:01:00.2";

test("set --json: rules says add, then keep; a dry run says it before anything is saved", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  const dry = await run(["set", VF1, "vfio", "--machine", "demo", "--dry-run", "--json"], env);
  assert.equal(dry.code, 0, dry.stderr);
  const planned = JSON.parse(dry.stdout);
  assert.deepEqual(
    planned.rules.map((r: { name: string; change: string }) => [r.name, r.change]),
    [[`address-${VF1}`, "add"]],
  );
  assert.match(planned.rules[0].path, /rules\.d\/address-0000:01:00\.1\.rule$/);
  // the dry run saved nothing: the real run still adds
  const first = JSON.parse((await run(["set", VF1, "vfio", "--machine", "demo", "--json"], env)).stdout);
  assert.equal(first.rules[0].change, "add");
  assert.ok(first.plan.steps.length > 0);
  const again = JSON.parse(
    (await run(["set", VF1, "vfio", "--machine", "demo", "--dry-run", "--json"], env)).stdout,
  );
  assert.deepEqual(again.plan.steps, []);
  assert.equal(again.rules[0].change, "keep");
});

test("set --json: a device already on its flavour without its rule is a rule to add (not 'nothing to do'); another flavour replaces it", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  assert.equal((await run(["set", VF1, "vfio", "--machine", "demo", "--no-save"], env)).code, 0);
  const noSave = JSON.parse(
    (await run(["set", VF1, "vfio", "--machine", "demo", "--no-save", "--dry-run", "--json"], env)).stdout,
  );
  assert.deepEqual(noSave.rules, []);
  const dry = JSON.parse(
    (await run(["set", VF1, "vfio", "--machine", "demo", "--dry-run", "--json"], env)).stdout,
  );
  assert.deepEqual(dry.plan.steps, []);
  assert.equal(dry.rules[0].change, "add");
  assert.equal((await run(["set", VF1, "vfio", "--machine", "demo"], env)).code, 0);
  const other = JSON.parse(
    (await run(["set", VF1, "--driver", "vfio-pci", "--machine", "demo", "--dry-run", "--json"], env)).stdout,
  );
  assert.equal(other.rules[0].change, "replace");
});

test("unset --json: the address rule it removes is listed, dry or not; then nothing", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  assert.equal((await run(["set", VF1, "vfio", "--machine", "demo"], env)).code, 0);
  const dry = JSON.parse((await run(["unset", VF1, "--machine", "demo", "--dry-run", "--json"], env)).stdout);
  assert.deepEqual(
    dry.rules.map((r: { change: string }) => r.change),
    ["remove"],
  );
  const done = JSON.parse((await run(["unset", VF1, "--machine", "demo", "--json"], env)).stdout);
  assert.equal(done.rules[0].change, "remove");
  assert.equal(done.result.final.driver, "mlx5_core");
  const after = JSON.parse(
    (await run(["unset", VF1, "--machine", "demo", "--dry-run", "--json"], env)).stdout,
  );
  assert.deepEqual(after.rules, []);
  assert.deepEqual(after.plan.steps, []);
});

test("set --group --json: one rule per member, add then keep", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  const args = ["set", "0000:0a:00.0", "vfio", "--group", "--machine", "demo", "--json"];
  const first = JSON.parse((await run(args, env)).stdout);
  assert.deepEqual(
    first.rules.map((r: { name: string; change: string }) => [r.name, r.change]),
    [
      ["address-0000:0a:00.0", "add"],
      ["address-0000:0a:00.1", "add"],
    ],
  );
  const again = JSON.parse((await run([...args, "--dry-run"], env)).stdout);
  assert.deepEqual(
    again.rules.map((r: { change: string }) => r.change),
    ["keep", "keep"],
  );
  assert.ok(again.members.every((m: { plan: { steps: unknown[] } }) => m.plan.steps.length === 0));
});

test("list --match: the devices a rule's selector names, in the table and in --json", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  const addresses = async (selector: string) => {
    const { code, stdout, stderr } = await run(
      ["list", "--machine", "demo", "--match", selector, "--json"],
      env,
    );
    assert.equal(code, 0, stderr);
    return JSON.parse(stdout).map((d: { address: string }) => d.address);
  };
  assert.deepEqual(await addresses("id 15b3:101e"), [VF1, VF2]);
  assert.deepEqual(await addresses("vfs-of 0000:01:00.0"), [VF1, VF2]);
  // the GeForce, and the Arc Pro B60's PF and VF (the demo's 7.2 devices)
  assert.deepEqual(await addresses("class 0300"), ["0000:0a:00.0", "0000:0b:00.0", "0000:0b:00.1"]);
  // NVIDIA: the GeForce and its audio, the GB200 and the GB300
  assert.deepEqual(await addresses("pattern vfio_pci:v000010DEd*"), [
    "0000:0a:00.0",
    "0000:0a:00.1",
    "0000:0c:00.0",
    "0000:0d:00.0",
  ]);
  assert.deepEqual(await addresses("address 0000:04:00.0"), ["0000:04:00.0"]);
  assert.deepEqual(await addresses("id 15b3:ffff"), []);
  const table = await run(["list", "--machine", "demo", "--match", "id 15b3:101e"], env);
  assert.equal(table.stdout.trim().split("\n").length, 3);
});

test("list --match with a malformed selector: exit 64 naming the option, nothing listed", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  const { code, stdout, stderr } = await run(["list", "--machine", "demo", "--match", "id 15b3"], env);
  assert.equal(code, 64);
  assert.equal(stdout, "");
  assert.match(stderr, /option '--match' needs a rule's selector: '15b3' is not VVVV:DDDD/);
});

test("unset of a driverless device whose every module is blacklisted (demo's GPU, nouveau): nothing to do at boot, and again once given back", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  const GPU = "0000:0a:00.0";
  const plan = async () =>
    JSON.parse((await run(["unset", GPU, "--machine", "demo", "--dry-run", "--json"], env)).stdout).plan;
  const atBoot = await plan();
  assert.deepEqual(atBoot.steps, []);
  assert.equal(atBoot.done, true);
  assert.match(atBoot.target.reason, /nouveau: blacklisted, not loaded/);
  assert.equal((await run(["set", GPU, "vfio", "--group", "--machine", "demo"], env)).code, 0);
  assert.ok((await plan()).steps.length > 0, "on vfio-pci: the plan gives it back");
  const back = await run(["unset", GPU, "--machine", "demo", "--json"], env);
  assert.equal(back.code, 0, back.stderr);
  assert.equal(JSON.parse(back.stdout).result.final.driver, null);
  assert.deepEqual((await plan()).steps, []);
});
