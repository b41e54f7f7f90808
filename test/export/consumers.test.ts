// The exports read by their consumers' own parsers, in a Debian 13 chroot that
// test/export/fetch-consumers.sh makes (scripts/ci.sh runs it): libvirt 11.3's
// virt-xml-validate on every libvirt export of the demo machine, each wrapped in a minimal
// domain (Debian 12's libvirt 9.0 does not know <driver model=…/>), and Nova 2025.1's own
// device_spec and alias parsers on the nova export (test/export/nova-oracle.py). Each parser is
// also shown refusing a broken input, so that a pass means something. Needs root (chroot).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { demoMachine } from "./demo.ts";

const cache = process.env.FLAVOURCTL_CACHE ?? new URL("../../.cache", import.meta.url).pathname;
const ROOT = join(cache, "exports", "consumers-trixie");

function consumersRoot(): string {
  if (!existsSync(join(ROOT, "usr/bin/virt-xml-validate")))
    assert.fail(`${ROOT}: missing; run 'bash test/export/fetch-consumers.sh' (FLAVOURCTL_CACHE=${cache})`);
  return ROOT;
}

/** A command in the chroot, with no network (unshare -n): Nova's configuration must not reach out. */
function inChroot(argv: string[], input: string) {
  const result = spawnSync("unshare", ["-n", "chroot", consumersRoot(), ...argv], {
    input,
    encoding: "utf8",
    timeout: 120_000,
  });
  if (result.error) throw result.error;
  return result;
}

function validateDomain(hostdevs: string) {
  const domain = [
    "<domain type='kvm'>",
    "  <name>flavourctl-export</name>",
    "  <memory unit='MiB'>1024</memory>",
    "  <os><type arch='x86_64' machine='q35'>hvm</type></os>",
    "  <devices>",
    hostdevs.trimEnd(),
    "  </devices>",
    "</domain>",
    "",
  ].join("\n");
  return inChroot(["virt-xml-validate", "-", "domain"], domain);
}

const demo = demoMachine();

test("libvirt 11's virt-xml-validate takes every libvirt export of the demo machine, whole and device by device", async () => {
  const machine = await demo;
  const whole = await machine.run(["export", "libvirt", "--machine", "demo"]);
  assert.equal(whole.code, 0);
  const addresses = [...whole.stdout.matchAll(/bus='0x(..)' slot='0x(..)' function='0x(.)'/g)].map(
    ([, bus, slot, fn]) => `0000:${bus}:${slot}.${fn}`,
  );
  assert.equal(addresses.length, 4);
  assert.ok(whole.stdout.includes("<driver model='mlx5_vfio_pci'/>"));
  const exports = [whole.stdout];
  for (const address of addresses) {
    const one = await machine.run(["export", "libvirt", address, "--machine", "demo"]);
    assert.equal(one.code, 0);
    exports.push(one.stdout);
  }
  for (const xml of exports) {
    const result = validateDomain(xml);
    assert.equal(result.status, 0, `${xml}\n${result.stderr}`);
    assert.match(result.stderr, /validates/);
  }
});

test("virt-xml-validate refuses a broken hostdev: a model that is not a name, a managed that is not yes/no", async () => {
  const { stdout } = await (await demo).run(["export", "libvirt", "0000:01:00.1", "--machine", "demo"]);
  for (const broken of [
    stdout.replace("model='mlx5_vfio_pci'", "model='mlx5 vfio pci'"),
    stdout.replace("managed='no'", "managed='maybe'"),
  ]) {
    assert.notEqual(broken, stdout);
    const result = validateDomain(broken);
    assert.notEqual(result.status, 0, broken);
    assert.match(result.stderr, /fails to validate/);
  }
});

test("Nova 2025.1 reads the nova export: each exported device has its spec and tags, no other device has one, every alias parses", async () => {
  const machine = await demo;
  const exported = await machine.run(["export", "nova", "--machine", "demo"]);
  assert.equal(exported.code, 0);
  const listed = await machine.run(["list", "--json", "--machine", "demo"]);
  const devices = (JSON.parse(listed.stdout) as { address: string; vendor: string; device: string }[]).map(
    (d) => ({
      address: d.address,
      vendor_id: d.vendor,
      product_id: d.device,
    }),
  );
  const script = readFileSync(new URL("nova-oracle.py", import.meta.url), "utf8");
  const result = inChroot(["python3", "-c", script], JSON.stringify({ conf: exported.stdout, devices }));
  assert.equal(result.status, 0, result.stderr);
  const nova = JSON.parse(result.stdout);
  assert.equal(nova.device_specs, 3);
  const tags = Object.fromEntries(devices.map((d, i) => [d.address, nova.devices[i]]));
  const migratable = { managed: "false", live_migratable: "true" };
  for (const [address, expected] of Object.entries(tags)) {
    const want =
      // the VFs' mlx5_vfio_pci and the virtio-net's virtio_vfio_pci migrate (the demo runs 7.2)
      address === "0000:01:00.1" || address === "0000:01:00.2" || address === "0000:03:00.0"
        ? migratable
        : address === "0000:04:00.0"
          ? { managed: "false" }
          : null;
    assert.deepEqual(expected, want, address);
  }
  assert.deepEqual(nova.aliases, {
    mlx5_vfio_pci_15b3_101e: {
      numa_policy: "legacy",
      specs: [{ vendor_id: "15b3", product_id: "101e", dev_type: "type-VF", live_migratable: "true" }],
    },
    virtio_vfio_pci_1af4_1041: {
      numa_policy: "legacy",
      specs: [{ vendor_id: "1af4", product_id: "1041", dev_type: "type-PCI", live_migratable: "true" }],
    },
    vfio_pci_144d_a80a: {
      numa_policy: "legacy",
      specs: [{ vendor_id: "144d", product_id: "a80a", dev_type: "type-PCI" }],
    },
  });
  assert.match(nova.refused, /Cannot parse tag 'managed'/);
});
