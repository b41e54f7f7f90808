// One name per kind of exported device — driver and vendor:device — shared by Nova's [pci]
// alias names and Proxmox's mapping ids, so that an operator finds one in the other. Made of
// [a-z0-9_] only: Nova splits a flavor's "pci_passthrough:alias" on ',' and ':' (nova/pci/
// request.py), and Proxmox ids are pve-configid, [a-z][a-z0-9_-]+ (PVE/JSONSchema.pm).
import type { ExportDevice } from "./select.ts";

export interface DeviceKind {
  name: string;
  devices: ExportDevice[];
}

/** The devices grouped by driver, ids and Nova device type, in the order they first come. */
export function deviceKinds(devices: readonly ExportDevice[]): DeviceKind[] {
  const kinds = new Map<string, ExportDevice[]>();
  for (const device of devices) {
    const key = `${device.driver}\0${device.vendor}:${device.device}\0${device.deviceType}`;
    kinds.set(key, [...(kinds.get(key) ?? []), device]);
  }
  const base = (d: ExportDevice) =>
    `${d.driver.toLowerCase().replace(/[^a-z0-9]+/g, "_")}_${d.vendor}_${d.device}`.replace(
      /^[^a-z]/,
      "vfio_$&",
    );
  const counts = new Map<string, number>();
  for (const group of kinds.values()) {
    const name = base(group[0] as ExportDevice);
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...kinds.values()].map((group) => {
    const first = group[0] as ExportDevice;
    const name = base(first);
    // one driver and one pair of ids with two device types (a PF and a plain function): both named apart
    const suffix = (counts.get(name) ?? 0) > 1 ? `_${first.deviceType.slice(5).toLowerCase()}` : "";
    return { name: `${name}${suffix}`, devices: group };
  });
}
