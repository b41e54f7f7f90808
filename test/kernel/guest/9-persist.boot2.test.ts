// Second boot (run.sh's phases): the driver_override written in boot 1 is gone with the
// reboot; the rule `set` saved in the state directory brings the flavour back.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { driverOf, flavourctl, groupOf, one, overrideOf, stateDir } from "./support.ts";

test("after a reboot, apply gives the virtio-net its saved vfio flavour again; a second apply has nothing to do", () => {
  const rules = join(stateDir, "rules");
  assert.ok(existsSync(rules), `no rules from boot 1 in ${rules}`);
  const net = one(0x1af4, 0x1041);
  assert.equal(driverOf(net), "virtio-pci", "the override did not survive the reboot");
  assert.equal(overrideOf(net), null);
  const applied = flavourctl("apply", "--config", rules);
  assert.equal(applied.status, 0, applied.stdout + applied.stderr);
  assert.equal(driverOf(net), "virtio_vfio_pci");
  assert.ok(existsSync(`/dev/vfio/${groupOf(net)}`));
  const again = flavourctl("apply", "--config", rules);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /nothing to do/);
});
