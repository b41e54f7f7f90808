// libvirt's <hostdev> for each exported device (docs/formatdomain.rst, "Host device
// assignment"): managed='no', as libvirt must neither detach the device from its driver nor
// give it back (flavourctl holds it); <driver model='NAME'/> names the variant driver that
// holds it (libvirt 10.0+; the schema of Debian 12's libvirt 9.0 does not know `model`). A
// device on vfio-pci itself gets no <driver> element. The elements go inside a domain's
// <devices>, or one at a time to `virsh attach-device`.
import type { ExportDevice } from "./select.ts";

/** XML attribute text (quoted with '), for a driver name: any bytes but '/' (kobject names). */
function attribute(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/'/g, "&apos;")
    .replace(/"/g, "&quot;");
}

export function libvirtHostdev(device: ExportDevice): string {
  const [domain, bus, slotFunction] = device.address.split(":") as [string, string, string];
  const [slot, fn] = slotFunction.split(".") as [string, string];
  const driver = device.variant ? [`  <driver model='${attribute(device.driver)}'/>`] : [];
  return [
    "<hostdev mode='subsystem' type='pci' managed='no'>",
    ...driver,
    "  <source>",
    `    <address domain='0x${domain}' bus='0x${bus}' slot='0x${slot}' function='0x${fn}'/>`,
    "  </source>",
    "</hostdev>",
  ].join("\n");
}

export function libvirtText(devices: readonly ExportDevice[]): string {
  return devices.map((device) => `${libvirtHostdev(device)}\n`).join("");
}
