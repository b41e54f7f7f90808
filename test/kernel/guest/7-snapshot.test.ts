// flavourctl snapshot on a real kernel (issue 3): the guest's /sys copied by the bundled CLI
// is read by `list --json` and by lspci (`-A linux-sysfs -O sysfs.path=COPY/bus/pci -k`, with
// the guest's own modules tree, virtio_vfio_pci's alias included) alike: the same devices,
// drivers and "Kernel modules", 0 differences; and lspci on the copy prints what lspci on the
// live /sys prints. The copy goes back to the host through the results share, packed like
// test/fixtures/sysfs/*.tar.gz (run.sh with FLAVOURCTL_KERNEL_KEEP=1 keeps it): it is the
// fixture q35-linux6.12-bench.
import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { DeviceReport } from "../../../src/cli/device-report.ts";
import { parseLspciKernel } from "../../support/lspci.ts";
import { addresses, flavourctl, run } from "./support.ts";

export const BENCH_FIXTURE = "q35-linux6.12-bench";
const out = "/run/results/snapshot";

test("snapshot of the guest's /sys: list --json and lspci -k agree on it, and lspci on it equals lspci on /sys", (t) => {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const tree = join(out, BENCH_FIXTURE);
  const made = flavourctl("snapshot", tree, "--json");
  assert.equal(made.status, 0, made.stderr);
  const listed = flavourctl("list", "--json", "--sysfs", tree);
  assert.equal(listed.status, 0, listed.stderr);
  const ours = JSON.parse(listed.stdout) as DeviceReport[];
  const lspci = run("lspci", ["-A", "linux-sysfs", "-O", `sysfs.path=${tree}/bus/pci`, "-k", "-D", "-n"]);
  assert.equal(lspci.status, 0, lspci.stderr);
  const theirs = parseLspciKernel(lspci.stdout);
  const live = run("lspci", ["-k", "-D", "-n"]);
  assert.equal(live.status, 0, live.stderr);
  assert.equal(lspci.stdout, live.stdout, "lspci reads the copy as it reads /sys");

  assert.deepEqual(
    ours.map((d) => d.address),
    [...theirs.keys()],
    "the same devices in the same order",
  );
  assert.deepEqual([...theirs.keys()], addresses(), "every device of the guest");
  const differences: string[] = [];
  for (const device of ours) {
    const oracle = theirs.get(device.address);
    if (!oracle) continue;
    if (device.driver !== oracle.driver)
      differences.push(`${device.address}: driver ${device.driver} != lspci ${oracle.driver}`);
    if (JSON.stringify(device.modules) !== JSON.stringify(oracle.modules))
      differences.push(`${device.address}: modules ${device.modules} != lspci ${oracle.modules}`);
  }
  const withModules = ours.filter((d) => (d.modules ?? []).length > 0).length;
  t.diagnostic(
    `snapshot ${made.stdout.trim()}: ${ours.length} devices, ${withModules} with kernel modules, ${differences.length} differences`,
  );
  assert.deepEqual(differences, []);
  assert.ok(withModules > 0 && ours.some((d) => d.driver === "virtio-pci"), "a tree that was read");
  const packed = run("tar", ["-czf", join(out, `${BENCH_FIXTURE}.tar.gz`), "-C", out, BENCH_FIXTURE]);
  assert.equal(packed.status, 0, packed.stderr);
});
