// First of boot 1: where udev left every device, for 8-restored.test.ts to compare with once
// every test that moves devices has run.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { addresses, driverOf, overrideOf, stateDir } from "./support.ts";

test("every device's driver after coldplug is recorded, and no driver_override is set", () => {
  const start = Object.fromEntries(addresses().map((a) => [a, driverOf(a)]));
  for (const address of addresses()) assert.equal(overrideOf(address), null, address);
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(join(stateDir, "boot1-start.json"), JSON.stringify(start, null, 1));
  assert.ok(Object.keys(start).length > 20);
});
