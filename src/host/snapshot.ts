// A copy of the PCI part of a sysfs tree, laid out like /sys, that `--sysfs DEST` and
// `lspci -A linux-sysfs -O sysfs.path=DEST/bus/pci` both read: each device's attribute files,
// its driver/iommu_group/physfn/virtfnN links and vfio-dev/ entries; bus/pci/devices,
// bus/pci/drivers (bound devices, the module link, a capture's .module file),
// kernel/iommu_groups and the module/<m>/drivers/pci:<d> links that say which module
// registered which driver. Links are written relative, so the copy can be moved or packed.
//
// Reads only under the source. Every link followed is checked to stay inside it; files that
// are not attributes (BARs and ROM, mapped rather than read; vpd, slow on some devices) are
// left out. The copy is made in a sibling directory and renamed to DEST at the end, so an
// interrupted snapshot leaves no half-made DEST.
import {
  existsSync,
  lstatSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmdirSync,
  rmSync,
  type Stats,
  statSync,
} from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { InputError } from "../errors.ts";
import { isAddress, printable } from "../pci/address.ts";
import { fileType, readRegularFile, whyUnreadable } from "../safe-read.ts";
import {
  makeDirectory,
  makeLink,
  makeNewDirectory,
  moveIntoPlace,
  within,
  writeNewFile,
} from "../safe-write.ts";
import { isPathComponent } from "./sysfs.ts";

export interface SnapshotSummary {
  devices: number;
  drivers: number;
  groups: number;
  modules: number;
}

/** Device files that are not attributes to copy: BARs and ROM (mmap), vpd (slow), levers. */
const NOT_ATTRIBUTES =
  /^(resource\d+(_wc|_resize)?|rom|vpd|remove|rescan|reset|bind|unbind|new_id|remove_id|uevent)$/;
/** Links of a device directory that the readers use. */
const DEVICE_LINKS = /^(driver|iommu_group|physfn|virtfn\d+)$/;

export function snapshot(source: string, dest: string, warn: (message: string) => void): SnapshotSummary {
  const from = resolve(source);
  const to = resolve(dest);
  if (within(from, to)) {
    throw new InputError(`${dest}: inside the source tree ${source}; choose a destination elsewhere`);
  }
  if (existsSync(to) && (!lstatSync(to).isDirectory() || readdirSync(to).length > 0)) {
    throw new InputError(`${dest}: exists and is not an empty directory`);
  }
  // made here, exclusively, under a name no one can guess: nothing planted in it
  const work = makeNewDirectory(`${to}.partial-`);
  try {
    const summary = new Copier(from, work, warn).run();
    if (existsSync(to)) rmdirSync(to);
    moveIntoPlace(work, to);
    return summary;
  } catch (error) {
    rmSync(work, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === undefined) throw error;
    throw new InputError(`${dest}: cannot write the snapshot (${code}: ${(error as Error).message})`);
  }
}

class Copier {
  private readonly from: string;
  private readonly to: string;
  private readonly warn: (message: string) => void;
  private readonly modules = new Set<string>();
  private realFrom: string | undefined;

  constructor(from: string, to: string, warn: (message: string) => void) {
    this.from = from;
    this.to = to;
    this.warn = warn;
  }

  run(): SnapshotSummary {
    const devices = this.list("bus/pci/devices", true).filter((name) =>
      this.address(name, "bus/pci/devices"),
    );
    let copied = 0;
    for (const address of devices) if (this.device(address)) copied++;
    const drivers = this.list("bus/pci/drivers", false).filter(isPathComponent);
    for (const driver of drivers) this.driver(driver);
    const groups = this.list("kernel/iommu_groups", false).filter((name) => /^\d{1,9}$/.test(name));
    for (const group of groups) this.group(group);
    return { devices: copied, drivers: drivers.length, groups: groups.length, modules: this.modules.size };
  }

  private list(dir: string, required: boolean): string[] {
    try {
      return readdirSync(join(this.from, dir)).sort();
    } catch (error) {
      const message = `${join(this.from, dir)}: cannot list (${(error as NodeJS.ErrnoException).code})`;
      if (required) throw new InputError(`${message}: not a sysfs tree?`);
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") this.warn(message);
      return [];
    }
  }

  private address(name: string, where: string): boolean {
    if (isAddress(name)) return true;
    this.warn(`${join(this.from, where, printable(name))}: not a PCI address; left out`);
    return false;
  }

  /**
   * Where a link inside the source leads, when that stays inside the source — also once every
   * link on the way is resolved; else reported.
   */
  private follow(link: string): string | null {
    let target: string;
    try {
      target = readlinkSync(link);
    } catch {
      return null; // not a link
    }
    const path = resolve(dirname(link), target);
    let real: string | null = null;
    try {
      real = realpathSync.native(path);
    } catch {
      // dangling: copied as it is
    }
    this.realFrom ??= realpathSync.native(this.from);
    if (!within(this.from, path) || (real !== null && !within(this.realFrom, real))) {
      this.warn(`${link}: links outside ${this.from} (${printable(target)}); left out`);
      return null;
    }
    return path;
  }

  /** The copy's path for a source path. */
  private mirror(path: string): string {
    return join(this.to, relative(this.from, path));
  }

  /** A relative link at the copy of `link` to the copy of `target`. */
  private link(link: string, target: string): void {
    const at = this.mirror(link);
    makeDirectory(dirname(at));
    makeLink(relative(dirname(at), this.mirror(target)), at);
  }

  private device(address: string): boolean {
    const entry = join(this.from, "bus/pci/devices", address);
    const isLink = lstatSync(entry, { throwIfNoEntry: false })?.isSymbolicLink() ?? false;
    const followed = isLink ? this.follow(entry) : null;
    if (isLink && followed === null) return false; // reported
    const dir = followed ?? entry; // a copy made without links
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (error) {
      this.warn(`${address}: ${dir}: cannot list (${(error as NodeJS.ErrnoException).code}); left out`);
      return false;
    }
    makeDirectory(this.mirror(dir));
    if (followed) this.link(entry, dir);
    for (const name of names.sort()) {
      const path = join(dir, name);
      const stat = lstatSync(path, { throwIfNoEntry: false });
      if (!stat) continue;
      if (stat.isSymbolicLink()) {
        if (!DEVICE_LINKS.test(name)) {
          // sysfs links a device to directories (subsystem, firmware_node): one to a file was planted
          let to: Stats | undefined;
          try {
            to = statSync(path, { throwIfNoEntry: false });
          } catch {
            // a loop: not copied, as before
          }
          if (to && !to.isDirectory())
            this.warn(`${address}: ${path}: a link to ${fileType(to.mode)}; left out`);
          continue;
        }
        const target = this.follow(path);
        if (target) this.link(path, target);
      } else if (stat.isFile()) {
        if (NOT_ATTRIBUTES.test(name) || (stat.mode & 0o444) === 0) continue;
        this.attribute(address, path); // one over the attribute limit is said and left out
      } else if (stat.isDirectory()) {
        if (name !== "vfio-dev") continue;
        // vfio_pci_core registers vfio-dev/vfioN: its presence says a vfio driver holds the device.
        for (const child of readdirSync(path).filter(isPathComponent))
          makeDirectory(join(this.mirror(path), child));
        makeDirectory(this.mirror(path));
      } else {
        // sysfs has no FIFOs, sockets or device nodes: one was planted
        this.warn(`${address}: ${path}: ${fileType(stat.mode)}, not a regular file; left out`);
      }
    }
    return true;
  }

  /** Copies an attribute's bytes as read (config gives non-root 64 bytes, as lspci sees it). */
  private attribute(address: string, path: string): Buffer | null {
    let bytes: Buffer;
    try {
      bytes = readRegularFile(path, "attribute");
    } catch (error) {
      this.warn(`${address}: ${path}: ${whyUnreadable(error)}; left out`);
      return null;
    }
    writeNewFile(this.mirror(path), bytes);
    return bytes;
  }

  private driver(driver: string): void {
    const dir = join(this.from, "bus/pci/drivers", driver);
    makeDirectory(this.mirror(dir));
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (error) {
      this.warn(`${dir}: cannot list (${(error as NodeJS.ErrnoException).code})`);
      return;
    }
    for (const name of names.sort()) {
      const path = join(dir, name);
      if (isAddress(name)) {
        const target = this.follow(path);
        if (target) this.link(path, target);
      } else if (name === "module") {
        // module_add_driver (drivers/base/module.c): drivers/<d>/module → module/<m>, and
        // module/<m>/drivers/pci:<d> → the driver: the only record of which module it came from.
        const target = this.follow(path);
        const module = target && basename(target);
        if (!target || !module || !isPathComponent(module)) continue;
        makeDirectory(this.mirror(target));
        this.link(path, target);
        this.link(join(target, "drivers", `pci:${driver}`), dir);
        this.modules.add(module);
      } else if (name === ".module") {
        // A capture's record of the module (see SysfsHost.driverModule).
        const module = this.attribute(driver, path)?.toString("latin1").trim();
        if (module) this.modules.add(module);
      }
    }
  }

  private group(group: string): void {
    const dir = join(this.from, "kernel/iommu_groups", group);
    makeDirectory(join(this.mirror(dir), "devices"));
    for (const name of this.list(join("kernel/iommu_groups", group, "devices"), false)) {
      if (!this.address(name, join("kernel/iommu_groups", group, "devices"))) continue;
      const path = join(dir, "devices", name);
      const target = this.follow(path);
      if (target) this.link(path, target);
    }
    for (const name of ["type", "reserved_regions"]) {
      if (lstatSync(join(dir, name), { throwIfNoEntry: false })?.isFile())
        this.attribute(group, join(dir, name));
    }
  }
}
