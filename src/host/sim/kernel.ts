// The simulated kernel: the PCI core and the driver core's binding rules, with the functions
// of drivers/base/dd.c, bus.c and drivers/pci/{pci-driver,iov}.c cited where they decide.
// Matching is pci_match_device (src/pci/id-entry.ts); there is no second matcher here.
import type { PciAddress } from "../../pci/address.ts";
import { matchDevice, type PciDeviceId } from "../../pci/id-entry.ts";
import { formatModalias } from "../../pci/modalias.ts";
import { FaultSet } from "./faults.ts";
import { DeviceIndex, IdIndex } from "./index.ts";
import { type DeviceSpec, type MachineSpec, type ModuleSpec, vfAddress } from "./machine-format.ts";
import { hex4, type SimDevice, type SimDriver, type SimModule } from "./model.ts";
import { Trace } from "./trace.ts";

/** A failed write or call, carrying the errno the kernel would return. */
export class KernelError extends Error {
  readonly code: string;
  constructor(code: string, what: string) {
    super(`${what}: ${code} (${STRERROR[code] ?? "error"})`);
    this.code = code;
  }
}

const STRERROR: Record<string, string> = {
  ENODEV: "No such device",
  ENOENT: "No such file or directory",
  EBUSY: "Device or resource busy",
  EINVAL: "Invalid argument",
  EEXIST: "File exists",
  EIO: "Input/output error",
  ENXIO: "No such device or address",
  EAGAIN: "Resource temporarily unavailable",
  ERANGE: "Numerical result out of range",
  EPERM: "Operation not permitted",
  ENOMEM: "Cannot allocate memory",
  EACCES: "Permission denied",
};

export interface Uevent {
  action: "add" | "remove" | "bind" | "unbind" | "change";
  devpath: string;
  vars: Record<string, string>;
}

const VF_GROUP_START = 1000;

export class SimKernel {
  readonly spec: MachineSpec;
  readonly devices = new Map<PciAddress, SimDevice>();
  /** The bus's driver list, in registration order. */
  readonly drivers = new Map<string, SimDriver>();
  readonly modules = new Map<string, SimModule>();
  /** /sys/bus/pci/drivers_autoprobe. */
  driversAutoprobe = true;
  readonly faults = new FaultSet();
  readonly trace = new Trace();
  /** Simulated time, microseconds. */
  now = 0;
  seqnum = 0;
  /** Where uevents go (the udev model's queue). */
  onUevent: (event: Uevent) => void = () => {};
  /** Which uevents a listener has a rule for; the others are only traced (and skipped when the trace is off). */
  listensTo: (action: Uevent["action"], subsystem: string) => boolean = () => true;
  /** IOMMU groups whose DMA userspace owns (a process opened /dev/vfio/N: iommu_group_claim_dma_owner). */
  readonly ownedGroups = new Set<number>();
  /** driver_deferred_probe_add: devices whose probe asked to be retried, in order. */
  readonly deferred = new Set<PciAddress>();
  private nextVfioMinor = 0;
  private deviceOrder = 0;
  private driverOrder = 0;
  private readonly driverIndex = new IdIndex<SimDriver>();
  private readonly deviceIndex = new DeviceIndex<SimDevice>();
  /** Devices whose state may have changed since `takeChanges` (the saved state's journal writes only these). */
  private readonly changed = new Set<PciAddress>();
  /** A device was added or removed since `takeChanges`: the bus order is saved again. */
  private membershipChanged = false;
  /** The devices of each IOMMU group (iommu_group's own device list): no scan of the bus per group. */
  private readonly groups = new Map<number, Set<SimDevice>>();
  private readonly overridden = new Set<SimDevice>();
  private retryingDeferred = false;

  constructor(spec: MachineSpec) {
    this.spec = spec;
    for (const m of spec.modules) this.modules.set(m.name, { spec: m, loaded: false });
  }

  /** A kernel log line; a function is called only when the trace is on (scale runs skip the formatting). */
  log(text: string | (() => string)): void {
    this.now += 1;
    if (this.trace.enabled)
      this.trace.push({ t: this.now, source: "kernel", text: typeof text === "string" ? text : text() });
  }

  // ---- devices -------------------------------------------------------------------------

  device(address: PciAddress): SimDevice {
    const d = this.devices.get(address);
    if (!d) throw new KernelError("ENODEV", address);
    return d;
  }

  modalias(d: SimDevice): string {
    return d.modalias;
  }

  devpath(d: SimDevice): string {
    const chain: string[] = [d.address];
    for (let p = d.parent; p !== null; p = this.devices.get(p)?.parent ?? null) chain.unshift(p);
    return `/devices/pci${(chain[0] as string).slice(0, 7)}/${chain.join("/")}`;
  }

  /** pci_uevent + dev_uevent: the variables of a PCI device's uevent. */
  private emit(action: Uevent["action"], d: SimDevice, extra: Record<string, string> = {}): void {
    this.changed.add(d.address);
    if (!this.trace.enabled) {
      this.now += 1;
      this.seqnum += 1;
      // Untraced (scale runs): only what udev's rules read, and only for events it handles.
      if (this.listensTo(action, "pci"))
        this.onUevent({
          action,
          devpath: d.address,
          vars: { SUBSYSTEM: "pci", PCI_SLOT_NAME: d.address, MODALIAS: this.modalias(d), ...extra },
        });
      return;
    }
    const vars: Record<string, string> = {
      ACTION: action,
      DEVPATH: this.devpath(d),
      SUBSYSTEM: "pci",
      ...(d.driver ? { DRIVER: d.driver.name } : {}),
      PCI_CLASS: d.ids.classCode.toString(16).toUpperCase(),
      PCI_ID: `${hex4(d.ids.vendor)}:${hex4(d.ids.device)}`,
      PCI_SUBSYS_ID: `${hex4(d.ids.subvendor)}:${hex4(d.ids.subdevice)}`,
      PCI_SLOT_NAME: d.address,
      MODALIAS: this.modalias(d),
      ...extra,
    };
    this.emitRaw(action, vars.DEVPATH as string, vars);
  }

  private emitRaw(action: Uevent["action"], devpath: string, vars: Record<string, string>): void {
    this.now += 1;
    if (!this.trace.enabled && !this.listensTo(action, vars.SUBSYSTEM as string)) {
      this.seqnum += 1;
      return;
    }
    vars.SEQNUM = String(++this.seqnum);
    this.trace.push({
      t: this.now,
      source: "uevent",
      text: `KERNEL ${action.padEnd(7)} ${devpath} (${vars.SUBSYSTEM})`,
      vars,
    });
    this.onUevent({ action, devpath, vars });
  }

  /** device_add: the device joins the bus list, KOBJ_ADD is sent, then bus_probe_device. */
  addDevice(spec: DeviceSpec): SimDevice {
    if (this.devices.has(spec.address)) throw new KernelError("EEXIST", spec.address);
    const d: SimDevice = {
      address: spec.address,
      ids: {
        vendor: spec.vendor,
        device: spec.device,
        subvendor: spec.subvendor,
        subdevice: spec.subdevice,
        classCode: spec.classCode,
      },
      modalias: "",
      revision: spec.revision,
      headerType: spec.headerType,
      parent: spec.parent,
      iommuGroup: spec.iommuGroup,
      name: spec.name,
      order: this.deviceOrder++,
      driver: null,
      driverOverride: null,
      flavour: null,
      physfn: spec.physfn,
      sriov: spec.sriov
        ? { spec: spec.sriov, numVfs: 0, driversAutoprobe: spec.sriov.driversAutoprobe, vfs: [] }
        : null,
      vfioMinor: null,
    };
    d.modalias = formatModalias(d.ids);
    this.devices.set(d.address, d);
    this.deviceIndex.add(d);
    this.joinGroup(d);
    this.membershipChanged = true;
    const pfSriov = d.physfn ? this.devices.get(d.physfn)?.sriov : undefined;
    if (pfSriov) {
      this.changed.add(d.physfn as PciAddress);
      pfSriov.vfs.push(d.address);
      pfSriov.numVfs = pfSriov.vfs.length;
    }
    this.log(
      () =>
        `pci ${d.address}: [${d.ids.vendor.toString(16).padStart(4, "0")}:${d.ids.device.toString(16).padStart(4, "0")}] type ${hex2(d.headerType)} class 0x${d.ids.classCode.toString(16).padStart(6, "0")}${d.physfn ? ` (VF of ${d.physfn})` : ""}`,
    );
    this.emit("add", d);
    if (this.driversAutoprobe) this.deviceAttach(d, true);
    return d;
  }

  /**
   * Functions removed through their `remove` attribute: the hardware is still there, so a write
   * to /sys/bus/pci/rescan finds them again (pci_rescan_bus). VFs are not: their PF makes them.
   */
  readonly removed = new Map<PciAddress, DeviceSpec>();

  /** remove_store: the device goes, and comes back on a rescan. */
  removeByUser(address: PciAddress): void {
    const d = this.device(address);
    const gone = [d, ...[...this.devices.values()].filter((x) => this.isBelow(x, address))];
    for (const x of gone) if (!x.physfn) this.removed.set(x.address, specOf(x));
    for (const x of gone.reverse()) if (this.devices.has(x.address)) this.removeDevice(x.address);
  }

  private isBelow(d: SimDevice, bridge: PciAddress): boolean {
    for (let p = d.parent; p !== null; p = this.devices.get(p)?.parent ?? null) if (p === bridge) return true;
    return false;
  }

  /** rescan_store: removed functions whose bridge is present are enumerated again, in bus order. */
  rescan(): void {
    for (const address of [...this.removed.keys()].sort()) {
      const spec = this.removed.get(address) as DeviceSpec;
      if (spec.parent !== null && !this.devices.has(spec.parent)) continue;
      this.removed.delete(address);
      this.addDevice(spec);
    }
  }

  /** pci_stop_and_remove_bus_device: VFs first, the driver released, KOBJ_REMOVE. */
  removeDevice(address: PciAddress): void {
    const d = this.device(address);
    if (d.sriov && d.sriov.numVfs > 0) this.disableVfs(d);
    if (d.driver) this.release(d);
    this.emit("remove", d);
    this.devices.delete(address);
    this.deviceIndex.remove(d);
    if (d.iommuGroup !== null) this.groups.get(d.iommuGroup)?.delete(d);
    this.changed.add(address);
    this.membershipChanged = true;
    this.overridden.delete(d);
    this.deferred.delete(address);
    if (d.physfn) {
      const pf = this.devices.get(d.physfn);
      if (pf?.sriov) {
        this.changed.add(pf.address);
        pf.sriov.vfs = pf.sriov.vfs.filter((v) => v !== address);
        pf.sriov.numVfs = pf.sriov.vfs.length;
      }
    }
    this.log(`pci ${address}: removed`);
  }

  // ---- matching and probing ------------------------------------------------------------

  /** driver_match_device → pci_bus_match → pci_match_device, plus the proposed driver_flavour hold. */
  matches(drv: SimDriver, d: SimDevice): boolean {
    // driver_flavour (proposal): a flavoured device waits for userspace to name its driver.
    if (d.flavour !== null && d.driverOverride === null) return false;
    return matchDevice(drv, d.ids, d.driverOverride).matched;
  }

  /** The registered drivers that could match, in bus driver-list order. */
  private candidateDrivers(d: SimDevice): SimDriver[] {
    const found = this.driverIndex.candidates(d.ids);
    const named = d.driverOverride === null ? undefined : this.drivers.get(d.driverOverride);
    if (named && !found.includes(named)) {
      found.push(named);
      found.sort((a, b) => a.order - b.order);
    }
    return found;
  }

  /**
   * __device_attach: the first driver, in list order, that matches and probes successfully.
   * With allowAsync (a device added, deferred probing: bus_probe_device) drivers preferring
   * asynchronous probe (nvme: PROBE_PREFER_ASYNCHRONOUS) are skipped in the first pass and
   * tried in a second one only if nothing bound (__device_attach_driver's check_async).
   */
  deviceAttach(d: SimDevice, allowAsync = false): boolean {
    if (d.driver) return true;
    const candidates = this.candidateDrivers(d);
    const ordered = allowAsync
      ? [...candidates.filter((x) => !x.spec.asyncProbe), ...candidates.filter((x) => x.spec.asyncProbe)]
      : candidates;
    for (const drv of ordered) {
      if (!this.matches(drv, d)) continue;
      // really_probe returns pci_dma_configure's error as it is (negative), and a negative
      // return from __device_attach_driver ends the walk; a probe's own error comes back
      // positive and the next driver is tried (drivers/base/dd.c)
      const dmaRefused = this.dmaOwned(drv, d);
      if (this.probe(drv, d) === 0) return true;
      if (dmaRefused) return false;
    }
    return false;
  }

  /** pci_dma_configure → iommu_device_use_default_domain: -EBUSY while userspace owns the group. */
  private dmaOwned(drv: SimDriver, d: SimDevice): boolean {
    return d.iommuGroup !== null && this.ownedGroups.has(d.iommuGroup) && !drv.spec.managedDma;
  }

  /** driver_attach: a new driver tries every unbound device it matches, in bus order. */
  private driverAttach(drv: SimDriver): void {
    if (!this.driversAutoprobe) return;
    const devices = this.deviceIndex.candidates([...drv.dynamicIds, ...drv.idTable]);
    for (const d of this.overridden)
      if (d.driverOverride === drv.name && !devices.includes(d)) devices.push(d);
    devices.sort((a, b) => a.order - b.order);
    for (const d of devices) if (!d.driver && this.matches(drv, d)) this.probe(drv, d);
  }

  /**
   * really_probe → pci_device_probe → the driver's probe. Returns 0 or the errno. Errors make
   * the caller move on to the next driver (probe failures fall through); -EPROBE_DEFER puts
   * the device on the deferred list.
   */
  probe(drv: SimDriver, d: SimDevice): number | string {
    const error = this.probeError(drv, d);
    if (error === "EPROBE_DEFER") {
      this.deferred.add(d.address);
      this.log(`${drv.name} ${d.address}: probe deferred (waiting for ${drv.spec.defersUntil})`);
      return error;
    }
    if (error !== null) {
      // call_driver_probe: -ENODEV/-ENXIO are "rejects match" (debug); others are warnings.
      this.log(
        error === "ENODEV" || error === "ENXIO"
          ? `${drv.name} ${d.address}: probe rejects match ${-(ERRNO[error] ?? 19)}`
          : `${drv.name} ${d.address}: probe with driver ${drv.name} failed with error ${-(ERRNO[error] ?? 5)}`,
      );
      return error;
    }
    this.deferred.delete(d.address);
    const slow = this.faults.fire("slow-probe", (f) => f.driver === drv.name);
    if (slow) {
      // The probe runs in the context that started it, and that context waits: a write to
      // bind (bind_store → device_driver_attach) or drivers_probe (bus_rescan_devices_helper →
      // device_attach → __device_attach(dev, false): no async pass) returns only when the probe
      // has; a driver preferring async probe that registers is probed from the async queue, but
      // do_init_module's async_synchronize_full makes modprobe wait for it too (unless the
      // module was loaded with async_probe). So the writer's time passes, and the device is
      // bound (or not) when the write returns: userspace never sees a probe of its own running.
      this.log(`${drv.name} ${d.address}: probe takes ${slow.ms} ms`);
      this.now += Math.round(slow.ms * 1000);
    }
    this.bound(drv, d);
    return 0;
  }

  private probeError(drv: SimDriver, d: SimDevice): string | null {
    // pci_device_can_probe: a VF probes only with its PF's sriov_drivers_autoprobe or an override.
    if (d.physfn && !this.devices.get(d.physfn)?.sriov?.driversAutoprobe && d.driverOverride === null)
      return "ENODEV";
    if (this.dmaOwned(drv, d)) return "EBUSY";
    const fault = this.faults.fire(
      "probe-fails",
      (f) => f.driver === drv.name && (f.address ?? d.address) === d.address,
    );
    if (fault) return fault.errno ?? "ENXIO";
    // A probe the captured machine saw refused (lpc_ich with no function enabled, pcieport and
    // shpchp on a PCIe-to-PCI bridge): the driver returns -ENODEV for that device again.
    if (drv.spec.refuses?.includes(d.address)) return "ENODEV";
    if (drv.spec.defersUntil && !this.modules.get(drv.spec.defersUntil)?.loaded) return "EPROBE_DEFER";
    if (drv.spec.vfio) {
      // vfio_pci_probe / vfio_pci_core_register_device (drivers/vfio/pci/vfio_pci.c, vfio_pci_core.c).
      if (drv.spec.denylist && isVfioPciDenylisted(d)) return "EINVAL";
      if (d.headerType !== 0) return "EINVAL";
      // vfio_group_find_or_alloc (drivers/vfio/group.c): no IOMMU group, no vfio device
      if (d.iommuGroup === null) return "EINVAL";
      if (d.sriov && d.sriov.numVfs > 0) return "EBUSY";
    }
    return null;
  }

  /** driver_bound: the link, KOBJ_BIND, and driver_deferred_probe_trigger. */
  private bound(drv: SimDriver, d: SimDevice): void {
    d.driver = drv;
    if (drv.spec.vfio) d.vfioMinor = this.nextVfioMinor++;
    this.log(
      () =>
        `${drv.name} ${d.address}: bound${drv.spec.vfio ? ` (vfio-dev/vfio${d.vfioMinor}, /dev/vfio/${d.iommuGroup})` : ""}`,
    );
    this.emit("bind", d);
    this.retryDeferred();
  }

  /** driver_deferred_probe_trigger: every deferred device is probed again, in order. */
  private retryDeferred(): void {
    if (this.retryingDeferred || this.deferred.size === 0) return;
    this.retryingDeferred = true;
    try {
      for (const address of [...this.deferred]) {
        const d = this.devices.get(address);
        this.deferred.delete(address);
        if (d && !d.driver) this.deviceAttach(d, true);
      }
    } finally {
      this.retryingDeferred = false;
    }
  }

  /** device_release_driver: the driver's remove, then KOBJ_UNBIND (without DRIVER). */
  release(d: SimDevice): void {
    const drv = d.driver;
    if (!drv) return;
    if (d.sriov && d.sriov.numVfs > 0) {
      // The PF driver's remove disables SR-IOV (mlx5's remove_one → mlx5_sriov_disable), unless
      // it keeps the VFs: pci_device_remove → pci_iov_remove only warns (nvme, seen on the bench).
      if (drv.spec.sriov && !drv.spec.keepsVfsOnRemove) this.disableVfs(d);
      else this.log(`pci ${d.address}: driver left SR-IOV enabled after remove`);
    }
    d.driver = null;
    d.vfioMinor = null;
    this.log(`${drv.name} ${d.address}: unbound`);
    this.emit("unbind", d);
  }

  /** Simulated time passes (a `wait` in a scenario, a pause of flavourctl's). */
  advance(ms: number): void {
    this.now += Math.round(ms * 1000);
  }

  // ---- modules -------------------------------------------------------------------------

  /** init_module: the module's drivers join the bus list (driver_register → driver_attach). */
  loadModule(name: string): void {
    const module = this.modules.get(name);
    if (!module) throw new KernelError("ENOENT", `init_module ${name}`);
    if (module.loaded) throw new KernelError("EEXIST", `init_module ${name}`);
    const fault = this.faults.fire("module-load-fails", (f) => f.module === name);
    if (fault) {
      this.log(`${name}: module init failed`);
      throw new KernelError(fault.errno ?? "ENODEV", `init_module ${name}`);
    }
    module.loaded = true;
    this.log(`${name}: module loaded${module.spec.builtin ? " (built in)" : ""}`);
    if (!module.spec.builtin)
      this.emitRaw("add", `/module/${name}`, {
        ACTION: "add",
        DEVPATH: `/module/${name}`,
        SUBSYSTEM: "module",
      });
    for (const spec of module.spec.drivers) this.registerDriver(module.spec, spec);
  }

  private registerDriver(module: ModuleSpec, spec: ModuleSpec["drivers"][number]): SimDriver {
    const drv: SimDriver = {
      name: spec.name,
      module: module.name,
      idTable: spec.ids,
      dynamicIds: [],
      spec,
      order: this.driverOrder++,
    };
    this.drivers.set(drv.name, drv);
    this.driverIndex.add(drv, drv.idTable);
    const devpath = `/bus/pci/drivers/${drv.name}`;
    this.emitRaw("add", devpath, { ACTION: "add", DEVPATH: devpath, SUBSYSTEM: "drivers" });
    this.driverAttach(drv);
    return drv;
  }

  /** delete_module: refused while another loaded module depends on it; its drivers let go of their devices. */
  unloadModule(name: string): void {
    const module = this.modules.get(name);
    if (!module?.loaded) throw new KernelError("ENOENT", `delete_module ${name}`);
    if (module.spec.builtin) throw new KernelError("EPERM", `delete_module ${name} (built in)`);
    const user = [...this.modules.values()].find((m) => m.loaded && m.spec.depends.includes(name));
    if (user) throw new KernelError("EBUSY", `delete_module ${name} (used by ${user.spec.name})`);
    for (const spec of module.spec.drivers) {
      const drv = this.drivers.get(spec.name);
      if (!drv) continue;
      for (const d of this.devices.values()) if (d.driver === drv) this.release(d);
      this.drivers.delete(drv.name);
      this.driverIndex.remove(drv, [...drv.idTable, ...drv.dynamicIds]);
      const devpath = `/bus/pci/drivers/${drv.name}`;
      this.emitRaw("remove", devpath, { ACTION: "remove", DEVPATH: devpath, SUBSYSTEM: "drivers" });
    }
    module.loaded = false;
    this.emitRaw("remove", `/module/${name}`, {
      ACTION: "remove",
      DEVPATH: `/module/${name}`,
      SUBSYSTEM: "module",
    });
    this.log(`${name}: module unloaded`);
  }

  // ---- the sysfs levers (sysfs.ts maps paths onto these) -------------------------------

  driverNamed(name: string, attribute: string): SimDriver {
    const drv = this.drivers.get(name);
    if (!drv) throw new KernelError("ENOENT", `/sys/bus/pci/drivers/${name}/${attribute}`);
    return drv;
  }

  /** driver_override_store (driver_set_override): cut at the first newline; "\n" clears; 0 bytes: no-op. */
  writeOverride(d: SimDevice, value: string): void {
    if (value.length === 0) return;
    if (value.length >= 4096) throw new KernelError("EINVAL", "driver_override");
    const cut = value.split("\n")[0] as string;
    this.changed.add(d.address);
    d.driverOverride = cut === "" ? null : cut;
    if (d.driverOverride === null) this.overridden.delete(d);
    else this.overridden.add(d);
  }

  /** bind_store: ENODEV unless the driver matches; EBUSY on a bound device; probe errors as errnos. */
  bind(drv: SimDriver, d: SimDevice): void {
    if (!this.matches(drv, d)) throw new KernelError("ENODEV", `bind ${d.address} to ${drv.name}`);
    if (d.driver) throw new KernelError("EBUSY", `bind ${d.address} to ${drv.name}`);
    const error = this.probe(drv, d);
    if (error === "EPROBE_DEFER") throw new KernelError("EAGAIN", `bind ${d.address} to ${drv.name}`);
    if (error !== 0) throw new KernelError(String(error), `bind ${d.address} to ${drv.name}`);
  }

  /** unbind_store: ENODEV unless the device is bound to this driver. */
  unbind(drv: SimDriver, d: SimDevice): void {
    if (d.driver !== drv) throw new KernelError("ENODEV", `unbind ${d.address} from ${drv.name}`);
    this.release(d);
  }

  /** drivers_probe (bus_rescan_devices_helper): attaches an unbound device; success even when nothing binds. */
  driversProbe(d: SimDevice): void {
    if (!d.driver) this.deviceAttach(d);
  }

  /** new_id_store: "VVVV DDDD [SV SD CLASS MASK DATA]", then driver_attach. */
  newId(drv: SimDriver, text: string): void {
    const id = parseIdLine(text, 7);
    if (!id) throw new KernelError("EINVAL", `${drv.name}/new_id`);
    if (id.fields !== 7) {
      const probe = {
        vendor: id.entry.vendor,
        device: id.entry.device,
        subvendor: id.entry.subvendor,
        subdevice: id.entry.subdevice,
        classCode: id.entry.classCode,
      };
      if (
        drv.idTable.some(
          (e) =>
            !e.overrideOnly && matchDevice({ ...drv, dynamicIds: [], idTable: [e] }, probe, null).matched,
        )
      )
        throw new KernelError("EEXIST", `${drv.name}/new_id`);
    }
    if (drv.idTable.length > 0 && !drv.idTable.some((e) => e.driverData === id.entry.driverData))
      throw new KernelError("EINVAL", `${drv.name}/new_id (driver_data)`);
    // do_pci_add_dynid(check_dup = fields != 7): a dynamic id already matching the new one
    // (pci_match_one_id, the new id read as a device) is -EEXIST (seen on the QEMU bench).
    if (id.fields !== 7) {
      const e = id.entry;
      const probe = {
        vendor: e.vendor,
        device: e.device,
        subvendor: e.subvendor,
        subdevice: e.subdevice,
        classCode: e.classCode,
      };
      if (
        drv.dynamicIds.some(
          (x) =>
            matchDevice({ ...drv, dynamicIds: [], idTable: [{ ...x, overrideOnly: false }] }, probe, null)
              .matched,
        )
      )
        throw new KernelError("EEXIST", `${drv.name}/new_id (already a dynamic id)`);
    }
    drv.dynamicIds.push(id.entry);
    this.driverIndex.add(drv, [id.entry]);
    this.driverAttach(drv);
  }

  /** remove_id_store: removes a dynamic id equal in the given fields; ENODEV when none is. */
  removeId(drv: SimDriver, text: string): void {
    const id = parseIdLine(text, 6);
    if (!id) throw new KernelError("EINVAL", `${drv.name}/remove_id`);
    const e = id.entry;
    const i = drv.dynamicIds.findIndex(
      (x) =>
        x.vendor === e.vendor &&
        x.device === e.device &&
        x.subvendor === e.subvendor &&
        x.subdevice === e.subdevice &&
        x.classCode === e.classCode &&
        x.classMask === e.classMask,
    );
    if (i < 0) throw new KernelError("ENODEV", `${drv.name}/remove_id`);
    const [removed] = drv.dynamicIds.splice(i, 1);
    if (removed) this.driverIndex.remove(drv, [removed]);
    this.driverIndex.add(drv, [...drv.idTable, ...drv.dynamicIds]); // entries sharing the key stay indexed
  }

  /** sriov_numvfs_store (drivers/pci/iov.c). */
  setNumVfs(pf: SimDevice, count: number): void {
    const sriov = pf.sriov;
    if (!sriov) throw new KernelError("ENOENT", `${pf.address}/sriov_numvfs`);
    if (count > sriov.spec.totalVfs) throw new KernelError("ERANGE", `${pf.address}/sriov_numvfs`);
    if (count === sriov.numVfs) return;
    if (!pf.driver?.spec.sriov) {
      this.log(`pci ${pf.address}: no driver bound to device; cannot configure SR-IOV`);
      throw new KernelError("ENOENT", `${pf.address}/sriov_numvfs`);
    }
    if (count === 0) {
      this.disableVfs(pf);
      return;
    }
    if (sriov.numVfs > 0) {
      this.log(
        `pci ${pf.address}: ${sriov.numVfs} VFs already enabled. Disable before enabling ${count} VFs`,
      );
      throw new KernelError("EBUSY", `${pf.address}/sriov_numvfs`);
    }
    const addresses = Array.from({ length: count }, (_, i) => vfAddress(pf.address, sriov.spec, i));
    if (addresses.includes(null)) {
      this.log(`pci ${pf.address}: can't enable ${count} VFs (bus out of range)`);
      throw new KernelError("ENOMEM", `${pf.address}/sriov_numvfs`);
    }
    const usedGroups = [...this.devices.values()].map((x) => x.iommuGroup ?? 0);
    const base = sriov.spec.vfGroupBase ?? Math.max(VF_GROUP_START, ...usedGroups) + 1;
    for (const [i, address] of (addresses as PciAddress[]).entries()) {
      this.addDevice({
        address,
        vendor: pf.ids.vendor,
        device: sriov.spec.vfDevice,
        subvendor: pf.ids.subvendor,
        subdevice: pf.ids.subdevice,
        classCode: pf.ids.classCode,
        revision: pf.revision,
        headerType: 0,
        parent: pf.parent,
        iommuGroup: base + i,
        name: null,
        sriov: null,
        physfn: pf.address,
      });
    }
  }

  private disableVfs(pf: SimDevice): void {
    const sriov = pf.sriov;
    if (!sriov) return;
    for (const vf of [...sriov.vfs].reverse()) this.removeDevice(vf);
  }

  /** driver_flavour_store (proposal, README "driver_flavour"): unbind, hold, ask userspace. */
  writeFlavour(d: SimDevice, value: string): void {
    const word = value.split("\n")[0] as string;
    if (word !== "vfio" && word !== "" && word !== "default")
      throw new KernelError("EINVAL", `${d.address}/driver_flavour`);
    const flavour = word === "vfio" ? "vfio" : null;
    if (d.driver) this.release(d);
    d.flavour = flavour;
    this.writeOverride(d, "\n");
    const modalias = flavour ? `vfio_${this.modalias(d)}` : this.modalias(d);
    this.emit("change", d, { MODALIAS: modalias, DRIVER_FLAVOUR: flavour ?? "" });
    if (!flavour && this.driversAutoprobe) this.deviceAttach(d);
  }

  /** Userspace opens /dev/vfio/N: iommu_group_claim_dma_owner fails while a member uses the kernel's DMA domain. */
  openVfioGroup(group: number): void {
    if (!this.vfioGroupNode(group)) throw new KernelError("ENOENT", `/dev/vfio/${group}`);
    const blocker = this.groupMembers(group).find((d) => d.driver && !d.driver.spec.managedDma);
    if (blocker) {
      this.log(`vfio: group ${group} not viable: ${blocker.address} is bound to ${blocker.driver?.name}`);
      throw new KernelError("EBUSY", `/dev/vfio/${group}`);
    }
    this.ownedGroups.add(group);
    this.log(`vfio: group ${group} opened, DMA owned by userspace`);
  }

  closeVfioGroup(group: number): void {
    this.ownedGroups.delete(group);
    this.log(`vfio: group ${group} closed`);
  }

  /** /dev/vfio/N exists while a vfio driver holds a member of group N. */
  vfioGroupNode(group: number): boolean {
    return this.groupMembers(group).some((d) => d.driver?.spec.vfio === true);
  }

  /** A sysfs write may change the device it names without an event (driver_override, sriov_drivers_autoprobe). */
  markChanged(address: PciAddress): void {
    this.changed.add(address);
  }

  /** The devices that may have changed, and whether any came or went, since the last call. */
  takeChanges(): { addresses: PciAddress[]; membership: boolean } {
    const taken = { addresses: [...this.changed], membership: this.membershipChanged };
    this.changed.clear();
    this.membershipChanged = false;
    return taken;
  }

  /** The present devices of IOMMU group `group`, in address order. */
  groupMembers(group: number): SimDevice[] {
    return [...(this.groups.get(group) ?? [])].sort((a, b) => (a.address < b.address ? -1 : 1));
  }

  private joinGroup(d: SimDevice): void {
    if (d.iommuGroup === null) return;
    let members = this.groups.get(d.iommuGroup);
    if (members === undefined) {
      members = new Set();
      this.groups.set(d.iommuGroup, members);
    }
    members.add(d);
  }

  /** Restoring saved state: a device joins the bus list and indexes without events or probes. */
  adopt(d: SimDevice): void {
    d.order = this.deviceOrder++;
    this.devices.set(d.address, d);
    this.deviceIndex.add(d);
    this.joinGroup(d);
    if (d.driverOverride !== null) this.overridden.add(d);
    if (d.vfioMinor !== null) this.nextVfioMinor = Math.max(this.nextVfioMinor, d.vfioMinor + 1);
  }

  /** Restoring saved state: a loaded module's drivers rejoin the driver list without probing. */
  adoptModule(name: string, dynamicIds: ReadonlyMap<string, PciDeviceId[]>): void {
    const module = this.modules.get(name);
    if (!module) throw new KernelError("ENOENT", `init_module ${name}`);
    module.loaded = true;
    for (const spec of module.spec.drivers) {
      const drv: SimDriver = {
        name: spec.name,
        module: name,
        idTable: spec.ids,
        dynamicIds: dynamicIds.get(spec.name) ?? [],
        spec,
        order: this.driverOrder++,
      };
      this.drivers.set(drv.name, drv);
      this.driverIndex.add(drv, [...drv.idTable, ...drv.dynamicIds]);
    }
  }

  /** Boot: built-ins and preloaded modules register, then the devices are enumerated in order. */
  boot(): void {
    for (const m of this.spec.modules) if (m.loaded) this.loadModule(m.name);
    for (const spec of this.spec.devices) this.addDevice(spec);
  }
}

const ERRNO: Record<string, number> = {
  ENODEV: 19,
  ENXIO: 6,
  EBUSY: 16,
  EINVAL: 22,
  EIO: 5,
  ENOMEM: 12,
  EPERM: 1,
};

const hex2 = (n: number) => n.toString(16).padStart(2, "0");

/** A present device as the machine format describes it (its hardware, not its state). */
function specOf(d: SimDevice): DeviceSpec {
  return {
    address: d.address,
    vendor: d.ids.vendor,
    device: d.ids.device,
    subvendor: d.ids.subvendor,
    subdevice: d.ids.subdevice,
    classCode: d.ids.classCode,
    revision: d.revision,
    headerType: d.headerType,
    parent: d.parent,
    iommuGroup: d.iommuGroup,
    name: d.name,
    sriov: d.sriov ? { ...d.sriov.spec } : null,
    physfn: null,
  };
}

/** vfio_pci_dev_in_denylist (drivers/vfio/pci/vfio_pci.c). */
function isVfioPciDenylisted(d: SimDevice): boolean {
  return (
    d.ids.vendor === 0x8086 &&
    [0x19e2, 0x19e3, 0x37c8, 0x37c9, 0x0435, 0x0443, 0x0b25, 0x0cfe].includes(d.ids.device)
  );
}

/** sscanf("%x %x %x %x %x %x %lx") as new_id/remove_id read it; at least two fields. */
function parseIdLine(text: string, max: number): { entry: PciDeviceId; fields: number } | undefined {
  const words = text.trim().split(/\s+/).slice(0, max);
  const values: number[] = [];
  for (const w of words) {
    if (!/^(0x)?[0-9a-fA-F]+$/.test(w)) break;
    values.push(Number.parseInt(w.replace(/^0x/i, ""), 16) >>> 0);
  }
  if (values.length < 2) return undefined;
  const [
    vendor,
    device,
    subvendor = 0xffffffff,
    subdevice = 0xffffffff,
    classCode = 0,
    classMask = 0,
    driverData = 0,
  ] = values as number[];
  return {
    entry: {
      vendor: vendor as number,
      device: device as number,
      subvendor,
      subdevice,
      classCode,
      classMask,
      driverData,
      overrideOnly: false,
    },
    fields: values.length,
  };
}
