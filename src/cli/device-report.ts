// The JSON object list and show print for a device (README "list --json" documents it; scripts
// depend on it, so keys are only ever added), and the device's one-line title.
import type { DeviceView } from "../flavour/device-view.ts";
import type { DeviceInfo } from "../host/host.ts";
import type { PciNames } from "../host/pci-names.ts";
import { isBuiltInStage } from "../modules/lookup.ts";
import type { PciAddress } from "../pci/address.ts";
import { hex } from "../pci/ids.ts";

/**
 * Ids are lower-case hex without 0x, at the width sysfs prints them: vendor, device and
 * subsystem ids 4 digits, class 6, revision 2.
 */
export interface DeviceReport {
  address: PciAddress;
  vendor: string;
  device: string;
  subsystemVendor: string | null;
  subsystemDevice: string | null;
  class: string;
  revision: string | null;
  modalias: string | null;
  driver: string | null;
  /** The module that registered the bound driver, as the host says; null when it does not. */
  driverModule: string | null;
  driverOverride: string | null;
  /** What lspci -k prints as "Kernel modules"; null when the modules (or the modalias) are unknown. */
  modules: string[] | null;
  /**
   * The modules are built into the kernel (the answer came from modules.builtin.modinfo's
   * aliases, Linux 6.18+): nothing to load. null when the modules are unknown.
   */
  modulesBuiltIn: boolean | null;
  vfio: {
    /** The driver the chosen module registered, read from the host; null unless it is loaded. */
    driver: string | null;
    module: string | null;
    /** Every module whose vfio_pci: pattern matches, best first. */
    candidates: string[];
    tie: string[] | null;
    reason: string;
    /** The candidates are built into the kernel (their aliases from modules.builtin.modinfo). */
    builtIn: boolean;
    /** Why vfio-pci would refuse the device (a bridge, its denylist), or null. */
    refused: string | null;
  } | null;
  iommuGroup: number | null;
  /** Other members of the group that keep it from being viable for vfio. */
  iommuGroupBlockers: PciAddress[];
  headerType: number | null;
  vfioBound: boolean;
  physfn: PciAddress | null;
  virtfns: PciAddress[];
  sriov: { totalVfs: number; numVfs: number; driversAutoprobe: boolean } | null;
  numaNode: number | null;
  parents: PciAddress[];
  /** pci.ids names as lspci gives them (list's CLASS and DEVICE columns); null where it has none. */
  names: { class: string | null; vendor: string | null; device: string | null };
}

const optionalHex = (value: number | null, width: number) => (value === null ? null : hex(value, width));

export function deviceReport(view: DeviceView, info: DeviceInfo, names: PciNames): DeviceReport {
  const choice = view.vfioChoice(info);
  const kernel = view.kernelModules(info);
  return {
    address: info.address,
    vendor: hex(info.vendor, 4),
    device: hex(info.device, 4),
    subsystemVendor: optionalHex(info.subsystemVendor, 4),
    subsystemDevice: optionalHex(info.subsystemDevice, 4),
    class: hex(info.classCode, 6),
    revision: optionalHex(info.revision, 2),
    modalias: info.modalias,
    driver: info.driver,
    driverModule: info.driver === null ? null : view.host.driverModule(info.driver),
    driverOverride: info.driverOverride,
    modules: kernel?.modules ?? null,
    modulesBuiltIn: kernel ? isBuiltInStage(kernel.lookup.stage) : null,
    vfio: choice && {
      driver: view.vfioDriver(choice),
      module: choice.module,
      candidates: choice.candidates.map((c) => c.module),
      tie: choice.tie ?? null,
      reason: choice.reason,
      builtIn: choice.builtIn,
      refused: view.vfioRefusal(info),
    },
    iommuGroup: info.iommuGroup,
    iommuGroupBlockers: view.blockers(info).map((m) => m.address),
    headerType: info.headerType,
    vfioBound: info.vfioBound,
    physfn: info.physfn,
    virtfns: info.virtfns,
    sriov: info.sriov,
    numaNode: info.numaNode,
    parents: info.parents,
    names: {
      class: names.className(info.classCode) ?? null,
      vendor: names.vendor(info.vendor) ?? null,
      device: names.device(info.vendor, info.device) ?? null,
    },
  };
}

/** "Class: Vendor Device" as lspci names it, with the ids where pci.ids has no name. */
export function deviceTitle(names: PciNames, info: DeviceInfo): string {
  const className = names.className(info.classCode) ?? `Class ${hex(info.classCode >> 8, 4)}`;
  const vendor = names.vendor(info.vendor) ?? `Vendor ${hex(info.vendor, 4)}`;
  const device = names.device(info.vendor, info.device) ?? `Device ${hex(info.device, 4)}`;
  return `${className}: ${vendor} ${device}`;
}
