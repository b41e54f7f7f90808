// Which driver a flavour means for one device: `vfio` (the best vfio driver), `default` (the
// kernel's own choice) or an explicit driver. Module names and driver names differ; a driver
// name is only ever read from the host (/sys/bus/pci/drivers, /sys/module/<m>/drivers), never
// derived from a module name.
import type { DeviceState, HostControl } from "../host/control.ts";
import { lookup } from "../modules/lookup.ts";
import type { ModulesDir } from "../modules/modules-dir.ts";
import { normalizeModuleName } from "../modules/normalize.ts";
import { flavouredModalias } from "../pci/modalias.ts";
import { chooseVfio, GENERIC_VFIO_MODULE, type VfioCandidate } from "./vfio-choice.ts";
import { GENERIC_DRIVERS, isVfioDriver } from "./vfio-drivers.ts";

export type Flavour = "vfio" | "default" | "driver";
export const FLAVOURS: readonly string[] = ["vfio", "default"];

export interface Target {
  flavour: Flavour;
  /** The module to load first; null when the driver is built in or already registered. */
  module: string | null;
  /** The driver name, when the host already knows it; else read from the module once loaded. */
  driver: string | null;
  /** For `default`: every module udev's kmod builtin would load for the device, in order (not blacklisted ones). */
  modules: string[];
  /** The target hands the device to userspace through vfio. */
  vfio: boolean;
  reason: string;
  candidates?: VfioCandidate[];
  /** Why this target must not be used without --force. */
  refusal?: string;
}

export interface TargetRequest {
  flavour: Flavour;
  /** --driver NAME: a driver or module name. */
  driver?: string;
}

export function chooseTarget(
  dir: ModulesDir,
  host: HostControl,
  device: DeviceState,
  request: TargetRequest,
): Target {
  if (request.flavour === "default") return defaultTarget(dir, host, device);
  if (request.driver !== undefined)
    return explicitTarget(dir, host, device, request.driver, request.flavour === "vfio");
  return vfioTarget(dir, host, device);
}

function defaultTarget(dir: ModulesDir, host: HostControl, device: DeviceState): Target {
  const matching = [...new Set(lookup(dir, device.modalias).matches.map((m) => m.module))];
  // udev's kmod builtin loads the modalias with KMOD_PROBE_APPLY_BLACKLIST (systemd
  // module_load_and_warn): libkmod's kmod_module_probe_insert_module skips a blacklisted
  // module, so it is left out here too (one already loaded keeps its registered driver).
  const blacklisted = matching.filter((m) => dir.config.blacklist.has(m) && !host.moduleLoaded(m));
  // A module built into the kernel (answered from modules.builtin.modinfo on 6.18+, or named
  // in modules.builtin) has its driver registered from boot: nothing to load, nor to unload.
  const builtIn = matching.filter((m) => dir.builtinNames.has(m) && !blacklisted.includes(m));
  const modules = matching.filter((m) => !blacklisted.includes(m) && !builtIn.includes(m));
  const why =
    modules.length > 0
      ? `no override; the kernel binds the first registered driver that matches (modules: ${modules.join(", ")})`
      : builtIn.length > 0
        ? "no override; the kernel binds the first registered driver that matches"
        : `no override; ${blacklisted.length > 0 ? "every matching module is blacklisted" : "no module in the modules tree matches"}, so only a built-in or loaded driver can take it`;
  return {
    flavour: "default",
    module: null,
    driver: null,
    modules,
    vfio: false,
    reason: [
      why,
      ...builtIn.map((m) => `${m}: built into the kernel, nothing to load`),
      ...blacklisted.map((m) => `${m}: blacklisted, not loaded`),
    ].join("; "),
  };
}

function vfioTarget(dir: ModulesDir, host: HostControl, device: DeviceState): Target {
  const choice = chooseVfio(dir, device.modalias);
  const base = { flavour: "vfio" as const, modules: [], vfio: true, candidates: choice.candidates };
  if (choice.tie)
    return { ...base, module: null, driver: null, reason: choice.reason, refusal: choice.reason };
  if (choice.module === null) {
    // vfio-pci built in (no alias line before Linux 6.18) or a kernel without vfio_pci: aliases.
    const builtIn = host.driverRegistered("vfio-pci");
    return {
      ...base,
      module: builtIn ? null : GENERIC_VFIO_MODULE,
      driver: builtIn ? "vfio-pci" : null,
      reason: `${choice.reason}${builtIn ? " (vfio-pci is registered)" : ""}`,
    };
  }
  if (dir.builtinNames.has(choice.module)) {
    // built in: its driver is registered from boot (module_add_driver links it under
    // /sys/module/<module>/drivers as for a loaded module); nothing to load
    return {
      ...base,
      module: null,
      driver: host.moduleDrivers(choice.module)[0] ?? null,
      reason: choice.reason,
    };
  }
  return { ...base, module: choice.module, driver: loadedDriver(host, choice.module), reason: choice.reason };
}

function loadedDriver(host: HostControl, module: string): string | null {
  if (!host.moduleLoaded(module)) return null;
  return host.moduleDrivers(module)[0] ?? null;
}

function explicitTarget(
  dir: ModulesDir,
  host: HostControl,
  device: DeviceState,
  name: string,
  wantVfio: boolean,
): Target {
  let module: string | null;
  let driver: string | null = null;
  if (host.driverRegistered(name)) {
    driver = name;
    module = host.driverModule(name);
  } else {
    module = GENERIC_DRIVERS.get(name) ?? normalizeModuleName(name);
    if (!dir.moduleOrder.has(module) && !dir.builtinNames.has(module) && !GENERIC_DRIVERS.has(name)) {
      const refusal = `no PCI driver named '${name}' is registered and no module of that name is in ${dir.path}`;
      return {
        flavour: "driver",
        module: null,
        driver: null,
        modules: [],
        vfio: false,
        reason: refusal,
        refusal,
      };
    }
    if (dir.builtinNames.has(module)) module = null;
  }
  const generic = GENERIC_DRIVERS.has(name) || (driver !== null && GENERIC_DRIVERS.has(driver));
  const matching = new Set(
    [...lookup(dir, device.modalias).matches, ...lookup(dir, flavouredModalias(device.modalias)).matches].map(
      (m) => m.module,
    ),
  );
  const vfio =
    (driver !== null && isVfioDriver(driver)) ||
    (module !== null && isVfioDriver(module)) ||
    name === "vfio-pci";
  const target: Target = {
    flavour: wantVfio ? "vfio" : "driver",
    module,
    driver,
    modules: [],
    vfio,
    reason: `explicit driver ${name}${module ? ` (module ${module})` : ""}`,
  };
  if (wantVfio && !vfio) target.refusal = `${name} is not a vfio driver`;
  else if (!generic && (module === null || !matching.has(module))) {
    target.refusal =
      `${name}'s id tables do not include ${device.address} (${device.modalias}); the kernel would bind it anyway ` +
      "through driver_override";
  }
  return target;
}
