// After every test of boot 1 that moves devices (direct sysfs writes and flavourctl runs,
// faults included): each device is back on the driver it had after coldplug, no override set.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { addresses, overrideOf, stateDir, waitForDriver } from "./support.ts";

test("every device is back on its coldplug driver, with no driver_override left", () => {
  const start = JSON.parse(readFileSync(join(stateDir, "boot1-start.json"), "utf8")) as Record<
    string,
    string | null
  >;
  const now = addresses();
  assert.deepEqual(now, Object.keys(start).sort(), "devices appeared or disappeared (VFs left behind?)");
  for (const address of now) {
    const expected = start[address] ?? null;
    assert.equal(waitForDriver(address, expected, 500), expected, `${address}`);
    assert.equal(overrideOf(address), null, `${address}: driver_override left set`);
  }
});
