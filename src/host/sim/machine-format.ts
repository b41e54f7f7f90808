// A simulated machine is data: this file is its JSON format (README "Machine files"), read
// strictly. Every error names the JSON path of the offending value ($.devices[3].address), so
// a hand-written machine file is as easy to fix as a compiler error.
import { InputError } from "../../errors.ts";
import { isAddress, type PciAddress } from "../../pci/address.ts";
import { idEntry, type PciDeviceId } from "../../pci/id-entry.ts";
import { PCI_ANY_ID } from "../../pci/ids.ts";

export const MACHINE_FORMAT = "flavourctl-machine/1";

/** How a driver's probe behaves beyond its id table (the kernel code that makes it so is cited in kernel.ts). */
export interface DriverSpec {
  name: string;
  ids: PciDeviceId[];
  /** vfio_pci_core_register_device: vfio-dev, refuses bridges and PFs with VFs, driver_managed_dma. */
  vfio: boolean;
  /** vfio_pci_is_denylisted: vfio-pci's own denylist. */
  denylist: boolean;
  /** driver_managed_dma: may bind inside a group that userspace owns (pcieport, pci-stub, vfio). */
  managedDma: boolean;
  /** The driver implements sriov_configure, so sriov_numvfs works while it is bound. */
  sriov: boolean;
  /** Probe returns -EPROBE_DEFER until this module is loaded. */
  defersUntil: string | null;
  /**
   * Devices whose probe this driver refuses (-ENODEV). Snapshots only: a device left unbound
   * in the captured tree though this driver was registered and matches it.
   */
  refuses?: PciAddress[];
  /** Its remove leaves SR-IOV enabled (nvme: no pci_disable_sriov in nvme_remove); others disable it. */
  keepsVfsOnRemove?: boolean;
  /** probe_type PROBE_PREFER_ASYNCHRONOUS: tried after the synchronous drivers when a device is added. */
  asyncProbe?: boolean;
}

export interface ModuleSpec {
  name: string;
  /** Where the id tables come from in the kernel source (file:line), for the reader. */
  source: string | null;
  builtin: boolean;
  /** Loaded when the machine boots (built-ins always are). */
  loaded: boolean;
  depends: string[];
  softdep: string | null;
  drivers: DriverSpec[];
}

export interface SriovSpec {
  totalVfs: number;
  vfDevice: number;
  offset: number;
  stride: number;
  /** sriov_drivers_autoprobe at boot (default 1). */
  driversAutoprobe: boolean;
  /** IOMMU group of the first VF; the others follow. */
  vfGroupBase: number | null;
}

export interface DeviceSpec {
  address: PciAddress;
  vendor: number;
  device: number;
  subvendor: number;
  subdevice: number;
  classCode: number;
  revision: number;
  headerType: number;
  /** The bridge above it (null: on a root bus). */
  parent: PciAddress | null;
  iommuGroup: number | null;
  name: string | null;
  sriov: SriovSpec | null;
  /** A VF listed explicitly (snapshots): its PF. */
  physfn: PciAddress | null;
}

export interface MachineSpec {
  name: string;
  description: string;
  kernel: string;
  modules: ModuleSpec[];
  blacklist: string[];
  devices: DeviceSpec[];
}

type Json = unknown;

/**
 * The address of VF `index` (0-based) of a PF: pci_iov_virtfn_bus and pci_iov_virtfn_devfn
 * (drivers/pci/iov.c) — the routing ID is the PF's plus offset + stride × index, carrying into
 * the bus number. Null when that bus is beyond ff: sriov_enable refuses such a count with
 * ENOMEM ("can't enable %d VFs (bus %02x out of range of %pR)").
 */
export function vfAddress(
  pf: PciAddress,
  sriov: Pick<SriovSpec, "offset" | "stride">,
  index: number,
): PciAddress | null {
  const [domain, bus, dev, fn] = pf.split(/[:.]/) as [string, string, string, string];
  const devfn =
    ((Number.parseInt(dev, 16) << 3) | Number.parseInt(fn, 16)) + sriov.offset + sriov.stride * index;
  const vfBus = Number.parseInt(bus, 16) + (devfn >> 8);
  if (vfBus > 0xff) return null;
  const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");
  return `${domain}:${hex(vfBus, 2)}:${hex((devfn >> 3) & 0x1f, 2)}.${devfn & 7}` as PciAddress;
}

const HEX_PATTERNS = new Map<number, RegExp>();
function hexPattern(digits: number): RegExp {
  let re = HEX_PATTERNS.get(digits);
  if (!re) {
    re = new RegExp(`^(0x)?[0-9a-fA-F]{1,${digits}}$`);
    HEX_PATTERNS.set(digits, re);
  }
  return re;
}

class Reader {
  readonly file: string;
  constructor(file: string) {
    this.file = file;
  }

  fail(path: string, message: string): never {
    throw new InputError(`${this.file}: ${path}: ${message}`);
  }

  object(value: Json, path: string, allowed: readonly string[], required: readonly string[] = []) {
    if (typeof value !== "object" || value === null || Array.isArray(value))
      this.fail(path, "expected an object");
    const record = value as Record<string, Json>;
    for (const key of Object.keys(record))
      if (!allowed.includes(key)) this.fail(`${path}.${key}`, `unknown field (known: ${allowed.join(", ")})`);
    for (const key of required) if (!(key in record)) this.fail(`${path}.${key}`, "missing");
    return record;
  }

  array(value: Json, path: string): Json[] {
    if (!Array.isArray(value)) this.fail(path, "expected an array");
    return value;
  }

  string(value: Json, path: string): string {
    if (typeof value !== "string") this.fail(path, "expected a string");
    return value;
  }

  /** A text for people (a description, a source, a name): one line, no control characters. */
  text(value: Json, path: string): string {
    const text = this.string(value, path);
    // C0 (newline included), DEL, C1: a value must not end a line of a generated file or steer a terminal
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is sought
    if (/[\x00-\x1f\x7f-\x9f]/.test(text))
      this.fail(path, `a control character (newline, escape, …) in ${JSON.stringify(text)}`);
    return text;
  }

  optText(value: Json, path: string): string | null {
    return value === undefined || value === null ? null : this.text(value, path);
  }

  bool(value: Json, path: string, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== "boolean") this.fail(path, "expected true or false");
    return value;
  }

  int(value: Json, path: string, fallback: number, max = 0xffff): number {
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max)
      this.fail(path, `expected an integer from 0 to ${max}`);
    return value;
  }

  /** A hex id of `digits` digits ("15b3"), or "any" (PCI_ANY_ID) where allowed. */
  hex(value: Json, path: string, digits: number, fallback: number, any = false): number {
    if (value === undefined) return fallback;
    if (any && value === "any") return PCI_ANY_ID;
    const text = this.string(value, path);
    if (!hexPattern(digits).test(text))
      this.fail(path, `expected ${digits} hex digits${any ? ' or "any"' : ""}, got ${JSON.stringify(text)}`);
    return Number.parseInt(text.replace(/^0x/, ""), 16);
  }

  address(value: Json, path: string): PciAddress {
    const text = this.string(value, path);
    if (!isAddress(text)) this.fail(path, `not a PCI address DDDD:BB:DD.F: ${JSON.stringify(text)}`);
    return text;
  }

  name(value: Json, path: string): string {
    const text = this.string(value, path);
    if (!/^[A-Za-z0-9_-]{1,56}$/.test(text)) this.fail(path, `not a module name: ${JSON.stringify(text)}`);
    return text;
  }

  /** A driver name: what a sysfs directory name can be (pci_driver.name; "i6300ESB timer" has a space). */
  driverName(value: Json, path: string): string {
    const text = this.string(value, path);
    if (!/^[\x21-\x7e](?:[\x20-\x7e]{0,54}[\x21-\x7e])?$/.test(text) || text.includes("/"))
      this.fail(path, `not a driver name: ${JSON.stringify(text)}`);
    return text;
  }
}

const ID_FIELDS = [
  "vendor",
  "device",
  "subvendor",
  "subdevice",
  "class",
  "classMask",
  "driverData",
  "overrideOnly",
  "source",
] as const;

/**
 * An id entry. Omitted fields take what PCI_DEVICE() gives (vendor, device, subvendor and
 * subdevice "any"; class and mask 0), so `{"vendor": "15b3", "device": "101d"}` is
 * PCI_VDEVICE(MELLANOX, 0x101d).
 */
function readId(r: Reader, value: Json, path: string): PciDeviceId {
  const o = r.object(value, path, ID_FIELDS);
  const classMask = r.hex(o.classMask, `${path}.classMask`, 6, 0);
  for (const shift of [16, 8, 0]) {
    const byte = (classMask >> shift) & 0xff;
    if (byte !== 0 && byte !== 0xff)
      r.fail(
        `${path}.classMask`,
        `mask byte ${byte.toString(16)} is neither 00 nor ff: modpost cannot write an alias for it (file2alias do_pci_entry drops the entry)`,
      );
  }
  if (o.source !== undefined) r.text(o.source, `${path}.source`);
  return idEntry({
    vendor: r.hex(o.vendor, `${path}.vendor`, 4, PCI_ANY_ID, true),
    device: r.hex(o.device, `${path}.device`, 4, PCI_ANY_ID, true),
    subvendor: r.hex(o.subvendor, `${path}.subvendor`, 4, PCI_ANY_ID, true),
    subdevice: r.hex(o.subdevice, `${path}.subdevice`, 4, PCI_ANY_ID, true),
    classCode: r.hex(o.class, `${path}.class`, 6, 0),
    classMask,
    driverData: r.int(o.driverData, `${path}.driverData`, 0, 0xffffffff),
    overrideOnly: r.bool(o.overrideOnly, `${path}.overrideOnly`, false),
  });
}

function readDriver(r: Reader, value: Json, path: string): DriverSpec {
  const o = r.object(
    value,
    path,
    ["name", "ids", "vfio", "denylist", "managedDma", "sriov", "defersUntil", "comment"],
    ["name"],
  );
  const vfio = r.bool(o.vfio, `${path}.vfio`, false);
  return {
    name: r.driverName(o.name, `${path}.name`),
    ids: r.array(o.ids ?? [], `${path}.ids`).map((id, i) => readId(r, id, `${path}.ids[${i}]`)),
    vfio,
    denylist: r.bool(o.denylist, `${path}.denylist`, false),
    managedDma: r.bool(o.managedDma, `${path}.managedDma`, vfio),
    sriov: r.bool(o.sriov, `${path}.sriov`, false),
    defersUntil: o.defersUntil === undefined ? null : r.name(o.defersUntil, `${path}.defersUntil`),
  };
}

/**
 * The rest of a modprobe.d `softdep MODULE pre: A B post: C` line (modprobe.d(5)), as it is
 * written into the machine's modules.softdep: module names and the two keywords, nothing that
 * could end the line or start another.
 */
function readSoftdep(r: Reader, value: Json, path: string): string {
  const text = r.text(value, path);
  const words = text.split(" ").filter((w) => w !== "");
  const wrong = words.find((w) => w !== "pre:" && w !== "post:" && !/^[A-Za-z0-9_-]{1,56}$/.test(w));
  if (words.length === 0 || wrong !== undefined)
    r.fail(path, `expected "pre: MODULE… post: MODULE…", not ${JSON.stringify(wrong ?? text)}`);
  return words.join(" ");
}

/** The kernel version: the directory name of the machine's modules tree (/lib/modules/VERSION). */
function readKernel(r: Reader, value: Json): string {
  const text = r.string(value, "$.kernel");
  if (!/^[A-Za-z0-9._+~-]{1,64}$/.test(text) || text === "." || text === "..")
    r.fail("$.kernel", `not a kernel version (a directory name in /lib/modules): ${JSON.stringify(text)}`);
  return text;
}

function readModule(r: Reader, value: Json, path: string): ModuleSpec {
  const o = r.object(
    value,
    path,
    ["name", "source", "builtin", "loaded", "depends", "softdep", "drivers", "comment"],
    ["name"],
  );
  const builtin = r.bool(o.builtin, `${path}.builtin`, false);
  const name = r.name(o.name, `${path}.name`);
  if (name.includes("-")) r.fail(`${path}.name`, `module names use '_', not '-': ${name}`);
  return {
    name,
    source: r.optText(o.source, `${path}.source`),
    builtin,
    loaded: builtin || r.bool(o.loaded, `${path}.loaded`, false),
    depends: r.array(o.depends ?? [], `${path}.depends`).map((d, i) => r.name(d, `${path}.depends[${i}]`)),
    softdep:
      o.softdep === undefined || o.softdep === null ? null : readSoftdep(r, o.softdep, `${path}.softdep`),
    drivers: r
      .array(o.drivers ?? [], `${path}.drivers`)
      .map((d, i) => readDriver(r, d, `${path}.drivers[${i}]`)),
  };
}

function readDevice(r: Reader, value: Json, path: string): DeviceSpec {
  const o = r.object(
    value,
    path,
    [
      "address",
      "vendor",
      "device",
      "subvendor",
      "subdevice",
      "class",
      "revision",
      "headerType",
      "parent",
      "iommuGroup",
      "name",
      "sriov",
      "physfn",
    ],
    ["address", "vendor", "device", "class"],
  );
  let sriov: SriovSpec | null = null;
  if (o.sriov !== undefined) {
    const s = r.object(
      o.sriov,
      `${path}.sriov`,
      ["totalVfs", "vfDevice", "offset", "stride", "driversAutoprobe", "vfGroupBase"],
      ["totalVfs", "vfDevice"],
    );
    sriov = {
      totalVfs: r.int(s.totalVfs, `${path}.sriov.totalVfs`, 0, 255),
      vfDevice: r.hex(s.vfDevice, `${path}.sriov.vfDevice`, 4, 0),
      offset: r.int(s.offset, `${path}.sriov.offset`, 1, 255),
      stride: r.int(s.stride, `${path}.sriov.stride`, 1, 255),
      driversAutoprobe: r.bool(s.driversAutoprobe, `${path}.sriov.driversAutoprobe`, true),
      vfGroupBase:
        s.vfGroupBase === undefined ? null : r.int(s.vfGroupBase, `${path}.sriov.vfGroupBase`, 0, 1e7),
    };
  }
  const vendor = r.hex(o.vendor, `${path}.vendor`, 4, 0);
  return {
    address: r.address(o.address, `${path}.address`),
    vendor,
    device: r.hex(o.device, `${path}.device`, 4, 0),
    subvendor: r.hex(o.subvendor, `${path}.subvendor`, 4, 0),
    subdevice: r.hex(o.subdevice, `${path}.subdevice`, 4, 0),
    classCode: r.hex(o.class, `${path}.class`, 6, 0),
    revision: r.int(o.revision, `${path}.revision`, 0, 255),
    headerType: r.int(o.headerType, `${path}.headerType`, 0, 2),
    parent: o.parent === undefined || o.parent === null ? null : r.address(o.parent, `${path}.parent`),
    iommuGroup:
      o.iommuGroup === undefined || o.iommuGroup === null
        ? null
        : r.int(o.iommuGroup, `${path}.iommuGroup`, 0, 1e7),
    name: r.optText(o.name, `${path}.name`),
    sriov,
    physfn: o.physfn === undefined || o.physfn === null ? null : r.address(o.physfn, `${path}.physfn`),
  };
}

/** Reads and checks a machine; `file` names it in errors. */
export function readMachine(value: Json, file: string): MachineSpec {
  const r = new Reader(file);
  const o = r.object(
    value,
    "$",
    ["format", "name", "description", "kernel", "modules", "blacklist", "devices", "comment"],
    ["format", "name", "modules", "devices"],
  );
  if (o.format !== MACHINE_FORMAT) r.fail("$.format", `expected "${MACHINE_FORMAT}"`);
  const machine: MachineSpec = {
    name: r.name(o.name, "$.name"),
    description: r.optText(o.description, "$.description") ?? "",
    kernel: o.kernel === undefined || o.kernel === null ? "simulated" : readKernel(r, o.kernel),
    modules: r.array(o.modules, "$.modules").map((m, i) => readModule(r, m, `$.modules[${i}]`)),
    blacklist: r.array(o.blacklist ?? [], "$.blacklist").map((b, i) => r.name(b, `$.blacklist[${i}]`)),
    devices: r.array(o.devices, "$.devices").map((d, i) => readDevice(r, d, `$.devices[${i}]`)),
  };
  checkConsistency(r, machine);
  return machine;
}

/** What no single field shows: duplicates, dangling references, VFs without a PF. */
function checkConsistency(r: Reader, machine: MachineSpec): void {
  const modules = new Map<string, number>();
  const drivers = new Map<string, string>();
  machine.modules.forEach((m, i) => {
    if (modules.has(m.name))
      r.fail(`$.modules[${i}].name`, `duplicate module ${m.name} (also $.modules[${modules.get(m.name)}])`);
    modules.set(m.name, i);
    m.drivers.forEach((d, j) => {
      const other = drivers.get(d.name);
      if (other)
        r.fail(`$.modules[${i}].drivers[${j}].name`, `driver ${d.name} is already registered by ${other}`);
      drivers.set(d.name, `$.modules[${i}]`);
    });
  });
  machine.modules.forEach((m, i) => {
    m.depends.forEach((d, j) => {
      if (!modules.has(d)) r.fail(`$.modules[${i}].depends[${j}]`, `no module ${d} in $.modules`);
    });
    m.drivers.forEach((d, j) => {
      if (d.defersUntil && !modules.has(d.defersUntil))
        r.fail(`$.modules[${i}].drivers[${j}].defersUntil`, `no module ${d.defersUntil} in $.modules`);
    });
  });
  const at = new Map<string, number>();
  machine.devices.forEach((d, i) => {
    if (at.has(d.address))
      r.fail(
        `$.devices[${i}].address`,
        `duplicate address ${d.address} (also $.devices[${at.get(d.address)}])`,
      );
    at.set(d.address, i);
  });
  machine.devices.forEach((d, i) => {
    if (d.parent !== null) {
      const parent = at.get(d.parent);
      if (parent === undefined) r.fail(`$.devices[${i}].parent`, `no device ${d.parent} in $.devices`);
      if (parent >= i)
        r.fail(`$.devices[${i}].parent`, `the bridge ${d.parent} must come before the devices below it`);
      if (machine.devices[parent]?.headerType !== 1)
        r.fail(`$.devices[${i}].parent`, `${d.parent} is not a bridge (headerType 1)`);
    }
    if (d.physfn !== null) {
      const pf = at.get(d.physfn);
      if (pf === undefined)
        r.fail(`$.devices[${i}].physfn`, `VF without PF: no device ${d.physfn} in $.devices`);
      if (!machine.devices[pf]?.sriov)
        r.fail(`$.devices[${i}].physfn`, `VF without PF: ${d.physfn} has no sriov capability`);
    }
    if (d.sriov && d.headerType !== 0)
      r.fail(`$.devices[${i}].sriov`, "only a normal (type 0) function can be a PF");
    if (d.sriov && d.sriov.totalVfs > 0 && vfAddress(d.address, d.sriov, d.sriov.totalVfs - 1) === null)
      r.fail(
        `$.devices[${i}].sriov`,
        `its VF ${d.sriov.totalVfs} would be on a bus beyond ff (offset ${d.sriov.offset}, stride ${d.sriov.stride} from ${d.address}): the kernel cannot create it`,
      );
  });
}
