// The Host read side over a sysfs root: the live /sys, or a captured tree laid out like it
// (DIR/bus/pci/devices/* linking into DIR/devices/..., DIR/bus/pci/drivers/*,
// DIR/kernel/iommu_groups/*, DIR/module/*). Reads only. Every name taken from a directory
// listing is checked before it becomes part of a path: addresses with isAddress, driver and
// module names with isPathComponent / MODULE_NAME. What cannot be read is reported through
// `warn` — naming the path — and read as null, as pciutils' sysfs.c warns and goes on.
import { closeSync, existsSync, lstatSync, readdirSync, readlinkSync, readSync, realpathSync } from "node:fs";
import { join, resolve } from "node:path";
import { InputError } from "../errors.ts";
import { compareAddresses, isAddress, type PciAddress, printable } from "../pci/address.ts";
import { parseModalias } from "../pci/modalias.ts";
import { openRegularFd, readRegularText, whyUnreadable } from "../safe-read.ts";
import { AbsentDevice, type DeviceInfo, type Host, type SriovInfo, UnreadableDevice } from "./host.ts";

/** KBUILD_MODNAME characters; module names are also directory names under /sys/module. */
export const MODULE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** A single, harmless path component: driver names may hold spaces ("i6300ESB timer"). */
export function isPathComponent(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !/[/\0]/.test(name) && name.length <= 255;
}

type Read = { text: string } | { absent: true } | { error: string };

/** An attribute's text (a FIFO or /dev/zero planted in a tree is refused: safe-read.ts). */
function readText(path: string): Read {
  try {
    return { text: readRegularText(path, "attribute") };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? { absent: true } : { error: whyUnreadable(error) };
  }
}

/** The value of a one-line attribute: the kernel ends each with a newline (sysfs_emit "%s\n"). */
function oneLine(text: string): string {
  return text.endsWith("\n") ? text.slice(0, -1) : text;
}

function realPathOf(path: string): string | undefined {
  try {
    return realpathSync.native(path);
  } catch {
    return undefined;
  }
}

function linkTarget(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}

/**
 * What follows a link target's last '/', as lspci takes it (strrchr in ls-kernel.c find_driver),
 * trailing slashes left out first, as path.basename does it on the control side
 * (sysfs-control.ts): `drivers/e1000e/` names e1000e on both.
 */
function lastComponent(target: string): string {
  const end = target.endsWith("/") ? target.replace(/\/+$/, "") : target;
  return end.slice(end.lastIndexOf("/") + 1);
}

/** Attribute widths as pci-sysfs.c prints them ("0x%04x", "0x%06x", "0x%02x"). */
const HEX_WIDTH = { vendor: 4, device: 4, subsystem_vendor: 4, subsystem_device: 4, class: 6, revision: 2 };
type HexAttribute = keyof typeof HEX_WIDTH;

/** Reads one device's directory; what goes wrong is reported once, naming the file. */
class DeviceReader {
  readonly address: PciAddress;
  readonly dir: string;
  private readonly warn: (message: string) => void;
  private listing: string[] | undefined;
  constructor(address: PciAddress, dir: string, warn: (message: string) => void) {
    this.address = address;
    this.dir = dir;
    this.warn = warn;
  }

  /** An entry's path: `dir` is already normal and `name` one component (path.join costs more). */
  file(name: string): string {
    return `${this.dir}/${name}`;
  }

  /** Whether the directory has the entry (a dangling link is there too). */
  has(name: string): boolean {
    return lstatSync(this.file(name), { throwIfNoEntry: false }) !== undefined;
  }

  /** The directory's entries, listed when first asked for (only the VFs of a PF need them). */
  names(): string[] {
    if (this.listing === undefined) {
      try {
        this.listing = readdirSync(this.dir);
      } catch {
        this.listing = [];
      }
    }
    return this.listing;
  }

  private problem(name: string, what: string): void {
    this.warn(`${this.address}: ${this.file(name)}: ${what}`);
  }

  /**
   * The attribute's value; null (reported) when it cannot be read, or absent and `expected`.
   * The directory is not listed first: an absent attribute is one the read does not find
   * (ENOENT), and only then is it told apart from a dangling link.
   */
  text(name: string, expected: boolean): string | null {
    const read = readText(this.file(name));
    if ("text" in read) return oneLine(read.text);
    if ("error" in read) this.problem(name, read.error);
    else if (this.has(name)) this.problem(name, "missing (dangling link?)");
    else if (expected) this.problem(name, "missing");
    return null;
  }

  /** vendor, device and class: without them the device cannot be described at all. */
  identity(name: "vendor" | "device" | "class"): number {
    const path = this.file(name);
    const read = readText(path);
    if (!("text" in read)) {
      // a directory that cannot be listed says why the device cannot be read
      try {
        readdirSync(this.dir);
      } catch (error) {
        throw new UnreadableDevice(
          this.address,
          `${this.dir}: cannot list (${(error as NodeJS.ErrnoException).code})`,
        );
      }
      const why = "absent" in read ? "missing" : read.error;
      throw new UnreadableDevice(this.address, `${path}: ${why}`);
    }
    const text = oneLine(read.text);
    const why = garbage(text, HEX_WIDTH[name]);
    if (why !== undefined) throw new UnreadableDevice(this.address, `${path}: ${why}`);
    return Number.parseInt(text, 16);
  }

  hex(name: HexAttribute, expected: boolean): number | null {
    const text = this.text(name, expected);
    if (text === null) return null;
    const why = garbage(text, HEX_WIDTH[name]);
    if (why === undefined) return Number.parseInt(text, 16);
    this.problem(name, why);
    return null;
  }

  decimal(name: string): number | null {
    const text = this.text(name, false);
    if (text === null) return null;
    if (/^-?\d{1,10}$/.test(text)) return Number.parseInt(text, 10);
    this.problem(name, `expected a decimal number, got '${printable(text, 40)}'`);
    return null;
  }

  /**
   * The last component of a link's target, as lspci reads the driver (ls-kernel.c find_driver:
   * readlink, then what follows the last '/'). A link whose target is missing is a warning and
   * null, as the README promises for every value that cannot be read: a dangling `driver` link
   * names no driver that is bound.
   */
  linkName(name: string): string | null {
    let target: string;
    try {
      target = readlinkSync(this.file(name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") this.problem(name, "not a symbolic link");
      return null;
    }
    // existsSync follows the link: false when its target is missing.
    if (!existsSync(this.file(name))) {
      this.problem(name, `dangling link to ${printable(target)}`);
      return null;
    }
    return lastComponent(target);
  }

  addressLink(name: string): PciAddress | null {
    const last = this.linkName(name);
    if (last === null || isAddress(last)) return last;
    this.problem(name, `links to '${printable(last)}', not a PCI address`);
    return null;
  }

  /** Byte 0x0e of config space; the first 64 bytes are readable without root. */
  headerType(): number | null {
    const bytes = Buffer.alloc(64);
    let length: number;
    try {
      const fd = openRegularFd(this.file("config"), "attribute");
      try {
        length = readSync(fd, bytes, 0, 64, 0);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      this.problem("config", code === "ENOENT" ? "missing" : whyUnreadable(error));
      return null;
    }
    if (length > 0x0e) return (bytes[0x0e] as number) & 0x7f;
    this.problem("config", `only ${length} bytes`);
    return null;
  }
}

/**
 * A device read from sysfs: what every command needs is read now; the rest (subsystem ids,
 * revision, driver_override, NUMA node, SR-IOV) the first time it is asked for, with its
 * warnings then — list's table shows none of it, and 25 devices times five files is a good part
 * of its time.
 */
class SysfsDevice implements DeviceInfo {
  readonly address: PciAddress;
  readonly vendor: number;
  readonly device: number;
  readonly classCode: number;
  readonly modalias: string | null;
  readonly driver: string | null;
  readonly iommuGroup: number | null;
  readonly headerType: number | null;
  readonly parents: PciAddress[];
  readonly vfioBound: boolean;
  private readonly read: DeviceReader;
  private readonly later = new Map<string, unknown>();

  /** `links`: the host's reading of the modalias and the driver and iommu_group links. */
  constructor(
    read: DeviceReader,
    parents: PciAddress[],
    links: (read: DeviceReader) => Pick<DeviceInfo, "modalias" | "driver" | "iommuGroup">,
  ) {
    this.read = read;
    this.address = read.address;
    // the identity first: a device without one is left out, and nothing else is said of it
    this.vendor = read.identity("vendor");
    this.device = read.identity("device");
    this.classCode = read.identity("class");
    ({ modalias: this.modalias, driver: this.driver, iommuGroup: this.iommuGroup } = links(read));
    this.headerType = read.headerType();
    this.parents = parents;
    this.vfioBound = read.has("vfio-dev");
  }

  /** `read()`'s value, read once. */
  private once<T>(name: string, read: () => T): T {
    if (!this.later.has(name)) this.later.set(name, read());
    return this.later.get(name) as T;
  }

  get subsystemVendor(): number | null {
    return this.once("subsystem_vendor", () => this.read.hex("subsystem_vendor", true));
  }
  get subsystemDevice(): number | null {
    return this.once("subsystem_device", () => this.read.hex("subsystem_device", true));
  }
  get revision(): number | null {
    return this.once("revision", () => this.read.hex("revision", true));
  }
  get driverOverride(): string | null {
    return this.once("driver_override", () => {
      const override = this.read.text("driver_override", true);
      return override === "(null)" ? null : override;
    });
  }
  get numaNode(): number | null {
    return this.once("numa_node", () => numaNode(this.read));
  }
  get physfn(): PciAddress | null {
    return this.once("physfn", () => this.read.addressLink("physfn"));
  }
  get virtfns(): PciAddress[] {
    return this.once("virtfns", () => virtfns(this.read));
  }
  get sriov(): SriovInfo | null {
    return this.once("sriov", () => sriov(this.read));
  }
}

function numaNode(read: DeviceReader): number | null {
  const node = read.decimal("numa_node");
  return node === null || node < 0 ? null : node;
}

function virtfns(read: DeviceReader): PciAddress[] {
  return read
    .names()
    .filter((name) => /^virtfn\d{1,5}$/.test(name))
    .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))
    .map((name) => read.addressLink(name))
    .filter((address) => address !== null);
}

function sriov(read: DeviceReader): SriovInfo | null {
  if (!read.has("sriov_totalvfs")) return null;
  const totalVfs = read.decimal("sriov_totalvfs");
  const numVfs = read.decimal("sriov_numvfs");
  const autoprobe = read.decimal("sriov_drivers_autoprobe");
  if (totalVfs === null || numVfs === null || autoprobe === null) return null;
  return { totalVfs, numVfs, driversAutoprobe: autoprobe !== 0 };
}

/** Why `text` is not a sysfs hex attribute of `width` digits, or undefined when it is. */
function garbage(text: string, width: number): string | undefined {
  if (/^0x[0-9a-fA-F]+$/.test(text) && text.length - 2 <= width) return undefined;
  return `expected a hex number of ${width} digits (0x${"0".repeat(width)}), got '${printable(text, 40)}'`;
}

export class SysfsHost implements Host {
  readonly description: string;
  private readonly root: string;
  private readonly warn: (message: string) => void;

  /** `warn` receives every problem met while reading, one line naming the path. */
  constructor(root: string, warn: (message: string) => void) {
    this.root = resolve(root);
    this.description = root;
    this.warn = warn;
  }

  /**
   * A path under the root. Every part is a fixed relative path or a name already checked to be
   * one harmless component (an address, a group number, a driver or module name), and the root
   * is normal (resolve): joined as they are, without path.join's normalising pass.
   */
  private path(...parts: string[]): string {
    return `${this.root === "/" ? "" : this.root}/${parts.join("/")}`;
  }

  devices(): PciAddress[] {
    const dir = this.path("bus/pci/devices");
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (error) {
      throw new InputError(
        `${dir}: cannot list (${(error as NodeJS.ErrnoException).code}): not a sysfs tree?`,
      );
    }
    const addresses: PciAddress[] = [];
    for (const name of names) {
      if (isAddress(name)) addresses.push(name);
      else this.warn(`${join(dir, printable(name))}: not a PCI address (DDDD:BB:DD.F); left out`);
    }
    return addresses.sort(compareAddresses);
  }

  /**
   * What every command needs is read now; the rest (subsystem ids, revision, driver_override,
   * NUMA node, SR-IOV) when first asked for, with its warnings then: list's table shows none of
   * it, and 25 devices times five files is a good part of its time.
   */
  device(address: PciAddress): DeviceInfo {
    const { dir, parents } = this.locate(address);
    const read = new DeviceReader(address, dir, this.warn);
    return new SysfsDevice(read, parents, (r) => ({
      modalias: this.modalias(r),
      driver: this.driverName(r),
      iommuGroup: this.groupNumber(r),
    }));
  }

  /** devices/ with every link resolved, found once; null when it cannot be resolved. */
  private realDevices: string | null | undefined;

  private devicesDir(): string | undefined {
    if (this.realDevices === undefined) this.realDevices = realPathOf(this.path("devices")) ?? null;
    return this.realDevices ?? undefined;
  }

  /**
   * The device's directory and the PCI devices above it. bus/pci/devices/<address> is a link
   * into devices/; one leading anywhere else — itself or through a linked directory on the
   * way — is refused, so a damaged or hostile tree cannot send reads outside it.
   */
  private locate(address: PciAddress): { dir: string; parents: PciAddress[] } {
    const entry = this.path("bus/pci/devices", address);
    // the usual case, a link resolving below devices/, in one call
    const dir = realPathOf(entry);
    const devices = dir === undefined ? undefined : this.devicesDir();
    if (dir !== undefined && devices !== undefined && dir.startsWith(`${devices}/`)) {
      // Both are real paths (absolute, no `.`, `..` or links): below means below by name.
      const parts = dir.slice(devices.length + 1).split("/");
      if (parts[parts.length - 1] !== address) {
        this.warn(
          `${address}: ${entry} links to a directory named ${printable(parts[parts.length - 1] ?? "")}`,
        );
      }
      return { dir, parents: parts.slice(0, -1).filter(isAddress) };
    }
    const target = linkTarget(entry);
    if (target === null) {
      if (!existsSync(entry)) throw new AbsentDevice(address, this.path("bus/pci/devices"));
      // a copy made without links, unless a linked directory on the way leads out of the tree
      const root = realPathOf(this.root);
      if (dir !== undefined && root !== undefined && !dir.startsWith(`${root}/`)) {
        throw new UnreadableDevice(address, `${entry} leads outside ${this.root}: ${printable(dir)}`);
      }
      return { dir: entry, parents: [] };
    }
    if (dir === undefined || devices === undefined) {
      throw new UnreadableDevice(address, `${entry}: dangling link to ${printable(target)}`);
    }
    throw new UnreadableDevice(
      address,
      `${entry} points outside ${this.path("devices")}: ${printable(target)}`,
    );
  }

  private modalias(read: DeviceReader): string | null {
    const text = read.text("modalias", true);
    if (text === null || parseModalias(text)?.prefix === "pci") return text;
    this.warn(`${read.address}: ${read.file("modalias")}: not a PCI modalias: '${printable(text)}'`);
    return null;
  }

  private driverName(read: DeviceReader): string | null {
    const name = read.linkName("driver");
    if (name === null || isPathComponent(name)) return name;
    return null;
  }

  private groupNumber(read: DeviceReader): number | null {
    const name = read.linkName("iommu_group");
    if (name === null) return null;
    if (/^\d{1,9}$/.test(name)) return Number.parseInt(name, 10);
    this.warn(
      `${read.address}: ${read.file("iommu_group")}: links to '${printable(name)}', not a group number`,
    );
    return null;
  }

  groupMembers(group: number): PciAddress[] {
    const dir = this.path("kernel/iommu_groups", String(group), "devices");
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (error) {
      this.warn(`${dir}: cannot list (${(error as NodeJS.ErrnoException).code})`);
      return [];
    }
    const members: PciAddress[] = [];
    for (const name of names) {
      if (isAddress(name)) members.push(name);
      else this.warn(`${join(dir, printable(name))}: not a PCI address; left out`);
    }
    return members.sort(compareAddresses);
  }

  drivers(): string[] {
    const dir = this.path("bus/pci/drivers");
    try {
      return readdirSync(dir).filter(isPathComponent).sort();
    } catch (error) {
      this.warn(`${dir}: cannot list (${(error as NodeJS.ErrnoException).code})`);
      return [];
    }
  }

  /**
   * module_add_driver (drivers/base/module.c) links drivers/<driver>/module to module/<name>.
   * A capture that left module/ out records the name in drivers/<driver>/.module instead.
   */
  driverModule(driver: string): string | null {
    if (!isPathComponent(driver)) return null;
    const dir = this.path("bus/pci/drivers", driver);
    const target = linkTarget(join(dir, "module"));
    const recorded = target === null ? readText(join(dir, ".module")) : undefined;
    const name =
      target !== null
        ? lastComponent(target)
        : recorded && "text" in recorded
          ? oneLine(recorded.text)
          : null;
    if (name === null || MODULE_NAME.test(name)) return name;
    this.warn(`${dir}: module name '${printable(name)}' is not a module name`);
    return null;
  }

  moduleDrivers(module: string): string[] | null {
    if (!MODULE_NAME.test(module)) return null;
    if (!existsSync(this.path("module"))) {
      // A capture without module/: the drivers' recorded modules say the same thing.
      const drivers = this.drivers().filter((driver) => this.driverModule(driver) === module);
      return drivers.length > 0 ? drivers : null;
    }
    const dir = this.path("module", module);
    if (!existsSync(dir)) return null;
    let entries: string[];
    try {
      entries = readdirSync(join(dir, "drivers"));
    } catch {
      return []; // loaded, registers no driver
    }
    return entries
      .filter((entry) => entry.startsWith("pci:"))
      .map((entry) => entry.slice(4))
      .filter(isPathComponent)
      .sort();
  }
}
