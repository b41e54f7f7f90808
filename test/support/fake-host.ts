// A small in-memory HostControl for unit tests of the policy (plans, rollback, rules, hook,
// vfs). It follows the driver-core rules the policy depends on — driver_override, unbind,
// drivers_probe binding the first registered matching driver, vfio-dev for vfio drivers — and
// nothing more. Claims about Linux are proven on the simulated and the real kernel, not here.
import type { DeviceState, GroupMember, HostControl, ModprobeOutcome } from "../../src/host/control.ts";
import type { PciAddress } from "../../src/pci/address.ts";
import { formatModalias } from "../../src/pci/modalias.ts";

export interface FakeDriver {
  name: string;
  module: string;
  /** Which devices the driver's id table takes. */
  matches: (device: FakeDevice) => boolean;
  vfio?: boolean;
  /** Probe fails (returns an error) for these addresses. */
  failsOn?: Set<string>;
}

export interface FakeDevice {
  address: PciAddress;
  vendor: number;
  device: number;
  classCode: number;
  driver: string | null;
  override: string | null;
  group: number;
  physfn?: PciAddress;
  headerType?: number;
}

export class FakeHost implements HostControl {
  readonly description = "fake host";
  readonly devices = new Map<string, FakeDevice>();
  /** Modules that can be loaded, with the drivers they register. */
  readonly available = new Map<string, FakeDriver[]>();
  readonly loaded = new Set<string>();
  readonly blacklisted = new Set<string>();
  /** Every bind, in order: the history a test can check. */
  readonly binds: string[] = [];
  readonly writes: string[] = [];
  failWrites = false;
  private locked = false;
  autoprobe = new Map<string, boolean>();
  vfCounts = new Map<string, number>();

  addDevice(device: Omit<FakeDevice, "override"> & { override?: string | null }): void {
    this.devices.set(device.address, { override: null, ...device });
    if (device.driver) this.binds.push(`${device.address}:${device.driver}`);
  }

  private registered(): FakeDriver[] {
    return [...this.loaded].flatMap((m) => this.available.get(m) ?? []);
  }

  private get(address: string): FakeDevice {
    const device = this.devices.get(address);
    if (!device) throw new Error(`no device ${address}`);
    return device;
  }

  addresses(): PciAddress[] {
    return [...this.devices.keys()].sort() as PciAddress[];
  }

  device(address: PciAddress): DeviceState {
    const d = this.get(address);
    const ids = {
      vendor: d.vendor,
      device: d.device,
      subvendor: d.vendor,
      subdevice: 0,
      classCode: d.classCode,
    };
    return {
      address,
      ids,
      modalias: formatModalias(ids),
      driver: d.driver,
      driverOverride: d.override,
      iommuGroup: d.group,
      headerType: d.headerType ?? 0,
      sriovNumVfs: this.vfCounts.get(address) ?? 0,
      physfn: d.physfn ?? null,
      vfioDevice: d.driver !== null && (this.registered().find((r) => r.name === d.driver)?.vfio ?? false),
    };
  }

  groupMembers(group: number): GroupMember[] {
    return [...this.devices.values()]
      .filter((d) => d.group === group)
      .map((d) => ({
        address: d.address,
        driver: d.driver,
        headerType: d.headerType ?? 0,
        classCode: d.classCode,
      }));
  }

  hostUses(): string[] {
    return [];
  }

  modprobe(module: string): ModprobeOutcome {
    if (!this.available.has(module))
      return { ok: false, message: `modprobe: FATAL: Module ${module} not found` };
    if (this.blacklisted.has(module)) return { ok: true }; // modprobe -b: exit 0, nothing loaded
    this.loaded.add(module);
    // driver_attach: a newly registered driver tries the unbound devices it matches.
    for (const driver of this.available.get(module) ?? []) {
      for (const device of this.devices.values()) {
        const matches = device.override !== null ? device.override === driver.name : driver.matches(device);
        if (device.driver === null && matches) this.attachTo(device, driver);
      }
    }
    return { ok: true };
  }

  moduleLoaded(module: string): boolean {
    return this.loaded.has(module);
  }

  moduleDrivers(module: string): string[] {
    return this.loaded.has(module) ? (this.available.get(module) ?? []).map((d) => d.name) : [];
  }

  driverModule(driver: string): string | null {
    return this.registered().find((d) => d.name === driver)?.module ?? null;
  }

  driverRegistered(driver: string): boolean {
    return this.registered().some((d) => d.name === driver);
  }

  private write(what: string): void {
    if (this.failWrites) throw new Error(`writing ${what} failed: EIO`);
    this.writes.push(what);
  }

  writeOverride(address: PciAddress, driver: string | null): void {
    this.write(`${address}/driver_override=${driver ?? "\\n"}`);
    this.get(address).override = driver;
  }

  unbind(address: PciAddress, driver: string): void {
    const device = this.get(address);
    if (device.driver !== driver) throw new Error(`unbind ${address} from ${driver}: ENODEV`);
    this.write(`${driver}/unbind=${address}`);
    device.driver = null;
  }

  bind(address: PciAddress, driver: string): void {
    const device = this.get(address);
    const found = this.registered().find((d) => d.name === driver);
    if (!found || device.driver !== null) throw new Error(`bind ${address} to ${driver}: ENODEV`);
    if (!this.attachTo(device, found)) throw new Error(`bind ${address} to ${driver}: probe failed`);
  }

  probe(address: PciAddress): void {
    this.write(`drivers_probe=${address}`);
    const device = this.get(address);
    if (device.driver === null) this.attach(device);
  }

  /** __device_attach: the first registered driver that matches and probes successfully. */
  private attach(device: FakeDevice): void {
    for (const driver of this.registered()) {
      const matches = device.override !== null ? device.override === driver.name : driver.matches(device);
      if (matches && this.attachTo(device, driver)) return;
    }
  }

  private attachTo(device: FakeDevice, driver: FakeDriver): boolean {
    if (driver.failsOn?.has(device.address)) return false;
    device.driver = driver.name;
    this.binds.push(`${device.address}:${driver.name}`);
    return true;
  }

  vfioGroupNode(): boolean {
    return true;
  }

  vfioGroupInUse(): boolean {
    return false;
  }

  virtfns(pf: PciAddress): PciAddress[] {
    return [...this.devices.values()].filter((d) => d.physfn === pf).map((d) => d.address);
  }

  sriovAutoprobe(pf: PciAddress): boolean {
    return this.autoprobe.get(pf) ?? true;
  }

  setSriovAutoprobe(pf: PciAddress, on: boolean): void {
    this.autoprobe.set(pf, on);
  }

  setNumVfs(pf: PciAddress, count: number): void {
    const parent = this.get(pf);
    for (const vf of this.virtfns(pf)) this.devices.delete(vf);
    this.vfCounts.set(pf, count);
    for (let i = 0; i < count; i++) {
      const address = `${pf.slice(0, 10)}.${i + 1}` as PciAddress;
      this.devices.set(address, {
        address,
        vendor: parent.vendor,
        device: parent.device,
        classCode: parent.classCode,
        driver: null,
        override: null,
        group: 100 + i,
        physfn: pf,
      });
      if (this.sriovAutoprobe(pf)) this.attach(this.get(address));
    }
  }

  pause(): void {}

  lock(): () => void {
    if (this.locked) throw new Error("lock taken twice");
    this.locked = true;
    return () => {
      this.locked = false;
    };
  }
}
