// HostControl over a real sysfs (or a copy of one) with the system's modprobe. Every path is
// built from a validated PciAddress or a driver/module name checked against NAME below.
import { existsSync, readdirSync, readlinkSync, realpathSync } from "node:fs";
import { basename, join } from "node:path";
import { ExitCode, FlavourError, InputError, SystemCallError } from "../errors.ts";
import { childProcess } from "../lazy-builtins.ts";
import { isAddress, type PciAddress, printable } from "../pci/address.ts";
import { formatModalias } from "../pci/modalias.ts";
import { RefusedFile, readRegularFile, readRegularText } from "../safe-read.ts";
import { resolveInside, writeInside } from "../safe-write.ts";
import {
  type DeviceState,
  type GroupMember,
  HOLD_OVERRIDE,
  type HostControl,
  type ModprobeOutcome,
} from "./control.ts";
import { sleep, takeLock } from "./lock.ts";
import { MODULE_NAME } from "./sysfs.ts";

/**
 * Where modprobe is looked up when the environment has no PATH. udev runs RUN programs with
 * only the event's properties as their environment (systemd's udev_event_spawn), and without a
 * PATH Node looks in /usr/bin:/bin only, where Debian has no modprobe (/usr/sbin/modprobe): the
 * hook failed to load vfio-pci at boot until this.
 */
export const SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Driver and module names that may appear in a path: no slash, no dot-dot. */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:+-]*$/;

function checkName(kind: string, name: string): string {
  if (!NAME.test(name) || name.includes(".."))
    throw new FlavourError(`invalid ${kind} name '${printable(name)}'`, ExitCode.usage);
  return name;
}

export interface SysfsControlOptions {
  /** The sysfs root, default /sys. */
  sysfs?: string;
  /** Where /dev/vfio lives, default /dev. */
  dev?: string;
  /** /proc, for host-use checks; null to skip them (a captured tree has none). */
  proc?: string | null;
  /**
   * The modprobe command and its leading arguments, e.g. ["modprobe", "-d", ROOT]; null when
   * the tree is no live sysfs (a captured copy), whose modules cannot be loaded: loading one
   * into the running kernel would bind this machine's own devices.
   */
  modprobe?: string[] | null;
  /**
   * Lock file, default /run/flavourctl/lock: in a directory only root can write (not the
   * world-writable /run/lock, where anyone could plant a lock that stops the boot hook).
   */
  lockPath?: string;
}

export class SysfsControl implements HostControl {
  readonly description: string;
  private readonly sysfs: string;
  private readonly dev: string;
  private readonly proc: string | null;
  private readonly modprobeCommand: string[] | null;
  private readonly lockPath: string;

  constructor(options: SysfsControlOptions = {}) {
    this.sysfs = options.sysfs ?? "/sys";
    this.dev = options.dev ?? "/dev";
    this.proc = options.proc === undefined ? "/proc" : options.proc;
    this.modprobeCommand = options.modprobe === undefined ? ["modprobe"] : options.modprobe;
    this.lockPath = options.lockPath ?? "/run/flavourctl/lock";
    this.description = this.sysfs;
  }

  private devicePath(address: PciAddress, ...rest: string[]): string {
    return join(this.sysfs, "bus/pci/devices", address, ...rest);
  }

  private read(path: string): string | undefined {
    try {
      return readRegularText(path, "attribute", "latin1").trim();
    } catch {
      return undefined;
    }
  }

  private hex(address: PciAddress, attribute: string): number {
    const path = this.devicePath(address, attribute);
    let text: string;
    try {
      text = readRegularText(path, "attribute", "latin1").trim();
    } catch (error) {
      if (error instanceof RefusedFile) throw error;
      text = "(missing)";
    }
    const value = Number.parseInt(text, 16);
    if (!/^0x[0-9a-fA-F]+$/.test(text) || Number.isNaN(value)) {
      throw new InputError(`${path}: expected a hex number, got '${text}'`);
    }
    return value;
  }

  private linkName(path: string): string | null {
    try {
      return basename(readlinkSync(path));
    } catch {
      return null;
    }
  }

  addresses(): PciAddress[] {
    const dir = join(this.sysfs, "bus/pci/devices");
    try {
      return readdirSync(dir).filter(isAddress).sort();
    } catch (error) {
      throw new InputError(`${dir}: cannot list (${(error as NodeJS.ErrnoException).code})`);
    }
  }

  private addressLink(path: string): PciAddress | null {
    const name = this.linkName(path);
    return name !== null && isAddress(name) ? name : null;
  }

  device(address: PciAddress): DeviceState {
    if (!existsSync(this.devicePath(address))) {
      throw new FlavourError(
        `no PCI device ${address} under ${join(this.sysfs, "bus/pci/devices")}`,
        ExitCode.usage,
      );
    }
    const ids = {
      vendor: this.hex(address, "vendor"),
      device: this.hex(address, "device"),
      subvendor: this.hex(address, "subsystem_vendor"),
      subdevice: this.hex(address, "subsystem_device"),
      classCode: this.hex(address, "class"),
    };
    const override = this.read(this.devicePath(address, "driver_override"));
    const group = this.linkName(this.devicePath(address, "iommu_group"));
    return {
      address,
      ids,
      modalias: this.read(this.devicePath(address, "modalias")) ?? formatModalias(ids),
      driver: this.linkName(this.devicePath(address, "driver")),
      driverOverride: override === undefined || override === "(null)" || override === "" ? null : override,
      iommuGroup: group === null ? null : Number.parseInt(group, 10),
      headerType: this.headerType(address),
      sriovNumVfs: Number.parseInt(this.read(this.devicePath(address, "sriov_numvfs")) ?? "0", 10) || 0,
      physfn: this.addressLink(this.devicePath(address, "physfn")),
      vfioDevice: existsSync(this.devicePath(address, "vfio-dev")),
    };
  }

  /** Byte 0x0e of config space, without the multi-function bit (readable without root). */
  private headerType(address: PciAddress): number | null {
    try {
      const config = readRegularFile(this.devicePath(address, "config"), "attribute");
      return config.length > 0x0e ? (config[0x0e] as number) & 0x7f : null;
    } catch {
      return null;
    }
  }

  groupMembers(group: number): GroupMember[] {
    const dir = join(this.sysfs, "kernel/iommu_groups", String(group), "devices");
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return [];
    }
    return names.filter(isAddress).map((address) => ({
      address,
      driver: this.linkName(this.devicePath(address, "driver")),
      headerType: this.headerType(address),
    }));
  }

  hostUses(address: PciAddress): string[] {
    const uses: string[] = [];
    if (this.read(this.devicePath(address, "boot_vga")) === "1")
      uses.push("it is the boot display (boot_vga=1)");
    if (this.proc === null) return uses;
    let device: string;
    try {
      device = realpathSync(this.devicePath(address));
    } catch {
      return uses;
    }
    return [...uses, ...this.blockUses(device, this.proc), ...this.netUses(device, this.proc)];
  }

  /** The entries of /sys/class/CLASS whose device is `path` or lies below it. */
  private classEntriesAt(classDir: string, path: string): string[] {
    try {
      return readdirSync(join(this.sysfs, "class", classDir)).filter((name) => {
        try {
          const real = realpathSync(join(this.sysfs, "class", classDir, name));
          return real === path || real.startsWith(`${path}/`);
        } catch {
          return false;
        }
      });
    } catch {
      return [];
    }
  }

  /**
   * The disks and partitions of a PCI device. With NVMe multipath (CONFIG_NVME_MULTIPATH=y, as
   * Debian builds it) the controller has only a hidden path disk nvmeXcZnY (nvme_alloc_ns:
   * GENHD_FL_HIDDEN: no /dev node, no partitions); the disk users mount is the subsystem's
   * head nvmeXnY (nvme_mpath_alloc_disk) under /sys/devices/virtual/nvme-subsystem.
   */
  private blockDevices(device: string): string[] {
    const names = this.classEntriesAt("block", device).flatMap((disk) => {
      const path = /^nvme(\d+)c\d+n(\d+)$/.exec(disk);
      if (!path) return [disk];
      try {
        const head = realpathSync(join(this.sysfs, "class/block", `nvme${path[1]}n${path[2]}`));
        return this.classEntriesAt("block", head);
      } catch {
        return [disk];
      }
    });
    return [...new Set(names)].sort();
  }

  private blockUses(device: string, proc: string): string[] {
    const mounts = parseMountinfo(this.read(join(proc, "self/mountinfo")) ?? "");
    const swaps = (this.read(join(proc, "swaps")) ?? "").split("\n").map((row) => row.split(/\s+/)[0]);
    const uses: string[] = [];
    for (const name of this.blockDevices(device)) {
      // By number too: the root may be listed as /dev/root, or by a /dev/disk/by-* name.
      const number = this.read(join(this.sysfs, "class/block", name, "dev"));
      const mount = mounts.find((m) => m.source === `/dev/${name}` || m.device === number);
      if (mount) uses.push(`block device ${name} is mounted on ${mount.mountPoint}`);
      if (swaps.includes(`/dev/${name}`)) uses.push(`block device ${name} holds swap`);
      try {
        const holders = readdirSync(join(this.sysfs, "class/block", name, "holders"));
        if (holders.length > 0) uses.push(`block device ${name} is held by ${holders.join(", ")}`);
      } catch {}
    }
    return uses;
  }

  /**
   * A NIC's interfaces and every interface stacked on them, each with the NIC interface it
   * sits above. An enslaved NIC's addresses and routes are on its master (bond, bridge, team:
   * netdev_master_upper_dev_link makes the `master` link) or on uppers such as VLANs
   * (netdev_adjacent_sysfs_add makes `upper_NAME` links): the NIC itself looks idle.
   */
  private netStack(device: string): { name: string; above: string | null }[] {
    const stack: { name: string; above: string | null }[] = [];
    const seen = new Set<string>();
    for (const nic of this.classEntriesAt("net", device)) {
      const queue = [nic];
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        if (seen.has(name)) continue;
        seen.add(name);
        stack.push({ name, above: name === nic ? null : nic });
        queue.push(...this.upperInterfaces(name));
      }
    }
    return stack;
  }

  private upperInterfaces(name: string): string[] {
    const dir = join(this.sysfs, "class/net", name);
    try {
      return readdirSync(dir)
        .filter((entry) => entry === "master" || entry.startsWith("upper_"))
        .map((entry) => this.linkName(join(dir, entry)))
        .filter((upper): upper is string => upper !== null);
    } catch {
      return [];
    }
  }

  private netUses(device: string, proc: string): string[] {
    const routes = (this.read(join(proc, "net/route")) ?? "").split("\n").map((row) => row.split("\t"));
    // if_inet6: address ifindex prefixlen scope flags name; scope 20 is link-local.
    const inet6 = (this.read(join(proc, "net/if_inet6")) ?? "")
      .split("\n")
      .map((row) => row.trim().split(/\s+/));
    const uses: string[] = [];
    for (const { name, above } of this.netStack(device)) {
      const which = `network interface ${name}${above === null ? "" : ` (above ${above})`}`;
      const rows = routes.filter((row) => row[0] === name);
      if (rows.some((row) => row[1] === "00000000")) uses.push(`${which} carries the default route`);
      else if (rows.length > 0) uses.push(`${which} has IPv4 routes`);
      if (inet6.some((row) => row[5] === name && row[3] !== "20"))
        uses.push(`${which} has a global IPv6 address`);
    }
    return uses;
  }

  modprobe(module: string): ModprobeOutcome {
    if (this.modprobeCommand === null) {
      return {
        ok: false,
        message: `${this.sysfs} is not a live sysfs (a captured tree): no module is loaded for it into the running kernel`,
      };
    }
    const [command, ...args] = this.modprobeCommand;
    // -b applies the modprobe.d blacklist to this load too: a blacklisted module exits 0 and
    // loads nothing, which the caller sees in /sys/module afterwards.
    const result = childProcess().spawnSync(command as string, [...args, "-b", checkName("module", module)], {
      encoding: "utf8",
      env: process.env.PATH ? process.env : { ...process.env, PATH: SBIN_PATH },
    });
    if (result.error) return { ok: false, message: `cannot run ${command}: ${result.error.message}` };
    if (result.status !== 0) {
      return {
        ok: false,
        message: (result.stderr || `${command} exited ${result.status}`).trim().split("\n")[0] as string,
      };
    }
    return { ok: true };
  }

  moduleLoaded(module: string): boolean {
    return existsSync(join(this.sysfs, "module", checkName("module", module)));
  }

  moduleDrivers(module: string): string[] {
    try {
      return readdirSync(join(this.sysfs, "module", checkName("module", module), "drivers"))
        .filter((entry) => entry.startsWith("pci:"))
        .map((entry) => entry.slice(4));
    } catch {
      return [];
    }
  }

  /**
   * module_add_driver's drivers/<driver>/module link; a capture that left module/ out records
   * the name in drivers/<driver>/.module, which the read side (host/sysfs.ts) reads too.
   */
  driverModule(driver: string): string | null {
    const dir = join(this.sysfs, "bus/pci/drivers", checkName("driver", driver));
    const linked = this.linkName(join(dir, "module"));
    if (linked !== null) return linked;
    let recorded: string;
    try {
      recorded = readRegularText(join(dir, ".module"), "attribute").trim();
    } catch {
      return null;
    }
    return MODULE_NAME.test(recorded) ? recorded : null;
  }

  driverRegistered(driver: string): boolean {
    return existsSync(join(this.sysfs, "bus/pci/drivers", checkName("driver", driver)));
  }

  /**
   * Every write stays inside the tree (writeInside): a captured tree may hold a link, as an
   * attribute or a driver's lever, to a file anywhere else, which root must not write through.
   */
  private write(path: string, text: string): void {
    try {
      writeInside(this.sysfs, path, text);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EACCES" || code === "EPERM") {
        throw new FlavourError(`cannot write ${path} (${code}): this needs root`, ExitCode.permission);
      }
      if (code === undefined) throw error;
      const why = code === "EXDEV" ? "it leads outside the tree, not written" : code;
      throw new SystemCallError(code, `writing '${text.trim()}' to ${path} failed: ${why}`);
    }
  }

  writeOverride(address: PciAddress, driver: string | null): void {
    this.write(
      this.devicePath(address, "driver_override"),
      driver === null ? "\n" : driver === HOLD_OVERRIDE ? driver : checkName("driver", driver),
    );
  }

  escapingWrites(address: PciAddress, drivers: readonly string[]): string[] {
    // a driver whose name cannot be a path component (a crafted tree's) has no lever to write
    const unnamable = drivers.filter((driver) => !NAME.test(driver) || driver.includes(".."));
    const levers = drivers
      .filter((driver) => !unnamable.includes(driver))
      .flatMap((driver) =>
        ["bind", "unbind"].map((lever) => join(this.sysfs, "bus/pci/drivers", driver, lever)),
      );
    const escaping = [
      this.devicePath(address, "driver_override"),
      join(this.sysfs, "bus/pci/drivers_probe"),
      ...levers,
    ].filter((path) => resolveInside(this.sysfs, path) === null);
    return [
      ...escaping,
      ...unnamable.map((driver) => join(this.sysfs, "bus/pci/drivers", printable(driver))),
    ];
  }

  unbind(address: PciAddress, driver: string): void {
    this.write(join(this.sysfs, "bus/pci/drivers", checkName("driver", driver), "unbind"), address);
  }

  bind(address: PciAddress, driver: string): void {
    this.write(join(this.sysfs, "bus/pci/drivers", checkName("driver", driver), "bind"), address);
  }

  probe(address: PciAddress): void {
    this.write(join(this.sysfs, "bus/pci/drivers_probe"), address);
  }

  vfioGroupNode(group: number): boolean {
    return existsSync(join(this.dev, "vfio", String(group)));
  }

  vfioOpenNodes(address: PciAddress): string[] {
    if (this.proc === null) return [];
    const nodes = this.vfioNodes(address);
    const open = this.openedOf(new Set(nodes), this.proc);
    return nodes.filter((node) => open.has(node));
  }

  /**
   * A device's vfio nodes: its group's /dev/vfio/<group> (the legacy group interface) and, for
   * iommufd users, the cdev /dev/vfio/devices/vfioN named by its vfio-dev/vfioN directory
   * (vfio_device_add).
   */
  private vfioNodes(address: PciAddress): string[] {
    const group = this.linkName(this.devicePath(address, "iommu_group"));
    const nodes = group === null ? [] : [join(this.dev, "vfio", group)];
    try {
      for (const name of readdirSync(this.devicePath(address, "vfio-dev")))
        if (/^vfio\d+$/.test(name)) nodes.push(join(this.dev, "vfio/devices", name));
    } catch {}
    return nodes;
  }

  /** Which of `paths` some process holds open (the targets of /proc/PID/fd/N). */
  private openedOf(paths: Set<string>, proc: string): Set<string> {
    const open = new Set<string>();
    if (paths.size === 0) return open;
    let pids: string[];
    try {
      pids = readdirSync(proc).filter((name) => /^\d+$/.test(name));
    } catch {
      return open;
    }
    for (const pid of pids) {
      const dir = join(proc, pid, "fd");
      let fds: string[];
      try {
        fds = readdirSync(dir);
      } catch {
        continue; // gone, or not ours to look at
      }
      for (const fd of fds) {
        try {
          const target = readlinkSync(join(dir, fd));
          if (paths.has(target)) open.add(target);
        } catch {}
      }
    }
    return open;
  }

  virtfns(pf: PciAddress): PciAddress[] {
    let entries: string[];
    try {
      entries = readdirSync(this.devicePath(pf));
    } catch {
      return [];
    }
    return entries
      .filter((name) => /^virtfn\d+$/.test(name))
      .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))
      .map((name) => this.addressLink(this.devicePath(pf, name)))
      .filter((a): a is PciAddress => a !== null);
  }

  sriovTotalVfs(pf: PciAddress): number | null {
    const text = this.read(this.devicePath(pf, "sriov_totalvfs"));
    return text !== undefined && /^\d{1,5}$/.test(text) ? Number(text) : null;
  }

  sriovAutoprobe(pf: PciAddress): boolean {
    return this.read(this.devicePath(pf, "sriov_drivers_autoprobe")) !== "0";
  }

  setSriovAutoprobe(pf: PciAddress, on: boolean): void {
    this.write(this.devicePath(pf, "sriov_drivers_autoprobe"), on ? "1" : "0");
  }

  setNumVfs(pf: PciAddress, count: number): void {
    this.write(this.devicePath(pf, "sriov_numvfs"), String(count));
  }

  pause(ms: number): void {
    sleep(ms);
  }

  lock(timeoutMs: number): () => void {
    return takeLock(this.lockPath, timeoutMs);
  }
}

interface Mount {
  /** major:minor of the mounted device (0:N for btrfs and other anonymous devices). */
  device: string;
  mountPoint: string;
  /** The mount source, e.g. /dev/nvme0n1p2. */
  source: string;
}

/** /proc/PID/mountinfo (proc(5)): ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - TYPE SOURCE ... */
function parseMountinfo(text: string): Mount[] {
  const decode = (field: string) =>
    field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
  return text
    .split("\n")
    .map((line) => line.split(" "))
    .filter((fields) => fields.indexOf("-", 6) > 0)
    .map((fields) => ({
      device: fields[2] as string,
      mountPoint: decode(fields[4] as string),
      source: decode(fields[fields.indexOf("-", 6) + 2] ?? ""),
    }));
}
