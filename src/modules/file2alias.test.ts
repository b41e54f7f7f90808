import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { DEBIAN_612, debianModules } from "../../test/support/modules.ts";
import { idEntry } from "../pci/id-entry.ts";
import { PCI_ANY_ID } from "../pci/ids.ts";
import { pciEntryAlias } from "./file2alias.ts";

const ANY = PCI_ANY_ID;
const device = (vendor: number, id: number) =>
  idEntry({ vendor, device: id, subvendor: ANY, subdevice: ANY });
const byClass = (classCode: number, classMask: number) =>
  idEntry({ vendor: ANY, device: ANY, subvendor: ANY, subdevice: ANY, classCode, classMask });

// Entries as the 6.12 sources declare them, with the module whose modules.alias must hold the
// pattern we generate.
const cases: [string, ReturnType<typeof idEntry>, string][] = [
  // drivers/usb/host/xhci-pci.c: PCI_DEVICE_CLASS(PCI_CLASS_SERIAL_USB_XHCI, ~0)
  ["xhci_pci", byClass(0x0c0330, 0xffffffff), "pci:v*d*sv*sd*bc0Csc03i30*"],
  // drivers/nvme/host/pci.c: PCI_DEVICE_CLASS(PCI_CLASS_STORAGE_EXPRESS, 0xffffff)
  ["nvme", byClass(0x010802, 0xffffff), "pci:v*d*sv*sd*bc01sc08i02*"],
  // drivers/ata/ahci.c: PCI_CLASS_STORAGE_SATA_AHCI, 0xffffff
  ["ahci", byClass(0x010601, 0xffffff), "pci:v*d*sv*sd*bc01sc06i01*"],
  // drivers/net/ethernet/realtek/8139cp.c: PCI_DEVICE(PCI_VENDOR_ID_REALTEK, PCI_DEVICE_ID_REALTEK_8139)
  ["8139cp", device(0x10ec, 0x8139), "pci:v000010ECd00008139sv*sd*bc*sc*i*"],
  // drivers/net/ethernet/intel/e1000e/netdev.c: PCI_VDEVICE(INTEL, E1000_DEV_ID_82574L)
  ["e1000e", device(0x8086, 0x10d3), "pci:v00008086d000010D3sv*sd*bc*sc*i*"],
  // drivers/net/ethernet/realtek/8139too.c: { 0x10ec, 0x8139, 0x10ec, 0x8139, 0, 0, RTL8139 }... (subsystem form)
  [
    "8139too",
    idEntry({ vendor: ANY, device: 0x8139, subvendor: 0x10ec, subdevice: 0x8139 }),
    "pci:v*d00008139sv000010ECsd00008139bc*sc*i*",
  ],
  // drivers/vfio/pci/vfio_pci.c: PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_ANY_ID, PCI_ANY_ID)
  [
    "vfio_pci",
    idEntry({ vendor: ANY, device: ANY, subvendor: ANY, subdevice: ANY, overrideOnly: true }),
    "vfio_pci:v*d*sv*sd*bc*sc*i*",
  ],
];

test("file2alias writes what modpost wrote into Debian 6.12's modules.alias", () => {
  const aliases = readFileSync(join(debianModules(DEBIAN_612), "modules.alias"), "latin1");
  for (const [module, entry, expected] of cases) {
    const result = pciEntryAlias(entry);
    assert.equal(result.pattern, expected, module);
    assert.ok(
      aliases.includes(`\nalias ${expected} ${module}\n`),
      `modules.alias has no '${expected} ${module}'`,
    );
  }
});

test("file2alias appends '*' only when the alias does not already end in one", () => {
  assert.equal(pciEntryAlias(byClass(0x0c0330, 0xffffff)).pattern, "pci:v*d*sv*sd*bc0Csc03i30*");
  assert.equal(pciEntryAlias(byClass(0x0c0300, 0xffff00)).pattern, "pci:v*d*sv*sd*bc0Csc03i*");
});

test("file2alias drops entries with a partial class mask byte, as modpost does", () => {
  for (const mask of [0xff8000, 0xf0ffff, 0xffff0f, 0x010000]) {
    const result = pciEntryAlias(byClass(0x0c0330, mask));
    assert.equal(result.pattern, undefined);
    assert.match(result.pattern === undefined ? result.warning : "", /can't handle class mask/);
  }
});

test("file2alias: override_only 0 is pci:, 1 vfio_pci:, any other value is dropped as modpost does", () => {
  const id = device(0x1af4, 0x1041);
  assert.equal(pciEntryAlias(id, 0).pattern, "pci:v00001AF4d00001041sv*sd*bc*sc*i*");
  assert.equal(pciEntryAlias(id, 1).pattern, "vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i*");
  for (const value of [2, 0x80000000]) {
    const result = pciEntryAlias(id, value);
    assert.equal(result.pattern, undefined);
    assert.match(result.pattern === undefined ? result.warning : "", /unknown driver_override value/);
  }
});
