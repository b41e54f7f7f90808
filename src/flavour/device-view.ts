// What list and show know about a device: the host's view of it (host/), the modules that
// match its modalias (modules/lookup, folded as lspci -k folds them), its vfio flavour
// (vfio-choice.ts) and whether its IOMMU group would let vfio have it (vfio-drivers.ts).
// Read-only: every fact is read once per run.
import type { DeviceInfo, Host } from "../host/host.ts";
import { UnreadableDevice } from "../host/host.ts";
import { type LookupResult, lookup } from "../modules/lookup.ts";
import type { ModulesDir } from "../modules/modules-dir.ts";
import type { PciAddress } from "../pci/address.ts";
import { chooseVfio, type VfioChoice } from "./vfio-choice.ts";
import { groupBlocker, inVfioPciDenylist } from "./vfio-drivers.ts";

/** A member of a device's IOMMU group and why it keeps vfio out, if it does. */
export interface GroupMember {
  address: PciAddress;
  driver: string | null;
  headerType: number | null;
  /** Why this member keeps the group from being viable for vfio; null when it does not. */
  blocks: string | null;
}

export class DeviceView {
  readonly host: Host;
  /** null when the modules directory is unknown (no /lib/modules/$(uname -r), and none given). */
  readonly modules: ModulesDir | null;
  private readonly infos = new Map<PciAddress, DeviceInfo | null>();
  /** Lookups and vfio choices by modalias: devices of one model (VFs, bridges) share theirs. */
  private readonly lookups = new Map<string, LookupResult>();
  private readonly choices = new Map<string, VfioChoice>();
  /** Each group's members, listed once (every member of a group asks for them). */
  private readonly groupAddresses = new Map<number, PciAddress[]>();
  private readonly unreadable: string[] = [];
  private readonly warn: (message: string) => void;

  constructor(host: Host, modules: ModulesDir | null, warn: (message: string) => void) {
    this.host = host;
    this.modules = modules;
    this.warn = warn;
  }

  /** The device, or null (reported once) when its identity cannot be read. */
  info(address: PciAddress): DeviceInfo | null {
    const known = this.infos.get(address);
    if (known !== undefined || this.infos.has(address)) return known ?? null;
    let info: DeviceInfo | null = null;
    try {
      info = this.host.device(address);
    } catch (error) {
      if (!(error instanceof UnreadableDevice)) throw error;
      this.warn(`${error.message}; left out`);
      this.unreadable.push(address);
    }
    this.infos.set(address, info);
    return info;
  }

  /** Devices whose identity could not be read, so far. */
  leftOut(): readonly string[] {
    return this.unreadable;
  }

  /**
   * lspci -k's "Kernel modules": kmod_module_new_from_lookup on the modalias, adjacent repeats
   * folded (pciutils ls-kernel.c next_module_filtered), with the lookup behind it.
   */
  kernelModules(info: DeviceInfo): { lookup: LookupResult; modules: string[] } | null {
    if (this.modules === null || info.modalias === null) return null;
    let result = this.lookups.get(info.modalias);
    if (result === undefined) {
      result = lookup(this.modules, info.modalias);
      this.lookups.set(info.modalias, result);
    }
    const modules = result.matches.map((m) => m.module).filter((m, i, all) => i === 0 || all[i - 1] !== m);
    return { lookup: result, modules };
  }

  vfioChoice(info: DeviceInfo): VfioChoice | null {
    if (this.modules === null || info.modalias === null) return null;
    let choice = this.choices.get(info.modalias);
    if (choice === undefined) {
      choice = chooseVfio(this.modules, info.modalias);
      this.choices.set(info.modalias, choice);
    }
    return choice;
  }

  /**
   * Why vfio-pci (and so every variant built on vfio_pci_core) would refuse the device, or null:
   * vfio_pci_probe takes only normal (type 0) headers and skips its denylist.
   */
  vfioRefusal(info: DeviceInfo): string | null {
    if (info.headerType !== null && info.headerType !== 0) {
      return `vfio-pci refuses bridges (header type ${info.headerType}): the device stays with the host`;
    }
    const ids = {
      vendor: info.vendor,
      device: info.device,
      subvendor: 0,
      subdevice: 0,
      classCode: info.classCode,
    };
    if (inVfioPciDenylist(ids))
      return "on vfio-pci's denylist (vfio_pci_dev_in_denylist): vfio-pci refuses it";
    return null;
  }

  /**
   * The driver behind the chosen module, only as the host names it: the module's
   * drivers/pci:<name> entries (module_add_driver, drivers/base/module.c), or, with no module
   * chosen (vfio-pci built in has no alias line before Linux 6.18), a registered vfio-pci.
   * Never derived from the module's name: null when the host does not say.
   */
  vfioDriver(choice: VfioChoice): string | null {
    if (choice.tie) return null;
    if (choice.module === null) return this.host.drivers().includes("vfio-pci") ? "vfio-pci" : null;
    const drivers = this.host.moduleDrivers(choice.module);
    return drivers?.length === 1 ? (drivers[0] as string) : null;
  }

  /** Every member of the device's group with its verdict (vfio_group viability, drivers/vfio/group.c). */
  group(info: DeviceInfo): GroupMember[] {
    if (info.iommuGroup === null) return [];
    let addresses = this.groupAddresses.get(info.iommuGroup);
    if (addresses === undefined) {
      addresses = this.host.groupMembers(info.iommuGroup);
      this.groupAddresses.set(info.iommuGroup, addresses);
    }
    return addresses.map((address) => {
      const member = address === info.address ? info : this.info(address);
      if (member === null) return { address, driver: null, headerType: null, blocks: "could not be read" };
      const state = { driver: member.driver, headerType: member.headerType };
      return { address, ...state, blocks: groupBlocker(state) ?? null };
    });
  }

  /** The other members of the group that would keep it non-viable were this device on vfio. */
  blockers(info: DeviceInfo): GroupMember[] {
    return this.group(info).filter((m) => m.address !== info.address && m.blocks !== null);
  }
}
