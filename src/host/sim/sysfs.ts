// The simulated kernel's sysfs: writes and reads by path, as `echo VALUE > PATH` and `cat PATH`
// do them. Scenarios name attributes by their real /sys paths, so the same action list can be
// replayed with real writes on a real machine (the QEMU bench).
import { isAddress, type PciAddress } from "../../pci/address.ts";
import { KernelError, type SimKernel } from "./kernel.ts";

const DEVICE = /^\/sys\/bus\/pci\/devices\/([^/]+)\/([a-z_]+)$/;
const DRIVER = /^\/sys\/bus\/pci\/drivers\/([^/]+)\/([a-z_]+)$/;

function deviceAt(kernel: SimKernel, text: string, path: string) {
  if (!isAddress(text) || !kernel.devices.has(text as PciAddress)) throw new KernelError("ENOENT", path);
  return kernel.device(text as PciAddress);
}

/** A sysfs write; throws KernelError with the errno the write would fail with. */
export function writeSysfs(kernel: SimKernel, path: string, value: string): void {
  const device = DEVICE.exec(path);
  const driver = DRIVER.exec(path);
  const attribute = (device?.[2] ?? driver?.[2] ?? path.slice(path.lastIndexOf("/") + 1)) as string;
  const subject = device?.[1] ?? value.trim();
  const fault = kernel.faults.fire(
    "sysfs-write-fails",
    (f) => f.attribute === attribute && (f.address === undefined || f.address === subject),
  );
  kernel.trace.push({ t: ++kernel.now, source: "sysfs", text: `echo ${JSON.stringify(value)} > ${path}` });
  if (fault) throw new KernelError(fault.errno ?? "EIO", `write ${path}`);
  try {
    writeAttribute(kernel, path, value, device, driver);
  } catch (error) {
    if (error instanceof KernelError)
      kernel.trace.push({ t: ++kernel.now, source: "sysfs", text: `write ${path}: ${error.code}` });
    throw error;
  }
}

function writeAttribute(
  kernel: SimKernel,
  path: string,
  value: string,
  device: RegExpExecArray | null,
  driver: RegExpExecArray | null,
): void {
  if (path === "/sys/bus/pci/drivers_probe") {
    kernel.driversProbe(deviceAt(kernel, value.trim(), path));
    return;
  }
  if (path === "/sys/bus/pci/rescan") {
    if (readBool(value, path)) kernel.rescan();
    return;
  }
  if (path === "/sys/bus/pci/drivers_autoprobe") {
    kernel.driversAutoprobe = readBool(value, path);
    return;
  }
  if (device) {
    const d = deviceAt(kernel, device[1] as string, path);
    switch (device[2]) {
      case "driver_override":
        kernel.writeOverride(d, value);
        return;
      case "driver_flavour":
        kernel.writeFlavour(d, value);
        return;
      case "sriov_numvfs": {
        if (!/^\s*\d+\s*$/.test(value)) throw new KernelError("EINVAL", path);
        kernel.setNumVfs(d, Number(value));
        return;
      }
      case "sriov_drivers_autoprobe":
        if (!d.sriov) throw new KernelError("ENOENT", path);
        d.sriov.driversAutoprobe = readBool(value, path);
        kernel.markChanged(d.address);
        return;
      case "remove":
        if (readBool(value, path)) kernel.removeByUser(d.address);
        return;
    }
  }
  if (driver) {
    const drv = kernel.driverNamed(driver[1] as string, driver[2] as string);
    const name = value.split("\n")[0] as string;
    switch (driver[2]) {
      case "bind":
        kernel.bind(drv, deviceAtOrNoDev(kernel, name));
        return;
      case "unbind":
        kernel.unbind(drv, deviceAtOrNoDev(kernel, name));
        return;
      case "new_id":
        kernel.newId(drv, value);
        return;
      case "remove_id":
        kernel.removeId(drv, value);
        return;
    }
  }
  throw new KernelError("EACCES", `write ${path}`);
}

/** bind/unbind: bus_find_device_by_name; an unknown name is ENODEV. */
function deviceAtOrNoDev(kernel: SimKernel, name: string) {
  const d = isAddress(name) ? kernel.devices.get(name as PciAddress) : undefined;
  if (!d) throw new KernelError("ENODEV", name);
  return d;
}

/** kstrtobool: 1/y/Y/on and 0/n/N/off. */
function readBool(value: string, path: string): boolean {
  const v = value.trim().toLowerCase();
  if (["1", "y", "yes", "on"].includes(v)) return true;
  if (["0", "n", "no", "off"].includes(v)) return false;
  throw new KernelError("EINVAL", path);
}

/** A sysfs read, as `cat` shows it (without the trailing newline). */
export function readSysfs(kernel: SimKernel, path: string): string {
  const device = DEVICE.exec(path);
  if (device) {
    const d = deviceAt(kernel, device[1] as string, path);
    const hex = (n: number, w: number) => `0x${n.toString(16).padStart(w, "0")}`;
    const values: Record<string, () => string> = {
      vendor: () => hex(d.ids.vendor, 4),
      device: () => hex(d.ids.device, 4),
      subsystem_vendor: () => hex(d.ids.subvendor, 4),
      subsystem_device: () => hex(d.ids.subdevice, 4),
      class: () => hex(d.ids.classCode, 6),
      modalias: () => kernel.modalias(d),
      driver_override: () => d.driverOverride ?? "(null)",
      driver_flavour: () => d.flavour ?? "(null)",
      driver: () => d.driver?.name ?? "",
      iommu_group: () => (d.iommuGroup === null ? "" : String(d.iommuGroup)),
      sriov_numvfs: () => String(d.sriov?.numVfs ?? ""),
      sriov_totalvfs: () => String(d.sriov?.spec.totalVfs ?? ""),
      sriov_drivers_autoprobe: () => (d.sriov ? (d.sriov.driversAutoprobe ? "1" : "0") : ""),
    };
    const attribute = device[2] as string;
    const read = Object.hasOwn(values, attribute) ? values[attribute] : undefined;
    if (read && (device[2] !== "driver" || d.driver) && (!device[2]?.startsWith("sriov") || d.sriov))
      return read();
  }
  if (path === "/sys/bus/pci/drivers_autoprobe") return kernel.driversAutoprobe ? "1" : "0";
  throw new KernelError("ENOENT", `read ${path}`);
}
