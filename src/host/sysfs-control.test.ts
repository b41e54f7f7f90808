import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";

// The udev hook runs with no PATH (udev gives RUN programs only the event's properties): it must
// still find modprobe. A module that does not exist: modprobe runs, loads nothing, and fails.
test("modprobe is found when the environment has no PATH, as under udev", () => {
  const script = `import { SysfsControl } from ${JSON.stringify(new URL("./sysfs-control.ts", import.meta.url).pathname)};
    delete process.env.PATH;
    console.log(JSON.stringify(new SysfsControl().modprobe("flavourctl_no_such_module")));`;
  const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  assert.equal(child.status, 0, child.stderr);
  const outcome = JSON.parse(child.stdout) as { ok: boolean; message?: string };
  assert.equal(outcome.ok, false);
  assert.doesNotMatch(outcome.message ?? "", /cannot run/);
  assert.match(outcome.message ?? "", /flavourctl_no_such_module/);
});
