// What a kernel upgrade changes for the devices present: the default driver and the vfio
// flavour of each device under the old and the new modules trees, and the alias lines that
// decide them. The default is the first module libkmod returns for the device's `pci:`
// modalias: udev's kmod builtin (udev-builtin-kmod.c) loads every module of that lookup in
// order, and the first to register a matching driver binds the device (drivers/base/dd.c),
// which in modules.order priority is the first one listed. A built-in driver is not loaded by
// udev: it registered at boot, in link order, and bound what its probe accepted; from Linux 6.18
// its aliases are in modules.builtin.modinfo and libkmod answers from them last, but an answer
// from there says which built-in drivers match, not which one binds. The vfio flavour follows
// flavour/vfio-choice.ts (commit cc6711b0bf36's fewest-wildcards rule).
import { chooseVfio } from "../flavour/vfio-choice.ts";
import { lookup } from "../modules/lookup.ts";
import type { ModulesDir } from "../modules/modules-dir.ts";
import type { PciAddress } from "../pci/address.ts";

/** What upgrade needs of a present device (read through the host's Host interface). */
export interface PresentDevice {
  address: PciAddress;
  /** The `modalias` attribute (pci-sysfs.c modalias_show). */
  modalias: string;
  /** The bound driver's name; null when unbound. */
  driver: string | null;
}

export interface Decision {
  /** The module; null when no line of the tree names one (or only built-in drivers' lines do). */
  module: string | null;
  /** The built-in drivers whose modules.builtin.modinfo aliases match, when only those do. */
  builtIn?: string[];
  /** The alias line responsible, `FILE:LINE: alias PATTERN MODULE`, or why there is none. */
  because: string;
}

export interface DeviceChange {
  address: string;
  modalias: string;
  /** The driver bound now, for orientation. */
  driver: string | null;
  default?: { from: Decision; to: Decision };
  vfio?: { from: Decision; to: Decision };
}

export function upgradeChanges(devices: PresentDevice[], from: ModulesDir, to: ModulesDir): DeviceChange[] {
  const changes: DeviceChange[] = [];
  for (const device of devices) {
    const change: DeviceChange = {
      address: device.address,
      modalias: device.modalias,
      driver: device.driver,
    };
    const defaults = builtIn(
      { from: defaultDriver(from, device.modalias), to: defaultDriver(to, device.modalias) },
      from,
      to,
    );
    if (defaults.from.module !== defaults.to.module) change.default = defaults;
    const vfio = builtIn(
      { from: vfioFlavour(from, device.modalias), to: vfioFlavour(to, device.modalias) },
      from,
      to,
    );
    if (vfio.from.module !== vfio.to.module) change.vfio = vfio;
    if (change.default || change.vfio) changes.push(change);
  }
  return changes;
}

/**
 * A side no line names, whose tree builds the other side's module in (modules.builtin), keeps
 * that module: a built-in driver has no alias line before Linux 6.18, yet binds the devices of
 * its id table (Debian 6.12 builds virtio_pci in, 6.1 as a module). Not a change.
 */
function builtIn(
  pair: { from: Decision; to: Decision },
  from: ModulesDir,
  to: ModulesDir,
): { from: Decision; to: Decision } {
  const kept = (module: string | null, dir: ModulesDir, side: Decision): Decision | undefined => {
    if (module === null) return undefined;
    if (dir.builtinNames.has(module))
      return { module, because: `built in (${dir.path}/modules.builtin): no alias line names it` };
    if (side.builtIn?.includes(module)) return { module, because: side.because };
    return undefined;
  };
  if (pair.to.module === null) return { ...pair, to: kept(pair.from.module, to, pair.to) ?? pair.to };
  if (pair.from.module === null) return { ...pair, from: kept(pair.to.module, from, pair.from) ?? pair.from };
  return pair;
}

function defaultDriver(dir: ModulesDir, modalias: string): Decision {
  const result = lookup(dir, modalias);
  const first = result.matches[0];
  if (!first) {
    return {
      module: null,
      because: `no line of ${dir.path} matches (a built-in driver has no alias line before Linux 6.18)`,
    };
  }
  const line = first.alias;
  if (result.stage === "built-in alias") {
    const modules = [...new Set(result.matches.map((m) => m.module))];
    return {
      module: null,
      builtIn: modules,
      because: `only built-in drivers match (${line ? `${line.file}:${line.line}: alias ${line.pattern} ${line.module}` : modules.join(" ")}): they bind at boot in link order, whatever udev asks for`,
    };
  }
  return {
    module: first.module,
    because: line ? `${line.file}:${line.line}: alias ${line.pattern} ${line.module}` : `${result.stage}`,
  };
}

function vfioFlavour(dir: ModulesDir, modalias: string): Decision {
  const choice = chooseVfio(dir, modalias);
  const best = choice.candidates[0];
  if (choice.module === null)
    return { module: choice.tie ? `tie: ${choice.tie.join(" ")}` : null, because: choice.reason };
  return {
    module: choice.module,
    because: best?.file ? `${best.file}:${best.line}: alias ${best.pattern} ${best.module}` : choice.reason,
  };
}
