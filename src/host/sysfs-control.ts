// HostControl over a real sysfs (or a copy of one) with the system's modprobe. Every path is
// built from a validated PciAddress or a driver/module name checked against NAME below.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { ExitCode, FlavourError, InputError } from "../errors.ts";
import { isAddress, type PciAddress } from "../pci/address.ts";
import { formatModalias } from "../pci/modalias.ts";
import type { DeviceState, GroupMember, HostControl, ModprobeOutcome } from "./control.ts";
import { sleep, takeLock } from "./lock.ts";

/** Driver and module names that may appear in a path: no slash, no dot-dot. */
/**
 * Where modprobe is looked up when the environment has no PATH. udev runs RUN programs with
 * only the event's properties as their environment (systemd's udev_event_spawn), and without a
 * PATH Node looks in /usr/bin:/bin only, where Debian has no modprobe (/usr/sbin/modprobe): the
 * hook failed to load vfio-pci at boot until this.
 */
const SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:+-]*$/;

function checkName(kind: string, name: string): string {
  if (!NAME.test(name) || name.includes(".."))
    throw new FlavourError(`invalid ${kind} name '${name}'`, ExitCode.usage);
  return name;
}

export interface SysfsControlOptions {
  /** The sysfs root, default /sys. */
  sysfs?: string;
  /** Where /dev/vfio lives, default /dev. */
  dev?: string;
  /** /proc, for host-use checks; null to skip them (a captured tree has none). */
  proc?: string | null;
  /** The modprobe command and its leading arguments, e.g. ["modprobe", "-d", ROOT]. */
  modprobe?: string[];
  /** Lock file, default /run/lock/flavourctl.lock. */
  lockPath?: string;
}

export class SysfsControl implements HostControl {
  readonly description: string;
  private readonly sysfs: string;
  private readonly dev: string;
  private readonly proc: string | null;
  private readonly modprobeCommand: string[];
  private readonly lockPath: string;

  constructor(options: SysfsControlOptions = {}) {
    this.sysfs = options.sysfs ?? "/sys";
    this.dev = options.dev ?? "/dev";
    this.proc = options.proc === undefined ? "/proc" : options.proc;
    this.modprobeCommand = options.modprobe ?? ["modprobe"];
    this.lockPath = options.lockPath ?? "/run/lock/flavourctl.lock";
    this.description = this.sysfs;
  }

  private devicePath(address: PciAddress, ...rest: string[]): string {
    return join(this.sysfs, "bus/pci/devices", address, ...rest);
  }

  private read(path: string): string | undefined {
    try {
      return readFileSync(path, "latin1").trim();
    } catch {
      return undefined;
    }
  }

  private hex(address: PciAddress, attribute: string): number {
    const text = this.read(this.devicePath(address, attribute));
    const value = text === undefined ? Number.NaN : Number.parseInt(text, 16);
    if (!/^0x[0-9a-fA-F]+$/.test(text ?? "") || Number.isNaN(value)) {
      throw new InputError(
        `${this.devicePath(address, attribute)}: expected a hex number, got '${text ?? "(missing)"}'`,
      );
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
      const config = readFileSync(this.devicePath(address, "config"));
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
      classCode: Number.parseInt(this.read(this.devicePath(address, "class")) ?? "0", 16),
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
    const below = (classDir: string) => {
      try {
        return readdirSync(join(this.sysfs, "class", classDir)).filter((name) => {
          try {
            return realpathSync(join(this.sysfs, "class", classDir, name)).startsWith(`${device}/`);
          } catch {
            return false;
          }
        });
      } catch {
        return [];
      }
    };
    const mounts = this.read(join(this.proc, "mounts")) ?? "";
    const swaps = this.read(join(this.proc, "swaps")) ?? "";
    for (const disk of below("block")) {
      const pattern = new RegExp(`^/dev/${disk}(p?\\d+)?\\s+(\\S+)`, "m");
      const mounted = pattern.exec(mounts);
      if (mounted) uses.push(`block device ${mounted[0].split(/\s+/)[0]} is mounted on ${mounted[2]}`);
      if (new RegExp(`^/dev/${disk}(p?\\d+)?\\s`, "m").test(swaps))
        uses.push(`block device ${disk} holds swap`);
      try {
        const holders = readdirSync(join(this.sysfs, "class/block", disk, "holders"));
        if (holders.length > 0) uses.push(`block device ${disk} is held by ${holders.join(", ")}`);
      } catch {}
    }
    const routes = this.read(join(this.proc, "net/route")) ?? "";
    const inet6 = this.read(join(this.proc, "net/if_inet6")) ?? "";
    for (const netdev of below("net")) {
      const rows = routes.split("\n").filter((row) => row.split("\t")[0] === netdev);
      if (rows.some((row) => row.split("\t")[1] === "00000000"))
        uses.push(`network interface ${netdev} carries the default route`);
      else if (rows.length > 0) uses.push(`network interface ${netdev} has IPv4 routes`);
      // if_inet6: address ifindex prefixlen scope flags name; scope 20 is link-local.
      if (
        inet6
          .split("\n")
          .some((row) => row.trim().split(/\s+/)[5] === netdev && row.trim().split(/\s+/)[3] !== "20")
      ) {
        uses.push(`network interface ${netdev} has a global IPv6 address`);
      }
    }
    return uses;
  }

  modprobe(module: string): ModprobeOutcome {
    const [command, ...args] = this.modprobeCommand;
    // -b applies the modprobe.d blacklist to this load too: a blacklisted module exits 0 and
    // loads nothing, which the caller sees in /sys/module afterwards.
    const result = spawnSync(command as string, [...args, "-b", checkName("module", module)], {
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

  driverModule(driver: string): string | null {
    return this.linkName(join(this.sysfs, "bus/pci/drivers", checkName("driver", driver), "module"));
  }

  driverRegistered(driver: string): boolean {
    return existsSync(join(this.sysfs, "bus/pci/drivers", checkName("driver", driver)));
  }

  private write(path: string, text: string): void {
    try {
      writeFileSync(path, text);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EACCES" || code === "EPERM") {
        throw new FlavourError(`cannot write ${path} (${code}): this needs root`, ExitCode.permission);
      }
      throw new Error(`writing '${text.trim()}' to ${path} failed: ${code ?? (error as Error).message}`);
    }
  }

  writeOverride(address: PciAddress, driver: string | null): void {
    this.write(
      this.devicePath(address, "driver_override"),
      driver === null ? "\n" : checkName("driver", driver),
    );
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

  vfioGroupInUse(group: number): boolean {
    if (this.proc === null) return false;
    const node = join(this.dev, "vfio", String(group));
    let pids: string[];
    try {
      pids = readdirSync(this.proc).filter((name) => /^\d+$/.test(name));
    } catch {
      return false;
    }
    for (const pid of pids) {
      let fds: string[];
      try {
        fds = readdirSync(join(this.proc, pid, "fd"));
      } catch {
        continue; // gone, or not ours to look at
      }
      for (const fd of fds) {
        try {
          if (readlinkSync(join(this.proc, pid, "fd", fd)) === node) return true;
        } catch {}
      }
    }
    return false;
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
