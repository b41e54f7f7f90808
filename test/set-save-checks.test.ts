// What `set` saves is what the next boot does, and a save that could not be is refused before
// anything changes (issue 15, defects 8 and 12):
// - a driver name with a space (Linux has "i6300ESB timer") was saved, then rules, apply and the
//   hook rejected the file (exit 2), set refused to overwrite it, and unset left it, exit 0;
// - a hand-written rule naming the same address shadowed the saved one: set said "saved", and
//   after a reboot the device came up on the other rule's driver.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { tempDir } from "./support/tmp.ts";

async function cli(args: string[], env: Record<string, string>) {
  const { io, recorded } = recordingIo("", env);
  const code = await main(args, io);
  return { code, ...recorded };
}

async function driverOf(machine: string, address: string, env: Record<string, string>) {
  const devices = JSON.parse((await cli(["sim", "devices", machine, "--json"], env)).stdout) as {
    address: string;
    driver: string | null;
  }[];
  return devices.find((d) => d.address === address)?.driver;
}

const WDT = "0000:00:1f.6";

function wdtMachine(): string {
  const file = join(tempDir("wdt"), "wdt.json");
  writeFileSync(
    file,
    JSON.stringify({
      format: "flavourctl-machine/1",
      name: "wdt",
      kernel: "6.12.117-sim",
      modules: [
        {
          name: "i6300esb",
          drivers: [{ name: "i6300ESB timer", ids: [{ vendor: "8086", device: "25ab" }] }],
        },
        { name: "pci_stub", drivers: [{ name: "pci-stub", managedDma: true }] },
      ],
      devices: [{ address: WDT, vendor: "8086", device: "25ab", class: "088000", iommuGroup: 7 }],
    }),
  );
  return file;
}

test("a driver name with a space is saved so that rules, apply, a reboot and unset all read it", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  const machine = wdtMachine();
  const m = ["--machine", machine];
  assert.equal((await cli(["set", WDT, "--driver", "pci-stub", "--force", "--no-save", ...m], env)).code, 0);
  const set = await cli(["set", WDT, "--driver", "i6300ESB timer", ...m], env);
  assert.equal(set.code, 0, set.stdout + set.stderr);
  assert.match(set.stdout, /saved .*address-0000:00:1f\.6\.rule/);
  const rules = await cli(["rules", ...m], env);
  assert.equal(rules.code, 0, rules.stderr);
  assert.match(rules.stdout, /driver i6300ESB timer/);
  assert.equal((await cli(["sim", "reset", machine], env)).code, 0);
  const apply = await cli(["apply", ...m], env);
  assert.equal(apply.code, 0, apply.stderr);
  assert.equal(await driverOf(machine, WDT, env), "i6300ESB timer");
  const unset = await cli(["unset", WDT, ...m], env);
  assert.equal(unset.code, 0, unset.stderr);
  assert.match(unset.stdout, /removed rule/);
  assert.match((await cli(["rules", ...m], env)).stdout, /no rules/);
});

test("a driver name a rule file cannot hold is refused before anything changes (exit 64)", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  const machine = wdtMachine();
  // a line break is no driver name at all: refused as the option is parsed, before the machine opens
  const refusals: [string, RegExp][] = [
    ["a#b", /cannot be saved in a rule.*nothing changed/],
    ["x\ny", /option '--driver' needs a driver name/],
    [" i6300ESB timer", /cannot be saved in a rule.*nothing changed/],
  ];
  for (const [driver, message] of refusals) {
    const set = await cli(["set", WDT, "--driver", driver, "--force", "--machine", machine], env);
    assert.equal(set.code, 64, `${JSON.stringify(driver)}: ${set.stdout}${set.stderr}`);
    assert.match(set.stderr, message);
    assert.equal(set.stdout, "", "no plan was carried out");
  }
  assert.equal(await driverOf(machine, WDT, env), "i6300ESB timer");
  assert.match((await cli(["rules", "--machine", machine], env)).stdout, /no rules/);
});

test("a damaged rule file in the way: set refuses before acting (exit 2), unset says so (exit 2)", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  const rulesDir = tempDir("rules");
  const damaged = join(rulesDir, "address-0000:03:00.0.rule");
  writeFileSync(damaged, "match address 0000:03:00.0\nflavour vfio\ndriver a b\tc\n");
  const m = ["--machine", "demo", "--config", rulesDir];
  const set = await cli(["set", "0000:03:00.0", "vfio", ...m], env);
  assert.equal(set.code, 2, set.stdout + set.stderr);
  assert.match(
    set.stderr,
    /address-0000:03:00\.0\.rule:3: invalid driver name .* fix or remove it first \(nothing changed\)/,
  );
  assert.equal(await driverOf("demo", "0000:03:00.0", env), "virtio-pci");
  const unset = await cli(["unset", "0000:03:00.0", ...m], env);
  assert.equal(unset.code, 2, unset.stdout + unset.stderr);
  assert.match(unset.stderr, /address-0000:03:00\.0\.rule:3: .*it may still name 0000:03:00\.0/);
});

test("a hand-written rule that would win over the saved one: set refuses (exit 3), and a reboot agrees with what set said", async () => {
  const env = { XDG_STATE_HOME: tempDir("state") };
  const rulesDir = tempDir("rules");
  mkdirSync(rulesDir, { recursive: true });
  writeFileSync(
    join(rulesDir, "00-manual.rule"),
    "match address 0000:03:00.0\nflavour driver\ndriver pci-stub\n",
  );
  const m = ["--machine", "demo", "--config", rulesDir];
  const set = await cli(["set", "0000:03:00.0", "vfio", ...m], env);
  assert.equal(set.code, 3, set.stdout + set.stderr);
  assert.match(
    set.stderr,
    /00-manual\.rule \(match address 0000:03:00\.0\) also names 0000:03:00\.0 .*driver pci-stub, not vfio.*nothing changed/,
  );
  assert.equal(await driverOf("demo", "0000:03:00.0", env), "virtio-pci", "nothing changed");
  assert.deepEqual(readdirSync(rulesDir), ["00-manual.rule"]);
  // the reboot does what the rules say, and set said which rule that is
  assert.equal((await cli(["sim", "reset", "demo"], env)).code, 0);
  assert.equal((await cli(["apply", ...m], env)).code, 0);
  assert.equal(await driverOf("demo", "0000:03:00.0", env), "pci-stub");
  // without the other rule, set saves, and the reboot brings back what set saved
  assert.equal((await cli(["rules", "--remove", "00-manual", ...m], env)).code, 0);
  const again = await cli(["set", "0000:03:00.0", "vfio", ...m], env);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.ok(existsSync(join(rulesDir, "address-0000:03:00.0.rule")));
  assert.equal((await cli(["sim", "reset", "demo"], env)).code, 0);
  assert.equal((await cli(["apply", ...m], env)).code, 0);
  assert.equal(await driverOf("demo", "0000:03:00.0", env), "virtio_vfio_pci");
  // a rule that wins but asks for the same thing does not stop set
  writeFileSync(join(rulesDir, "00-same.rule"), "match address 0000:03:00.0\nflavour vfio\n");
  assert.equal((await cli(["set", "0000:03:00.0", "vfio", ...m], env)).code, 0);
});
