// One simulated machine: the kernel, userspace udev and modprobe, wired together; booted from
// its spec, or restored from saved state so that successive CLI runs see one machine.
import type { ModulesDir } from "../../modules/modules-dir.ts";
import type { PciAddress } from "../../pci/address.ts";
import type { PciDeviceId } from "../../pci/id-entry.ts";
import { formatModalias } from "../../pci/modalias.ts";
import type { Fault } from "./faults.ts";
import { SimKernel } from "./kernel.ts";
import type { DeviceSpec, MachineSpec, SriovSpec } from "./machine-format.ts";
import type { SimDevice } from "./model.ts";
import { SimModprobe } from "./modprobe.ts";
import { writeSysfs } from "./sysfs.ts";
import { SimUdev } from "./udev.ts";

export interface MachineState {
  format: "flavourctl-machine-state/1";
  machine: string;
  now: number;
  seqnum: number;
  rng: number;
  driversAutoprobe: boolean;
  hookRuleInstalled: boolean;
  /** Loaded modules in load order (built-ins included). */
  modules: string[];
  dynamicIds: Record<string, PciDeviceId[]>;
  devices: SavedDevice[];
  ownedGroups: number[];
  deferred: string[];
  /** Functions removed through `remove`, found again by a rescan. */
  removed: DeviceSpec[];
  faults: Fault[];
}

interface SavedDevice {
  address: PciAddress;
  ids: SimDevice["ids"];
  revision: number;
  headerType: number;
  parent: PciAddress | null;
  iommuGroup: number | null;
  name: string | null;
  driver: string | null;
  driverOverride: string | null;
  flavour: string | null;
  physfn: PciAddress | null;
  sriov: { spec: SriovSpec; numVfs: number; driversAutoprobe: boolean; vfs: PciAddress[] } | null;
  vfioMinor: number | null;
}

/** One step of a saved state's journal: the global part, the devices that changed, those gone. */
export interface MachineChanges extends Omit<MachineState, "devices"> {
  devices: SavedDevice[];
  gone: PciAddress[];
  /** Every present device in bus order, when devices came or went; null when none did. */
  busOrder: PciAddress[] | null;
}

function savedDevice(d: SimDevice): SavedDevice {
  return { ...d, driver: d.driver?.name ?? null, order: undefined } as SavedDevice;
}

/**
 * A saved state with its journal's steps applied in order. Linear in the state and the steps.
 * Throws when a step names a device the state does not have in its bus order (a damaged journal).
 */
export function replayChanges(state: MachineState, steps: readonly MachineChanges[]): MachineState {
  if (steps.length === 0) return state;
  const byAddress = new Map(state.devices.map((d) => [d.address, d]));
  let busOrder: PciAddress[] = state.devices.map((d) => d.address);
  for (const step of steps) {
    for (const address of step.gone) byAddress.delete(address);
    for (const d of step.devices) byAddress.set(d.address, d);
    if (step.busOrder !== null) busOrder = step.busOrder;
  }
  const devices = busOrder.map((address) => {
    const d = byAddress.get(address);
    if (d === undefined) throw new Error(`device ${address} is in the bus order but was never saved`);
    return d;
  });
  if (devices.length !== byAddress.size) throw new Error("a saved device is missing from the bus order");
  const { devices: _d, gone: _g, busOrder: _b, ...globals } = steps[steps.length - 1] as MachineChanges;
  return { ...globals, devices };
}

export class SimMachine {
  readonly kernel: SimKernel;
  readonly modprobe: SimModprobe;
  readonly udev: SimUdev;

  readonly spec: MachineSpec;
  readonly modules: ModulesDir;

  constructor(spec: MachineSpec, modules: ModulesDir, seed = 1) {
    this.spec = spec;
    this.modules = modules;
    this.kernel = new SimKernel(spec);
    this.modprobe = new SimModprobe(this.kernel, modules);
    this.udev = new SimUdev(this.kernel, this.modprobe, seed);
    this.kernel.onUevent = (event) => {
      if (this.udev.handles(event.action, event.vars.SUBSYSTEM as string)) this.udev.queue.push(event);
    };
    this.kernel.listensTo = (action, subsystem) => this.udev.handles(action, subsystem);
  }

  /** Power on: built-ins register, devices are enumerated, coldplug events run through udev. */
  boot(): this {
    this.kernel.boot();
    this.udev.settle();
    return this;
  }

  /** `echo VALUE > PATH`, then `udevadm settle`. */
  write(path: string, value: string): void {
    try {
      writeSysfs(this.kernel, path, value);
    } finally {
      this.udev.settle();
    }
  }

  /** A device appears (hotplug), then udev settles. */
  hotplug(spec: Parameters<SimKernel["addDevice"]>[0]): void {
    this.kernel.addDevice(spec);
    this.udev.settle();
  }

  save(): MachineState {
    return { ...this.savedGlobals(), devices: [...this.kernel.devices.values()].map(savedDevice) };
  }

  /**
   * What changed since the last call (or since the kernel was made): the machine's small
   * global part whole, and only the devices that may have changed, so that saving after each
   * change costs what the change touched, not the whole bus (`replayChanges` puts it together).
   */
  changes(): MachineChanges {
    const { addresses, membership } = this.kernel.takeChanges();
    const devices: SavedDevice[] = [];
    const gone: PciAddress[] = [];
    for (const address of addresses) {
      const d = this.kernel.devices.get(address);
      if (d) devices.push(savedDevice(d));
      else gone.push(address);
    }
    return {
      ...this.savedGlobals(),
      devices,
      gone,
      busOrder: membership ? [...this.kernel.devices.keys()] : null,
    };
  }

  private savedGlobals(): Omit<MachineState, "devices"> {
    const k = this.kernel;
    return {
      format: "flavourctl-machine-state/1",
      machine: this.spec.name,
      now: k.now,
      seqnum: k.seqnum,
      rng: this.udev.rng,
      driversAutoprobe: k.driversAutoprobe,
      hookRuleInstalled: this.udev.hookRuleInstalled,
      modules: [...new Set([...k.drivers.values()].map((d) => d.module))].concat(
        [...k.modules.values()]
          .filter((m) => m.loaded && m.spec.drivers.length === 0)
          .map((m) => m.spec.name),
      ),
      dynamicIds: Object.fromEntries(
        [...k.drivers.values()].filter((d) => d.dynamicIds.length > 0).map((d) => [d.name, d.dynamicIds]),
      ),
      ownedGroups: [...k.ownedGroups],
      deferred: [...k.deferred],
      removed: [...k.removed.values()],
      faults: k.faults.list,
    };
  }

  /** The machine as a saved state left it (no boot, no events). */
  restore(state: MachineState): this {
    const k = this.kernel;
    k.now = state.now;
    k.seqnum = state.seqnum;
    this.udev.rng = state.rng;
    k.driversAutoprobe = state.driversAutoprobe;
    this.udev.hookRuleInstalled = state.hookRuleInstalled;
    // keyed by driver names from the machine file: a Map, so `constructor` is a name like another
    const dynamicIds = new Map(Object.entries(state.dynamicIds));
    for (const m of state.modules) k.adoptModule(m, dynamicIds);
    for (const saved of state.devices) {
      const driver = saved.driver === null ? null : (k.drivers.get(saved.driver) ?? null);
      k.adopt({ ...saved, driver, order: 0, modalias: formatModalias(saved.ids) });
    }
    for (const g of state.ownedGroups) k.ownedGroups.add(g);
    for (const a of state.deferred) k.deferred.add(a as PciAddress);
    for (const f of state.faults) k.faults.add(f);
    for (const spec of state.removed ?? []) k.removed.set(spec.address, spec);
    return this;
  }
}
