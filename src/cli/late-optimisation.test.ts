import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { LATE_OPTIMISATION_FLAG } from "./late-optimisation.ts";

/** stderr of a node that sets `flag` at run time, as optimiseOnlyLongRunningCode does. */
function stderrSetting(flag: string): string {
  const script = `require("node:v8").setFlagsFromString(${JSON.stringify(flag)})`;
  const run = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  return run.stderr;
}

test("late optimisation: this node's V8 knows the flag (it prints a flag it does not know on stderr)", () => {
  assert.match(stderrSetting("--no-such-v8-flag"), /unrecognized flag --no-such-v8-flag/);
  assert.equal(stderrSetting(LATE_OPTIMISATION_FLAG), "");
});
