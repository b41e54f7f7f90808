// A machine from a captured sysfs tree and a modules directory (--machine
// snapshot:DIR[,modules=DIR]), so a bug report becomes a runnable machine. Devices come from
// DIR/bus/pci/devices (ids, class, header type from config byte 0x0e, IOMMU group, parent from
// the device path, physfn, SR-IOV capability). Modules and their id tables come from the
// modules directory's modules.alias, read back through file2alias's format (each pci: or
// vfio_pci: pattern is one id entry). What a snapshot cannot say is filled in and documented:
// a driver bound in the snapshot whose module has no alias line (a built-in) becomes a
// built-in module matching the devices it drove; driver names are module names with the
// kernel's known exceptions (vfio_pci registers vfio-pci, …).
import { existsSync, readdirSync, readlinkSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { InputError } from "../../errors.ts";
import { lookup } from "../../modules/lookup.ts";
import { ModulesDir } from "../../modules/modules-dir.ts";
import { isAddress, type PciAddress, printable } from "../../pci/address.ts";
import { idEntry, matchDevice, type PciDeviceId } from "../../pci/id-entry.ts";
import { PCI_ANY_ID } from "../../pci/ids.ts";
import { formatModalias } from "../../pci/modalias.ts";
import { RefusedFile, readRegularFile, readRegularText } from "../../safe-read.ts";
import {
  type DeviceSpec,
  type DriverSpec,
  type MachineSpec,
  type ModuleSpec,
  vfAddress,
} from "./machine-format.ts";

/** Modules whose PCI driver is not named like the module (the `.name` of their pci_driver). */
const DRIVER_NAMES = new Map([
  ["vfio_pci", "vfio-pci"],
  ["virtio_pci", "virtio-pci"],
  ["pci_stub", "pci-stub"],
  ["xhci_pci", "xhci_hcd"],
  ["ehci_pci", "ehci-pci"],
  ["qat_4xxx", "4xxx"],
]);

/**
 * Drivers whose pci_driver sets .probe_type = PROBE_PREFER_ASYNCHRONOUS (drivers/nvme/host/pci.c);
 * nvme is also the driver known to leave SR-IOV enabled when unbound (keepsVfsOnRemove).
 */
const ASYNC_PROBE = new Set(["nvme"]);

const PATTERN =
  /^(pci|vfio_pci):v([0-9A-F]{8}|\*)d([0-9A-F]{8}|\*)sv([0-9A-F]{8}|\*)sd([0-9A-F]{8}|\*)bc([0-9A-F]{2}|\*)sc([0-9A-F]{2}|\*)i([0-9A-F]{2}\*|\*)$/;

/** The id entry behind a file2alias pattern; undefined for a pattern of another shape. */
export function entryFromPattern(pattern: string): PciDeviceId | undefined {
  const m = PATTERN.exec(pattern);
  if (!m) return undefined;
  const id = (f: string | undefined) => (f === "*" ? PCI_ANY_ID : Number.parseInt(f as string, 16));
  const byte = (f: string | undefined) =>
    f === "*" ? [0, 0] : [Number.parseInt((f as string).slice(0, 2), 16), 0xff];
  const [bc, bm] = byte(m[6]) as [number, number];
  const [sc, sm] = byte(m[7]) as [number, number];
  const [pi, im] = byte(m[8]) as [number, number];
  return idEntry({
    vendor: id(m[2]),
    device: id(m[3]),
    subvendor: id(m[4]),
    subdevice: id(m[5]),
    classCode: (bc << 16) | (sc << 8) | pi,
    classMask: (bm << 16) | (sm << 8) | im,
    overrideOnly: m[1] === "vfio_pci",
  });
}

/** An attribute's text; undefined when absent or unreadable. A FIFO, a device or a huge file
 * planted in the tree is an error naming it (RefusedFile), not a value to guess. */
function read(path: string): string | undefined {
  try {
    return readRegularText(path, "attribute", "latin1").trim();
  } catch (error) {
    if (error instanceof RefusedFile) throw error;
    return undefined;
  }
}

function link(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

export function snapshotMachine(argument: string): { spec: MachineSpec; modules: ModulesDir; path: string } {
  const [dirText, ...options] = argument.split(",");
  const dir = resolve(dirText ?? "");
  const modulesOption = options.find((o) => o.startsWith("modules="));
  if (!modulesOption)
    throw new InputError(`snapshot:${argument}: give the modules directory: snapshot:DIR,modules=DIR`);
  const modulesPath = resolve(modulesOption.slice("modules=".length));
  const devicesDir = join(dir, "bus/pci/devices");
  if (!existsSync(devicesDir))
    throw new InputError(`${devicesDir}: no such directory (a captured sysfs tree has bus/pci/devices)`);
  const modules = new ModulesDir(modulesPath, { configPaths: [] });
  const devices: DeviceSpec[] = [];
  const boundTo = new Map<string, DeviceSpec[]>();
  const addresses = readdirSync(devicesDir).filter(isAddress).sort();
  for (const address of addresses) {
    const path = join(devicesDir, address);
    const hex = (name: string) => {
      const text = read(join(path, name));
      if (text === undefined || !/^0x[0-9a-fA-F]+$/.test(text))
        throw new InputError(`${join(path, name)}: expected a hex number`);
      return Number.parseInt(text, 16);
    };
    const config = (() => {
      try {
        return readRegularFile(join(path, "config"), "attribute");
      } catch (error) {
        if (error instanceof RefusedFile) throw error;
        return undefined;
      }
    })();
    const classCode = hex("class");
    const chain = (link(path) ?? "").split("/").filter(isAddress);
    const parent = chain.length > 1 ? (chain[chain.length - 2] as PciAddress) : null;
    const group = link(join(path, "iommu_group"));
    const physfn = link(join(path, "physfn"));
    const total = read(join(path, "sriov_totalvfs"));
    const count = (name: string, fallback: string) => {
      const text = read(join(path, name)) ?? fallback;
      if (!/^\d{1,5}$/.test(text))
        throw new InputError(`${join(path, name)}: expected a number, got '${printable(text)}'`);
      return Number(text);
    };
    const spec: DeviceSpec = {
      address,
      vendor: hex("vendor"),
      device: hex("device"),
      subvendor: hex("subsystem_vendor"),
      subdevice: hex("subsystem_device"),
      classCode,
      revision: read(join(path, "revision")) ? hex("revision") : 0,
      headerType:
        config && config.length > 14 ? (config[14] as number) & 0x7f : classCode >> 8 === 0x0604 ? 1 : 0,
      parent: parent && addresses.includes(parent) ? parent : null,
      iommuGroup: group ? Number(basename(group)) : null,
      name: null,
      sriov: total
        ? {
            totalVfs: count("sriov_totalvfs", "0"),
            vfDevice: Number.parseInt(read(join(path, "sriov_vf_device")) ?? "0", 16),
            offset: count("sriov_offset", "1"),
            stride: count("sriov_stride", "1"),
            driversAutoprobe: read(join(path, "sriov_drivers_autoprobe")) !== "0",
            vfGroupBase: null,
          }
        : null,
      physfn: physfn ? (basename(physfn) as PciAddress) : null,
    };
    if (
      spec.sriov &&
      spec.sriov.totalVfs > 0 &&
      vfAddress(address, spec.sriov, spec.sriov.totalVfs - 1) === null
    )
      throw new InputError(
        `${join(path, "sriov_totalvfs")}: VF ${spec.sriov.totalVfs} of ${address} would be on a bus beyond ff (sriov_offset ${spec.sriov.offset}, sriov_stride ${spec.sriov.stride}): the kernel cannot create it`,
      );
    devices.push(spec);
    const driver = link(join(path, "driver"));
    if (driver) boundTo.set(basename(driver), [...(boundTo.get(basename(driver)) ?? []), spec]);
  }
  const machineModules = modulesFromAliases(modules, boundTo);
  noteRefusals(machineModules, devices, boundTo, registeredDrivers(dir));
  const spec: MachineSpec = {
    name: `snapshot-${basename(dir)}`,
    description: `captured sysfs ${dir} with modules ${modulesPath}`,
    kernel: basename(modulesPath),
    modules: machineModules,
    blacklist: [],
    devices,
  };
  return { spec, modules, path: `${dir},${modulesPath}` };
}

/**
 * Probes that refuse a device by its ids and revision, from the driver's source: 8139too
 * leaves an RTL8139C+ (10ec:8139, revision >= 0x20) to 8139cp (rtl8139_init_one,
 * drivers/net/ethernet/realtek/8139too.c) — seen on the QEMU bench's rtl8139.
 */
const REFUSED_BY_SOURCE = new Map<string, (d: DeviceSpec) => boolean>([
  ["8139too", (d) => d.vendor === 0x10ec && d.device === 0x8139 && d.revision >= 0x20],
]);

function registeredDrivers(dir: string): Set<string> {
  try {
    return new Set(readdirSync(join(dir, "bus/pci/drivers")));
  } catch {
    return new Set();
  }
}

/**
 * A device the snapshot shows unbound although a registered driver matches it was refused by
 * that driver's probe (lpc_ich with no function enabled, pcieport and shpchp on a
 * PCIe-to-PCI bridge, on the QEMU bench): the driver refuses it again on the machine.
 * Unbound VFs are left alone (sriov_drivers_autoprobe=0 explains them).
 */
function noteRefusals(
  modules: ModuleSpec[],
  devices: DeviceSpec[],
  boundTo: Map<string, DeviceSpec[]>,
  registered: Set<string>,
): void {
  for (const driver of modules.flatMap((m) => m.drivers)) {
    const refuses = REFUSED_BY_SOURCE.get(driver.name);
    if (refuses) driver.refuses = devices.filter(refuses).map((d) => d.address);
  }
  const bound = new Set([...boundTo.values()].flat());
  for (const d of devices) {
    if (bound.has(d) || d.physfn !== null) continue;
    const ids = {
      vendor: d.vendor,
      device: d.device,
      subvendor: d.subvendor,
      subdevice: d.subdevice,
      classCode: d.classCode,
    };
    for (const driver of modules.flatMap((m) => m.drivers)) {
      if (!registered.has(driver.name)) continue;
      if (!matchDevice({ name: driver.name, idTable: driver.ids, dynamicIds: [] }, ids, null).matched)
        continue;
      if (!driver.refuses?.includes(d.address)) driver.refuses = [...(driver.refuses ?? []), d.address];
    }
  }
}

function modulesFromAliases(modules: ModulesDir, boundTo: Map<string, DeviceSpec[]>): ModuleSpec[] {
  const tables = new Map<string, PciDeviceId[]>();
  for (const match of modules.aliasFile.all()) {
    if (!match.pattern.startsWith("pci:") && !match.pattern.startsWith("vfio_pci:")) continue;
    const entry = entryFromPattern(match.pattern);
    if (!entry) continue;
    tables.set(match.module, [...(tables.get(match.module) ?? []), entry]);
  }
  const result: ModuleSpec[] = [];
  const driverNames = new Set<string>();
  for (const [name, ids] of tables) {
    const driverName = DRIVER_NAMES.get(name) ?? name;
    driverNames.add(driverName);
    result.push(moduleSpec(name, driverName, ids, false, boundTo.get(driverName)));
  }
  // A driver bound in the snapshot under another name than its module's ("bochs-drm" of bochs,
  // "i6300ESB timer" of i6300esb): the module its device's modalias resolves to registers it.
  for (const [driver, devices] of boundTo) {
    if (driverNames.has(driver)) continue;
    const d = devices[0] as DeviceSpec;
    const ids = {
      vendor: d.vendor,
      device: d.device,
      subvendor: d.subvendor,
      subdevice: d.subdevice,
      classCode: d.classCode,
    };
    const candidates = new Set(lookup(modules, formatModalias(ids)).matches.map((m) => m.module));
    const owner = result.find((m) => candidates.has(m.name) && !boundTo.has(m.drivers[0]?.name ?? ""));
    const spec = owner?.drivers[0];
    if (!spec) continue;
    driverNames.delete(spec.name);
    spec.name = driver;
    spec.sriov = devices.some((x) => x.sriov !== null);
    driverNames.add(driver);
  }
  // Drivers bound in the snapshot that no alias line names: built in (pcieport, …).
  for (const [driver, devices] of boundTo) {
    if (driverNames.has(driver)) continue;
    const ids =
      driver === "pcieport"
        ? [0x060400, 0x060401].map((c) =>
            idEntry({
              vendor: PCI_ANY_ID,
              device: PCI_ANY_ID,
              subvendor: PCI_ANY_ID,
              subdevice: PCI_ANY_ID,
              classCode: c,
              classMask: 0xffffff,
            }),
          )
        : devices.map((d) =>
            idEntry({ vendor: d.vendor, device: d.device, subvendor: PCI_ANY_ID, subdevice: PCI_ANY_ID }),
          );
    result.push(
      moduleSpec(
        driver.replace(/-/g, "_").replace(/[^A-Za-z0-9_]/g, "_"),
        driver.replace(/[^A-Za-z0-9_-]/g, "_"),
        ids,
        true,
        devices,
      ),
    );
  }
  return result;
}

function moduleSpec(
  name: string,
  driver: string,
  ids: PciDeviceId[],
  builtin: boolean,
  bound: DeviceSpec[] | undefined,
): ModuleSpec {
  const vfio = driver === "vfio-pci" || name.endsWith("_vfio_pci");
  const spec: DriverSpec = {
    name: driver,
    ids,
    vfio,
    denylist: driver === "vfio-pci",
    // driver_managed_dma: pcie/portdrv.c and pci-stub.c only (Linux 6.12), not shpchp
    managedDma: vfio || driver === "pcieport" || driver === "pci-stub",
    sriov: (bound ?? []).some((d) => d.sriov !== null),
    defersUntil: null,
    asyncProbe: ASYNC_PROBE.has(driver),
    keepsVfsOnRemove: driver === "nvme",
  };
  return { name, source: null, builtin, loaded: builtin, depends: [], softdep: null, drivers: [spec] };
}
