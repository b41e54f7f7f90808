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
// modalias (flavoured for override_only entries; never the other prefix) — except entries
// modpost drops. Fields come from small pools so that equal values, and so matches, are common
// in every field; 0xFFFF is a real id that is not PCI_ANY_ID.
const ID_VALUES = [0x0000, 0x1af4, 0xffff];
const field16 = fc.oneof(
  { arbitrary: fc.constant(PCI_ANY_ID), weight: 2 },
  { arbitrary: fc.constantFrom(...ID_VALUES), weight: 1 },
);
const classByte = fc.constantFrom(0x0c, 0xff);
const classCode = fc.tuple(classByte, classByte, classByte).map(([b, s, i]) => (b << 16) | (s << 8) | i);
const maskByte = fc.oneof(
  { arbitrary: fc.constantFrom(0, 0xff), weight: 9 },
  { arbitrary: fc.constantFrom(0x80, 0x0f), weight: 1 },
);
const entries = fc.record({
  vendor: field16,
  device: field16,
  subvendor: field16,
  subdevice: field16,
  classCode,
  classMask: fc.tuple(maskByte, maskByte, maskByte).map(([a, b, c]) => (a << 16) | (b << 8) | c),
  driverData: fc.constant(0),
  overrideOnly: fc.boolean(),
});
const devices = fc.record({
  vendor: fc.constantFrom(...ID_VALUES),
  device: fc.constantFrom(...ID_VALUES),
  subvendor: fc.constantFrom(...ID_VALUES),
  subdevice: fc.constantFrom(...ID_VALUES),
  classCode,
});

test("id-entry matching agrees with file2alias + fnmatch on random entries and devices", () => {
  const outcomes = { matched: 0, unmatched: 0, dropped: 0 };
  fc.assert(
    fc.property(entries, devices, (entry, device) => {
      const alias = pciEntryAlias(entry);
      if (alias.pattern === undefined) {
        outcomes.dropped++;
        assert.match(alias.warning, /can't handle class mask/);
        const bytes = [entry.classMask >> 16, (entry.classMask >> 8) & 0xff, entry.classMask & 0xff];
        assert.ok(
          bytes.some((b) => b !== 0 && b !== 0xff),
          "only a partial mask byte drops an entry",
        );
        return;
      }
      const own = formatModalias(device, entry.overrideOnly ? "vfio_pci" : "pci");
      const other = formatModalias(device, entry.overrideOnly ? "pci" : "vfio_pci");
      const matches = matchOneDevice(entry, device);
      outcomes[matches ? "matched" : "unmatched"]++;
      assert.equal(fnmatch(alias.pattern, own), matches, `${alias.pattern} vs ${own}`);
      assert.equal(fnmatch(alias.pattern, other), false, `${alias.pattern} vs ${other}`);
    }),
    { numRuns: 30000 },
  );
  // Both answers must be common, or the property proves little.
  assert.ok(
    outcomes.matched > 2000 && outcomes.unmatched > 5000 && outcomes.dropped > 1000,
    JSON.stringify(outcomes),
  );
});
