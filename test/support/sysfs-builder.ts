// Small sysfs trees written from a description, laid out as the kernel lays out /sys, for tests
// of what the real captures do not contain: broken trees, module links. Files are written as
// pci-sysfs.c prints them ("0x%04x\n", ...).
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";

export interface BuiltDevice {
  address: string;
  vendor: number;
  device: number;
  classCode: number;
  driver?: string;
  group?: number;
  /** Attributes to write instead of (or, with null, to leave out of) the usual ones. */
  files?: Record<string, string | null>;
}

const hex = (value: number, width: number) => `0x${value.toString(16).padStart(width, "0")}\n`;

export function link(at: string, target: string): void {
  mkdirSync(dirname(at), { recursive: true });
  symlinkSync(relative(dirname(at), target), at);
}

/** Writes the devices under ROOT/devices/pci0000:00 with their bus, driver and group links. */
export function buildTree(root: string, devices: BuiltDevice[], modules: Record<string, string> = {}): void {
  for (const d of devices) {
    const dir = join(root, "devices/pci0000:00", d.address);
    mkdirSync(dir, { recursive: true });
    const up = (value: number, width: number) => value.toString(16).toUpperCase().padStart(width, "0");
    const [base, sub, progIf] = [d.classCode >> 16, (d.classCode >> 8) & 0xff, d.classCode & 0xff];
    const modalias = `pci:v${up(d.vendor, 8)}d${up(d.device, 8)}sv00000000sd00000000bc${up(base, 2)}sc${up(sub, 2)}i${up(progIf, 2)}\n`;
    const files: Record<string, string | null> = {
      vendor: hex(d.vendor, 4),
      device: hex(d.device, 4),
      subsystem_vendor: hex(0, 4),
      subsystem_device: hex(0, 4),
      class: hex(d.classCode, 6),
      revision: hex(1, 2),
      modalias,
      driver_override: "(null)\n",
      numa_node: "-1\n",
      config: Buffer.alloc(64).toString("latin1"),
      ...d.files,
    };
    for (const [name, text] of Object.entries(files)) {
      if (text !== null) writeFileSync(join(dir, name), text, "latin1");
    }
    link(join(root, "bus/pci/devices", d.address), dir);
    if (d.driver) {
      const driverDir = join(root, "bus/pci/drivers", d.driver);
      mkdirSync(driverDir, { recursive: true });
      link(join(dir, "driver"), driverDir);
      link(join(driverDir, d.address), dir);
    }
    if (d.group !== undefined) {
      const groupDir = join(root, "kernel/iommu_groups", String(d.group));
      mkdirSync(join(groupDir, "devices"), { recursive: true });
      link(join(dir, "iommu_group"), groupDir);
      link(join(groupDir, "devices", d.address), dir);
    }
  }
  // module_add_driver: drivers/<d>/module and module/<m>/drivers/pci:<d>
  for (const [driver, module] of Object.entries(modules)) {
    const driverDir = join(root, "bus/pci/drivers", driver);
    mkdirSync(driverDir, { recursive: true });
    link(join(driverDir, "module"), join(root, "module", module));
    link(join(root, "module", module, "drivers", `pci:${driver}`), driverDir);
  }
}
