// Helpers for the guest tests (test/kernel/guest/*.test.ts). These run INSIDE the QEMU guest
// started by test/kernel/run.sh, as root, against the real /sys of a real kernel: every write
// here goes to the guest's sysfs. They refuse to run anywhere else.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { release } from "node:os";
import { basename, join } from "node:path";
import { ModulesDir } from "../../../src/modules/modules-dir.ts";
import type { PciAddress } from "../../../src/pci/address.ts";
import type { PciDeviceId } from "../../../src/pci/id-entry.ts";
import { PCI_ANY_ID, type PciIds } from "../../../src/pci/ids.ts";

if (process.env.FLAVOURCTL_GUEST !== "1") {
  throw new Error("test/kernel/guest tests run only inside the QEMU guest: use npm run test:kernel");
}

export const SYS = "/sys/bus/pci";
export const modulesPath = `/lib/modules/${release()}`;
/** The guest's modules tree, read by the core exactly as flavourctl reads it. */
export const modules = new ModulesDir(modulesPath);
/** A directory that survives into the next boot (run.sh's phases). */
export const stateDir = process.env.FLAVOURCTL_KERNEL_STATE ?? "/run/results/state";

/** The virtio-9p devices carry the guest's root: never unbind them. */
export const NINE_P = { vendor: 0x1af4, device: 0x1009 };

export function read(path: string): string {
  return readFileSync(path, "latin1").trim();
}

export function write(path: string, text: string): void {
  writeFileSync(path, text);
}

/** The errno code a sysfs write fails with, or "ok". */
export function tryWrite(path: string, text: string): string {
  try {
    writeFileSync(path, text);
    return "ok";
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}

export const dev = (address: string, attribute = "") => join(SYS, "devices", address, attribute);

export function ids(address: string): PciIds {
  const hex = (attribute: string) => Number.parseInt(read(dev(address, attribute)), 16);
  return {
    vendor: hex("vendor"),
    device: hex("device"),
    subvendor: hex("subsystem_vendor"),
    subdevice: hex("subsystem_device"),
    classCode: hex("class"),
  };
}

export function addresses(): PciAddress[] {
  return readdirSync(join(SYS, "devices")).sort() as PciAddress[];
}

/** Devices with this vendor:device (and subsystem vendor, when given), in bus order. */
export function find(vendor: number, device: number, subvendor?: number): PciAddress[] {
  return addresses().filter((a) => {
    const i = ids(a);
    return (
      i.vendor === vendor && i.device === device && (subvendor === undefined || i.subvendor === subvendor)
    );
  });
}

/** The one device with these ids; throws naming them when there is not exactly one. */
export function one(vendor: number, device: number, subvendor?: number): PciAddress {
  const found = find(vendor, device, subvendor);
  if (found.length !== 1) {
    throw new Error(
      `expected one ${vendor.toString(16)}:${device.toString(16)} device in the guest, found ${found.length}`,
    );
  }
  return found[0] as PciAddress;
}

export function driverOf(address: string): string | null {
  try {
    return basename(readlinkSync(dev(address, "driver")));
  } catch {
    return null;
  }
}

export function overrideOf(address: string): string | null {
  const text = read(dev(address, "driver_override"));
  return text === "(null)" ? null : text;
}

export function groupOf(address: string): number {
  return Number(basename(readlinkSync(dev(address, "iommu_group"))));
}

export function headerType(address: string): number {
  return (readFileSync(dev(address, "config"))[0x0e] as number) & 0x7f;
}

/** The module that registered a driver (its `module` link), or null for some built-ins. */
export function moduleOfDriver(driver: string): string | null {
  try {
    return basename(readlinkSync(join(SYS, "drivers", driver, "module")));
  } catch {
    return null;
  }
}

export const moduleLoaded = (module: string) => existsSync(join("/sys/module", module));

export function unbind(address: string): void {
  const driver = driverOf(address);
  if (driver !== null) write(join(SYS, "drivers", driver, "unbind"), address);
}

export function setOverride(address: string, driver: string | null): void {
  write(dev(address, "driver_override"), driver === null ? "\n" : driver);
}

export function probe(address: string): void {
  write(join(SYS, "drivers_probe"), address);
}

/** driver_override, unbind, drivers_probe: the steps flavourctl takes, by hand. */
export function rebind(address: string, override: string | null): string | null {
  setOverride(address, override);
  unbind(address);
  probe(address);
  return waitForDriver(address);
}

/** Binding can be asynchronous: the driver link after it settles (up to `ms`). */
export function waitForDriver(address: string, expected?: string | null, ms = 3000): string | null {
  const end = Date.now() + ms;
  let driver = driverOf(address);
  while (Date.now() < end && (expected === undefined ? driver === null : driver !== expected)) {
    sleep(50);
    driver = driverOf(address);
  }
  return driver;
}

export function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function run(command: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function modprobe(...args: string[]): void {
  const result = run("modprobe", args);
  if (result.status !== 0) throw new Error(`modprobe ${args.join(" ")}: ${result.stderr.trim()}`);
}

/**
 * The packaged command, as an operator runs it: run.sh builds the Debian package
 * (scripts/package.sh) and guest.sh unpacks it into the guest's root before udevd starts, so
 * /usr/sbin/flavourctl (a link to /usr/lib/flavourctl/flavourctl.js, `#!/usr/bin/node`) and the
 * packaged udev rule are what every guest test runs.
 */
export const FLAVOURCTL = "/usr/sbin/flavourctl";

export function flavourctl(...args: string[]): { status: number; stdout: string; stderr: string } {
  return run(FLAVOURCTL, args);
}

/** The guest kernel's version is at least major.minor (`uname -r`). */
export function kernelAtLeast(major: number, minor: number): boolean {
  const [maj, min] = release().split(".").map(Number) as [number, number];
  return maj > major || (maj === major && min >= minor);
}

/**
 * The driver `set <virtio-blk> vfio` gives the thread's device (1af4:1042): virtio_vfio_pci has
 * it in its table since 6.15 (drivers/vfio/pci/virtio/main.c virtiovf_pci_table), generic
 * vfio-pci before.
 */
export const VIRTIO_BLK_VFIO_DRIVER = kernelAtLeast(6, 15) ? "virtio_vfio_pci" : "vfio-pci";

/**
 * A module's PCI id table as the core sees it, read back from its modules.alias lines (the
 * inverse of file2alias's do_pci_entry: `*` is PCI_ANY_ID, a class byte given means its mask
 * byte is 0xff). Patterns of any other shape are returned apart.
 */
export function idTableFromAliases(module: string): { entries: PciDeviceId[]; other: string[] } {
  const entries: PciDeviceId[] = [];
  const other: string[] = [];
  for (const line of aliasLines()) {
    if (line.module !== module) continue;
    const entry = entryFromPattern(line.pattern);
    if (entry) entries.push(entry);
    else if (/^(vfio_)?pci:/.test(line.pattern)) other.push(line.pattern);
  }
  return { entries, other };
}

let cachedAliasLines: { pattern: string; module: string }[] | undefined;
function aliasLines(): { pattern: string; module: string }[] {
  cachedAliasLines ??= read(join(modulesPath, "modules.alias"))
    .split("\n")
    .filter((l) => l.startsWith("alias "))
    .map((l) => {
      const [, pattern, module] = l.split(" ");
      return { pattern: pattern as string, module: module as string };
    });
  return cachedAliasLines;
}

const PATTERN =
  /^(pci|vfio_pci):v([0-9A-F]{8}|\*)d([0-9A-F]{8}|\*)sv([0-9A-F]{8}|\*)sd([0-9A-F]{8}|\*)bc([0-9A-F]{2}|\*)sc([0-9A-F]{2}|\*)i([0-9A-F]{2}|\*)\*?$/;

export function entryFromPattern(pattern: string): PciDeviceId | undefined {
  const m = PATTERN.exec(pattern);
  if (!m) return undefined;
  const id = (text: string) => (text === "*" ? PCI_ANY_ID : Number.parseInt(text, 16));
  const byte = (text: string) => (text === "*" ? [0, 0] : [Number.parseInt(text, 16), 0xff]);
  const [bc, bcMask] = byte(m[6] as string) as [number, number];
  const [sc, scMask] = byte(m[7] as string) as [number, number];
  const [pi, piMask] = byte(m[8] as string) as [number, number];
  return {
    vendor: id(m[2] as string),
    device: id(m[3] as string),
    subvendor: id(m[4] as string),
    subdevice: id(m[5] as string),
    classCode: (bc << 16) | (sc << 8) | pi,
    classMask: (bcMask << 16) | (scMask << 8) | piMask,
    driverData: 0,
    overrideOnly: m[1] === "vfio_pci",
  };
}

/** Endpoint devices the binding tests may move: header type 0, not the 9p root. */
export function movableEndpoints(): PciAddress[] {
  return addresses().filter((a) => {
    const i = ids(a);
    return headerType(a) === 0 && !(i.vendor === NINE_P.vendor && i.device === NINE_P.device);
  });
}
