// A plan is a value before it is an action: what will be done to one device, why, and what
// was checked. `--dry-run` prints it; apply.ts carries it out.
import { type DeviceState, HOLD_OVERRIDE } from "../host/control.ts";
import type { PciAddress } from "../pci/address.ts";
import type { Check } from "./safety.ts";
import type { Target } from "./target.ts";

export type Step =
  /**
   * driver_override = HOLD_OVERRIDE, a name no driver has, so that no driver binds the
   * unbound device while modules load (pci_match_device: with an override only the driver
   * of that name matches): a variant's module pulls in its host driver's module
   * (virtio_vfio_pci needs virtio_pci, mlx5_vfio_pci needs mlx5_core), which would bind it.
   */
  | { action: "hold"; override: typeof HOLD_OVERRIDE }
  | { action: "load-module"; module: string }
  /** Read the driver name the module registered (/sys/module/<m>/drivers/pci:<driver>). */
  | { action: "find-driver"; module: string }
  /** driver null clears the override; "target" is the driver found by find-driver. */
  | { action: "write-override"; driver: string | null | "target" }
  /** sriov_numvfs = 0 before a PF is unbound: its VFs go (safety.ts, vfChecks). */
  | { action: "remove-vfs"; vfs: PciAddress[] }
  | { action: "unbind"; driver: string }
  | { action: "probe" }
  | { action: "verify" };

export interface Plan {
  address: PciAddress;
  from: { driver: string | null; driverOverride: string | null };
  target: Target;
  checks: Check[];
  steps: Step[];
  /** The device already has this flavour: nothing to do. */
  done: boolean;
}

/** The plan takes the device from its current driver (an unbind step). */
export function unbindsDevice(device: DeviceState, target: Target): boolean {
  return device.driver !== null && (target.flavour === "default" || device.driver !== target.driver);
}

/** The steps that take the device from its driver: its VFs first, when it is a PF with some. */
function unbindSteps(device: DeviceState, target: Target, vfs: PciAddress[]): Step[] {
  if (device.driver === null || !unbindsDevice(device, target)) return [];
  return [
    ...(device.sriovNumVfs > 0 ? [{ action: "remove-vfs", vfs } as Step] : []),
    { action: "unbind", driver: device.driver },
  ];
}

export function planFlavour(
  device: DeviceState,
  target: Target,
  checks: Check[],
  vfs: PciAddress[] = [],
): Plan {
  const from = { driver: device.driver, driverOverride: device.driverOverride };
  const base = { address: device.address, from, target, checks };
  if (target.flavour === "default") {
    // With no override and no module left to load (every one that matches is blacklisted, as
    // udev's kmod load leaves it, or none matches), a driverless device already has the
    // kernel's own choice: the drivers loaded were offered it at add and at registration
    // (bus_probe_device, driver_attach), and a probe would bind nothing: as after a boot.
    const done =
      device.driverOverride === null &&
      !device.vfioDevice &&
      (device.driver !== null || target.modules.length === 0);
    const steps: Step[] = [
      ...target.modules.map((module): Step => ({ action: "load-module", module })),
      { action: "write-override", driver: null },
      ...unbindSteps(device, target, vfs),
      { action: "probe" },
      { action: "verify" },
    ];
    return { ...base, steps: done ? [] : steps, done };
  }
  const known = target.driver;
  const done = known !== null && device.driver === known && device.driverOverride === known;
  const steps: Step[] = [];
  if (target.module !== null) {
    // A module not loaded yet (its driver unknown) loads its dependencies too; on a bound
    // device they change nothing (it is unbound only after the override names the target).
    if (device.driver === null && known === null) steps.push({ action: "hold", override: HOLD_OVERRIDE });
    steps.push({ action: "load-module", module: target.module });
    if (known === null) steps.push({ action: "find-driver", module: target.module });
  }
  steps.push({ action: "write-override", driver: known ?? "target" }, ...unbindSteps(device, target, vfs));
  steps.push({ action: "probe" }, { action: "verify" });
  return { ...base, steps: done ? [] : steps, done };
}
