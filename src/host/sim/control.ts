// The simulated machine behind HostControl, the levers flavourctl pulls (read-host.ts gives
// the read side, Host). Every lever is a sysfs write by path, followed by udev
// settling, exactly as on a real machine; `persist` runs after each change (the state file of
// a named machine, so the next CLI run sees the same machine).
import { ExitCode, FlavourError, SystemCallError } from "../../errors.ts";
import type { PciAddress } from "../../pci/address.ts";
import { formatModalias } from "../../pci/modalias.ts";
import type { DeviceState, GroupMember, HostControl, ModprobeOutcome } from "../control.ts";
import { KernelError } from "./kernel.ts";
import type { SimMachine } from "./machine.ts";

export interface SimControlOptions {
  /** Called after every change (saves the machine's state). */
  persist?: () => void;
  /** Takes the machine's lock (a file beside its state); none for in-memory machines. */
  lock?: (timeoutMs: number) => () => void;
}

export class SimControl implements HostControl {
  readonly description: string;

  readonly machine: SimMachine;
  private readonly options: SimControlOptions;

  constructor(machine: SimMachine, options: SimControlOptions = {}) {
    this.machine = machine;
    this.options = options;
    this.description = `simulated machine ${machine.spec.name}`;
  }

  private get kernel() {
    return this.machine.kernel;
  }

  private known(address: PciAddress) {
    const d = this.kernel.devices.get(address);
    if (!d) throw new FlavourError(`no PCI device ${address} on the ${this.description}`, ExitCode.usage);
    return d;
  }

  private write(path: string, value: string): void {
    try {
      this.machine.write(path, value);
    } catch (error) {
      if (error instanceof KernelError)
        throw new SystemCallError(error.code, `writing '${value.trim()}' to ${path} failed: ${error.code}`);
      throw error;
    } finally {
      this.options.persist?.();
    }
  }

  addresses(): PciAddress[] {
    return [...this.kernel.devices.keys()].sort();
  }

  device(address: PciAddress): DeviceState {
    const d = this.known(address);
    return {
      address,
      ids: { ...d.ids },
      modalias: formatModalias(d.ids),
      driver: d.driver?.name ?? null,
      driverOverride: d.driverOverride,
      iommuGroup: d.iommuGroup,
      headerType: d.headerType,
      sriovNumVfs: d.sriov?.numVfs ?? 0,
      physfn: d.physfn,
      vfioDevice: d.vfioMinor !== null,
    };
  }

  groupMembers(group: number): GroupMember[] {
    return this.kernel.groupMembers(group).map((d) => ({
      address: d.address,
      driver: d.driver?.name ?? null,
      headerType: d.headerType,
    }));
  }

  hostUses(): string[] {
    return [];
  }

  modprobe(module: string): ModprobeOutcome {
    try {
      const run = this.machine.modprobe.run(module, { blacklist: true });
      this.machine.udev.settle();
      return run.ok ? { ok: true } : { ok: false, message: run.message };
    } finally {
      this.options.persist?.();
    }
  }

  moduleLoaded(module: string): boolean {
    return this.kernel.modules.get(module)?.loaded === true;
  }

  moduleDrivers(module: string): string[] {
    const m = this.kernel.modules.get(module);
    if (!m?.loaded) return [];
    return m.spec.drivers.map((d) => d.name);
  }

  driverModule(driver: string): string | null {
    return this.kernel.drivers.get(driver)?.module ?? null;
  }

  driverRegistered(driver: string): boolean {
    return this.kernel.drivers.has(driver);
  }

  /** The simulated sysfs has no links to plant. */
  escapingWrites(): string[] {
    return [];
  }

  writeOverride(address: PciAddress, driver: string | null): void {
    this.write(`/sys/bus/pci/devices/${address}/driver_override`, driver === null ? "\n" : driver);
  }

  unbind(address: PciAddress, driver: string): void {
    this.write(`/sys/bus/pci/drivers/${driver}/unbind`, address);
  }

  bind(address: PciAddress, driver: string): void {
    this.write(`/sys/bus/pci/drivers/${driver}/bind`, address);
  }

  probe(address: PciAddress): void {
    this.write("/sys/bus/pci/drivers_probe", address);
  }

  vfioGroupNode(group: number): boolean {
    return this.kernel.vfioGroupNode(group);
  }

  /** The simulated VM holds a device through its group: `open-vfio-group` in a scenario. */
  vfioOpenNodes(address: PciAddress): string[] {
    const group = this.known(address).iommuGroup;
    return group !== null && this.kernel.ownedGroups.has(group) ? [`/dev/vfio/${group}`] : [];
  }

  virtfns(pf: PciAddress): PciAddress[] {
    return [...(this.known(pf).sriov?.vfs ?? [])];
  }

  sriovTotalVfs(pf: PciAddress): number | null {
    return this.known(pf).sriov?.spec.totalVfs ?? null;
  }

  sriovAutoprobe(pf: PciAddress): boolean {
    return this.known(pf).sriov?.driversAutoprobe ?? true;
  }

  setSriovAutoprobe(pf: PciAddress, on: boolean): void {
    this.write(`/sys/bus/pci/devices/${pf}/sriov_drivers_autoprobe`, on ? "1" : "0");
  }

  setNumVfs(pf: PciAddress, count: number): void {
    this.write(`/sys/bus/pci/devices/${pf}/sriov_numvfs`, String(count));
  }

  /** Simulated time passes (slow probes complete); no real waiting. */
  pause(ms: number): void {
    this.kernel.advance(ms);
    this.machine.udev.settle();
    this.options.persist?.();
  }

  /**
   * The machine's lock. Re-entrant: udev runs flavourctl's hook inside the command whose write
   * caused the event (one process here; on a real host a udev worker that waits for the lock),
   * and waiting for our own lock would only time out (`sim write … rescan` with rules hung 30 s
   * and exited 5). While this process holds it, an inner take is a no-op.
   */
  lock(timeoutMs: number): () => void {
    if (this.held > 0 || !this.options.lock) {
      this.held++;
      return once(() => this.held--);
    }
    const release = this.options.lock(timeoutMs);
    this.held = 1;
    return once(() => {
      this.held = 0;
      release();
    });
  }

  private held = 0;
}

function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      f();
    }
  };
}
