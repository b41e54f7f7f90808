// Boot 1 half of the persistence check: `set` saves a rule in the state directory, which
// survives the reboot (run.sh's phases); 9-persist.boot2.test.ts applies it in boot 2.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { driverOf, flavourctl, one, stateDir } from "./support.ts";

test("set saves a rule; the next boot applies it (9-persist.boot2.test.ts)", () => {
  const rules = join(stateDir, "rules");
  mkdirSync(rules, { recursive: true });
  const net = one(0x1af4, 0x1041);
  const result = flavourctl("set", net, "vfio", "--config", rules);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /saved /);
  assert.equal(driverOf(net), "virtio_vfio_pci");
});
