// OpenStack Nova's [pci] section for the exported devices (Nova 2025.1 and later: devices on
// a variant driver are given with "managed": "no", the host binds them; nova/conf/pci.py).
//
//   device_spec: nova/pci/devspec.py PciDeviceSpec — "address" (a full address is a
//     PhysicalPciAddress), or "vendor_id" and "product_id" (4 hex digits); other keys are tags.
//     "managed" and "live_migratable" are read with strutils.bool_from_string(strict=True)
//     (_normalize_device_spec_tag): "yes"/"no" as the documentation writes them. "managed":
//     "no" — libvirt neither detaches nor reattaches the device: flavourctl keeps its driver.
//     "live_migratable": "yes" only where the driver implements migration (migration.ts);
//     left out otherwise (Nova's default is "no").
//   alias: nova/pci/request.py _ALIAS_SCHEMA — "name" (required), "vendor_id", "product_id"
//     (required unless a resource_class is given: _validate_required_ids), "device_type" one of
//     type-PCI, type-PF, type-VF (aliases of one name must agree on it), "live_migratable".
// Each value is a JSON object on one line, the option repeated (a MultiStrOpt).
import { deviceKinds } from "./names.ts";
import type { ExportDevice } from "./select.ts";

export interface NovaEntry {
  /** The option's JSON object, keys in the order printed. */
  value: Record<string, string>;
  /** The devices it stands for. */
  addresses: string[];
}

export interface NovaConfig {
  deviceSpecs: NovaEntry[];
  aliases: NovaEntry[];
}

function tags(device: ExportDevice): Record<string, string> {
  return { managed: "no", ...(device.liveMigratable ? { live_migratable: "yes" } : {}) };
}

export function novaConfig(devices: readonly ExportDevice[]): NovaConfig {
  const deviceSpecs: NovaEntry[] = [];
  const byRule = new Map<string, NovaEntry>();
  for (const device of devices) {
    const ids = device.rule?.ids;
    if (ids && device.rule) {
      const entry = byRule.get(device.rule.name);
      if (entry) entry.addresses.push(device.address);
      else {
        const value = { vendor_id: ids.vendor, product_id: ids.device, ...tags(device) };
        const created = { value, addresses: [device.address] };
        byRule.set(device.rule.name, created);
        deviceSpecs.push(created);
      }
    } else
      deviceSpecs.push({ value: { address: device.address, ...tags(device) }, addresses: [device.address] });
  }
  const aliases = deviceKinds(devices).map(({ name, devices: kind }) => {
    const first = kind[0] as ExportDevice;
    return {
      value: {
        name,
        vendor_id: first.vendor,
        product_id: first.device,
        device_type: first.deviceType,
        ...(first.liveMigratable ? { live_migratable: "yes" } : {}),
      },
      addresses: kind.map((d) => d.address),
    };
  });
  return { deviceSpecs, aliases };
}

/** One JSON object on one line, spaced as Nova's documentation writes them. */
function jsonLine(value: Record<string, string>): string {
  return `{${Object.entries(value)
    .map(([key, text]) => `${JSON.stringify(key)}: ${JSON.stringify(text)}`)
    .join(", ")}}`;
}

/** The [pci] section, each option preceded by a comment naming its devices. */
export function novaText(config: NovaConfig, devices: readonly ExportDevice[]): string {
  const driverOf = new Map<string, string>(devices.map((d) => [d.address, d.driver]));
  const about = (entry: NovaEntry) => {
    const drivers = [...new Set(entry.addresses.map((a) => driverOf.get(a)))].join(", ");
    return `# ${entry.addresses.join(" ")} (${drivers})`;
  };
  const lines = ["[pci]"];
  for (const entry of config.deviceSpecs) lines.push(about(entry), `device_spec = ${jsonLine(entry.value)}`);
  for (const entry of config.aliases) lines.push(about(entry), `alias = ${jsonLine(entry.value)}`);
  return `${lines.join("\n")}\n`;
}
