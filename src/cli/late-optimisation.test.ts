import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { lateOptimisationFlags } from "./late-optimisation.ts";

/** stderr of a node that sets `flags` at run time, as optimiseOnlyLongRunningCode does. */
function stderrSetting(flags: string): string {
  const script = `require("node:v8").setFlagsFromString(${JSON.stringify(flags)})`;
  const run = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  return run.stderr;
}

test("late optimisation: this node's V8 knows the flags (it prints a flag it does not know on stderr)", () => {
  assert.match(stderrSetting("--no-such-v8-flag"), /unrecognized flag --no-such-v8-flag/);
  assert.equal(stderrSetting(lateOptimisationFlags(process.versions.v8)), "");
});

test("late optimisation: the interrupt budget before V8 12 (Node 18, 20), invocation counts from 12 on (Node 22, 24)", () => {
  assert.equal(lateOptimisationFlags("10.2.154.26-node.39"), "--interrupt-budget=1000000");
  assert.equal(lateOptimisationFlags("11.3.244.8-node.38"), "--interrupt-budget=1000000");
  for (const version of ["12.4.254.21-node.57", "13.6.233.17-node.63"]) {
    assert.equal(
      lateOptimisationFlags(version),
      "--invocation-count-for-turbofan=45000 --invocation-count-for-maglev=6000",
    );
  }
});
