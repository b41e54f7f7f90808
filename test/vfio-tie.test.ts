// Two variants that match a device equally well, end to end on a simulated machine: the
// README's words, each held. list: the VFIO column reads `tie:A,B`; list --json: `vfio.module`
// null on a tie, `vfio.tie` the modules sharing the best rank, `candidates` best first (show --json: with their wildcard-field counts); show:
// "a tie is reported, never broken"; set: "Two variants that match equally well are a tie:
// flavourctl refuses and asks for --driver" (exit 3: "a safety check refused the action;
// nothing was changed"); --driver then picks one.
import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { machineSource, openMachine } from "../src/host/sim/open.ts";
import { PCIEPORT, VFIO_PCI } from "./support/sim.ts";
import { tempDir } from "./support/tmp.ts";

const NET = "0000:03:00.0";
const variant = (name: string, id: Record<string, string>) => ({
  name,
  depends: ["vfio_pci_core"],
  drivers: [{ name, vfio: true, ids: [{ ...id, overrideOnly: true }] }],
});

// alpha (vendor and device) and beta (vendor and subvendor) both leave 5 fields to `*`;
// gamma (vendor only) 6, vfio-pci's catch-all 7.
const MACHINE = {
  format: "flavourctl-machine/1",
  name: "tie",
  kernel: "6.12.117-sim",
  modules: [
    PCIEPORT,
    { name: "virtio_pci", drivers: [{ name: "virtio-pci", ids: [{ vendor: "1af4" }] }] },
    ...VFIO_PCI,
    variant("gamma_vfio_pci", { vendor: "1af4" }),
    variant("alpha_vfio_pci", { vendor: "1af4", device: "1041" }),
    variant("beta_vfio_pci", { vendor: "1af4", subvendor: "1af4" }),
  ],
  devices: [
    {
      address: "0000:00:03.0",
      vendor: "8086",
      device: "347a",
      class: "060400",
      headerType: 1,
      iommuGroup: 3,
    },
    {
      address: NET,
      vendor: "1af4",
      device: "1041",
      subvendor: "1af4",
      subdevice: "1100",
      class: "020000",
      parent: "0000:00:03.0",
      iommuGroup: 30,
    },
  ],
};

const REASON =
  "alpha_vfio_pci and beta_vfio_pci match vfio_pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00 equally well (5 wildcard fields): choose one with --driver";

async function bench() {
  const file = join(tempDir("tie"), "tie.json");
  writeFileSync(file, JSON.stringify(MACHINE));
  const env = { XDG_STATE_HOME: tempDir("tie-state"), NO_COLOR: "1" };
  const cli = async (...args: string[]) => {
    const { io, recorded } = recordingIo("", env);
    const code = await main([...args, "--machine", file], io);
    return { code, ...recorded };
  };
  const driverOf = async (address: string) =>
    openMachine(await machineSource(file), env, () => {}).machine.kernel.devices.get(address as never)?.driver
      ?.name;
  return { cli, driverOf };
}

test("a tie in list: the VFIO column reads tie:A,B, and --json has module null, both in tie, the ranking best first", async () => {
  const { cli } = await bench();
  const list = await cli("list");
  assert.equal(list.code, 0, list.stderr);
  const row = list.stdout.split("\n").find((line) => line.startsWith(NET)) ?? "";
  assert.match(row, / tie:alpha_vfio_pci,beta_vfio_pci /);

  const json = await cli("list", "--json");
  const vfio = JSON.parse(json.stdout).find((d: { address: string }) => d.address === NET).vfio;
  assert.equal(vfio.module, null);
  assert.equal(vfio.driver, null);
  assert.deepEqual(vfio.tie, ["alpha_vfio_pci", "beta_vfio_pci"]);
  assert.deepEqual(vfio.candidates, ["alpha_vfio_pci", "beta_vfio_pci", "gamma_vfio_pci", "vfio_pci"]);
  assert.equal(vfio.reason, REASON);
});

test("a tie in show: reported with both names and why, never broken", async () => {
  const { cli } = await bench();
  const show = await cli("show", NET);
  assert.equal(show.code, 0, show.stderr);
  assert.ok(
    show.stdout.includes(`  vfio          tie between alpha_vfio_pci and beta_vfio_pci: ${REASON}\n`),
    show.stdout,
  );
  assert.match(
    show.stdout,
    /1\. alpha_vfio_pci {2}5 wildcard fields .* vfio_pci:v00001AF4d00001041sv\*sd\*bc\*sc\*i\*/,
  );
  assert.match(
    show.stdout,
    /2\. beta_vfio_pci {2}5 wildcard fields .* vfio_pci:v00001AF4d\*sv00001AF4sd\*bc\*sc\*i\*/,
  );
  const json = JSON.parse((await cli("show", NET, "--json")).stdout);
  assert.deepEqual(json.vfio.tie, ["alpha_vfio_pci", "beta_vfio_pci"]);
  assert.equal(json.vfio.module, null);
  assert.equal(json.explain.vfio.reason, REASON);
  assert.deepEqual(
    json.explain.vfio.candidates.map(
      (c: { module: string; wildcards: number }) => `${c.module} ${c.wildcards}`,
    ),
    ["alpha_vfio_pci 5", "beta_vfio_pci 5", "gamma_vfio_pci 6", "vfio_pci 7"],
  );
});

test("set vfio on a tie is refused (exit 3) naming both, nothing changed, no rule saved; --driver picks one", async () => {
  const { cli, driverOf } = await bench();
  const rules = join(tempDir("tie-rules"), "rules.d");
  for (const extra of [[], ["--dry-run"]]) {
    const set = await cli("set", NET, "vfio", "--config", rules, ...extra);
    assert.equal(set.code, 3, `${extra}: ${set.stdout}${set.stderr}`);
    assert.ok(set.stdout.includes(`  check  FAIL ${REASON}\n`), set.stdout);
    assert.equal(
      set.stderr,
      `flavourctl set: refused: ${REASON} (nothing changed; --force does not override this)\n`,
    );
  }
  // a tie leaves no driver to go to: --force cannot break it (it exited 1, "no driver name to write")
  const forced = await cli("set", NET, "vfio", "--force", "--config", rules);
  assert.equal(forced.code, 3, forced.stdout + forced.stderr);
  assert.equal(
    forced.stderr,
    `flavourctl set: refused: ${REASON} (nothing changed; --force does not override this)\n`,
  );
  assert.equal(await driverOf(NET), "virtio-pci");
  assert.ok(!existsSync(rules) || readdirSync(rules).length === 0, "no rule saved");

  const chosen = await cli("set", NET, "vfio", "--driver", "beta_vfio_pci", "--config", rules);
  assert.equal(chosen.code, 0, chosen.stdout + chosen.stderr);
  assert.equal(await driverOf(NET), "beta_vfio_pci");
});
