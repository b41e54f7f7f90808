// Proxmox VE: the cluster's PCI resource mappings (/etc/pve/mapping/pci.cfg) and the VM
// config lines that use them.
//
//   pci.cfg: pve-guest-common src/PVE/Mapping/PCI.pm, a SectionConfig (pve-common
//     src/PVE/SectionConfig.pm write_config): a line with the mapping id, then a line per
//     property, a tab, key, a space, value; a blank line ends it. `map` is repeated, one
//     property string per device: node (pve-node), path (a full lower-case address, PCI_RE),
//     id (vendor:device, 4 hex digits each), iommugroup, subsystem-id. assert_valid compares
//     id, iommugroup and subsystem-id with the device at VM start (ids lower-case, as sysfs
//     prints them), and requires iommugroup and subsystem-id whenever the device has them.
//     `live-migration-capable 1` marks a mapping whose devices can be live-migrated.
//   hostpciN: qemu-server src/PVE/QemuServer/PCI.pm $hostpci_fmt — mapping=ID, and
//     driver=keep (qemu-server 9.0.25, commit aa47045f "pci: add 'driver' option",
//     2025-10-23, released 2025-11-13): prepare_pci_device then neither rebinds the device to
//     vfio-pci nor resets it, which a variant driver needs. Not given for vfio-pci itself
//     (driver=vfio, the default, binds it to vfio-pci as it already is).
import { deviceKinds } from "./names.ts";
import type { ExportDevice } from "./select.ts";

export interface ProxmoxMapping {
  id: string;
  liveMigrationCapable: boolean;
  /** The `map` property strings, one per device. */
  map: string[];
  /** Give the VM config driver=keep (a variant holds the devices). */
  keepDriver: boolean;
}

export function proxmoxMappings(devices: readonly ExportDevice[], node: string): ProxmoxMapping[] {
  return deviceKinds(devices).map(({ name, devices: kind }) => {
    const first = kind[0] as ExportDevice;
    return {
      id: name,
      liveMigrationCapable: first.liveMigratable,
      keepDriver: first.variant,
      map: kind.map((d) =>
        [
          `node=${node}`,
          `path=${d.address}`,
          `id=${d.vendor}:${d.device}`,
          ...(d.iommuGroup === null ? [] : [`iommugroup=${d.iommuGroup}`]),
          ...(d.subsystemVendor === null || d.subsystemDevice === null
            ? []
            : [`subsystem-id=${d.subsystemVendor}:${d.subsystemDevice}`]),
        ].join(","),
      ),
    };
  });
}

/** hostpciN lines, one device of each mapping. */
export function proxmoxHostpci(mappings: readonly ProxmoxMapping[]): string[] {
  return mappings.map((m, n) => `hostpci${n}: mapping=${m.id}${m.keepDriver ? ",driver=keep" : ""}`);
}

/** pci.cfg's sections (options in SectionConfig's sorted order). */
export function proxmoxMappingText(mappings: readonly ProxmoxMapping[]): string {
  return mappings
    .map((m) =>
      [
        m.id,
        ...(m.liveMigrationCapable ? ["\tlive-migration-capable 1"] : []),
        ...m.map.map((line) => `\tmap ${line}`),
        "",
      ].join("\n"),
    )
    .join("\n");
}

export function proxmoxText(mappings: readonly ProxmoxMapping[]): string {
  return [
    "# /etc/pve/mapping/pci.cfg",
    proxmoxMappingText(mappings),
    "# a VM's config (/etc/pve/qemu-server/VMID.conf): one device of each mapping",
    ...proxmoxHostpci(mappings),
    "",
  ].join("\n");
}
