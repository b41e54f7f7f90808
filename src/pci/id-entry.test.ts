import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { pciEntryAlias } from "../modules/file2alias.ts";
import { fnmatch } from "../modules/fnmatch.ts";
import { idEntry, type MatchableDriver, matchDevice, matchOneDevice, type PciDeviceId } from "./id-entry.ts";
import { PCI_ANY_ID, type PciIds } from "./ids.ts";
import { formatModalias } from "./modalias.ts";

const virtioBlk: PciIds = {
  vendor: 0x1af4,
  device: 0x1042,
  subvendor: 0x15b3,
  subdevice: 0x1,
  classCode: 0x010000,
};

// drivers/virtio/virtio_pci_common.c and the thread's first mlx5_vfio_pci table
// (PCI_DEVICE_SUB(PCI_VENDOR_ID_REDHAT_QUMRANET, 0x1042, PCI_VENDOR_ID_MELLANOX, PCI_ANY_ID)).
const virtioPci: MatchableDriver = {
  name: "virtio-pci",
  idTable: [idEntry({ vendor: 0x1af4, device: PCI_ANY_ID, subvendor: PCI_ANY_ID, subdevice: PCI_ANY_ID })],
  dynamicIds: [],
};
const mlx5Sub = (overrideOnly: boolean): MatchableDriver => ({
  name: "mlx5_vfio_pci",
  idTable: [
    idEntry({ vendor: 0x1af4, device: 0x1042, subvendor: 0x15b3, subdevice: PCI_ANY_ID, overrideOnly }),
  ],
  dynamicIds: [],
});

test("pci_match_one_device: ANY fields and the class under its mask", () => {
  assert.equal(matchOneDevice(virtioPci.idTable[0] as PciDeviceId, virtioBlk), true);
  const nvmeClass = idEntry({
    vendor: PCI_ANY_ID,
    device: PCI_ANY_ID,
    subvendor: PCI_ANY_ID,
    subdevice: PCI_ANY_ID,
    classCode: 0x010802,
    classMask: 0xffffff,
  });
  assert.equal(matchOneDevice(nvmeClass, { ...virtioBlk, classCode: 0x010802 }), true);
  assert.equal(matchOneDevice(nvmeClass, { ...virtioBlk, classCode: 0x010801 }), false);
  assert.equal(matchOneDevice(idEntry({ vendor: 0x1af4, device: 0x1041 }), virtioBlk), false);
});

test("pci_match_device: the overlap of the 2021 thread, with and without override_only", () => {
  // Without override_only both tables claim the device: registration order would decide.
  assert.equal(matchDevice(mlx5Sub(false), virtioBlk, null).matched, true);
  assert.equal(matchDevice(virtioPci, virtioBlk, null).matched, true);
  // With override_only the variant claims it only when driver_override names it.
  assert.equal(matchDevice(mlx5Sub(true), virtioBlk, null).matched, false);
  const steered = matchDevice(mlx5Sub(true), virtioBlk, "mlx5_vfio_pci");
  assert.deepEqual(steered.matched && steered.via, "static-id");
  // driver_override naming another driver shuts every other driver out.
  assert.equal(matchDevice(virtioPci, virtioBlk, "mlx5_vfio_pci").matched, false);
});

test("pci_match_device: an override naming the driver matches even with no id ('any' id)", () => {
  const vfioPci: MatchableDriver = { name: "vfio-pci", idTable: [], dynamicIds: [] };
  const result = matchDevice(vfioPci, virtioBlk, "vfio-pci");
  assert.equal(result.matched && result.via, "override-any");
  assert.equal(matchDevice(vfioPci, virtioBlk, null).matched, false);
});

test("pci_match_device: dynamic ids (new_id) are tried before the static table", () => {
  const driver: MatchableDriver = {
    name: "vfio-pci",
    idTable: [
      idEntry({
        vendor: 0x1af4,
        device: 0x1042,
        subvendor: PCI_ANY_ID,
        subdevice: PCI_ANY_ID,
        driverData: 1,
      }),
    ],
    dynamicIds: [
      idEntry({
        vendor: 0x1af4,
        device: 0x1042,
        subvendor: PCI_ANY_ID,
        subdevice: PCI_ANY_ID,
        driverData: 2,
      }),
    ],
  };
  const result = matchDevice(driver, virtioBlk, null);
  assert.equal(result.matched && result.via, "dynamic-id");
  assert.equal(result.matched && result.id?.driverData, 2);
});

// Property: an entry matches a device iff the alias modpost writes for it matches the device's
// modalias (flavoured for override_only entries) — except entries modpost drops.
const field16 = fc.oneof(fc.constant(PCI_ANY_ID), fc.integer({ min: 0, max: 3 }));
const maskByte = fc.constantFrom(0, 0xff, 0xff, 0, 0x80, 0xf0);
const entries = fc.record({
  vendor: field16,
  device: field16,
  subvendor: field16,
  subdevice: field16,
  classCode: fc.integer({ min: 0, max: 3 }).map((b) => b * 0x010101),
  classMask: fc.tuple(maskByte, maskByte, maskByte).map(([a, b, c]) => (a << 16) | (b << 8) | c),
  driverData: fc.constant(0),
  overrideOnly: fc.boolean(),
});
const devices = fc.record({
  vendor: fc.integer({ min: 0, max: 3 }),
  device: fc.integer({ min: 0, max: 3 }),
  subvendor: fc.integer({ min: 0, max: 3 }),
  subdevice: fc.integer({ min: 0, max: 3 }),
  classCode: fc.integer({ min: 0, max: 0x030303 }),
});

test("id-entry matching agrees with file2alias + fnmatch on random entries and devices", () => {
  let compared = 0;
  fc.assert(
    fc.property(entries, devices, (entry, device) => {
      const alias = pciEntryAlias(entry);
      if (alias.pattern === undefined) {
        assert.match(alias.warning, /can't handle class mask/);
        return;
      }
      compared++;
      const modalias = formatModalias(device, entry.overrideOnly ? "vfio_pci" : "pci");
      assert.equal(
        fnmatch(alias.pattern, modalias),
        matchOneDevice(entry, device),
        `${alias.pattern} vs ${modalias}`,
      );
    }),
    { numRuns: 20000 },
  );
  assert.ok(compared > 5000, `only ${compared} entries had an alias`);
});
