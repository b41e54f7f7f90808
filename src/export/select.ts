// What `flavourctl export` hands to a VM manager: the host's devices that have a vfio flavour —
// bound to vfio-pci or a variant now, or named by a saved rule whose target is a vfio driver —
// each with the driver that holds it (or will), whether that driver can migrate it, and the
// facts the consumers' formats need. Decisions are list's and set's own: the device view
// (device-view.ts), the rule that decides a device (rules.ts ruleFor) and the driver a rule
// gives it (target.ts chooseTarget, as set and apply choose it). The formats (nova.ts,
// libvirt.ts, proxmox.ts) only print what this decides.
import { ExitCode } from "../errors.ts";
import { requestOf } from "../flavour/apply-rules.ts";
import type { DeviceView } from "../flavour/device-view.ts";
import { type Rule, ruleFor, ruleSubjectOf } from "../flavour/rules.ts";
import { chooseTarget } from "../flavour/target.ts";
import { isVfioDriver } from "../flavour/vfio-drivers.ts";
import type { HostControl } from "../host/control.ts";
import { AbsentDevice, type DeviceInfo, UnreadableDevice } from "../host/host.ts";
import type { ModulesDir } from "../modules/modules-dir.ts";
import type { PciAddress } from "../pci/address.ts";
import { hex } from "../pci/ids.ts";
import { implementsMigration } from "./migration.ts";

/** Nova's PciDeviceType as its libvirt driver reports it (nova/virt/libvirt/host.py _get_device_type). */
export type DeviceType = "type-PCI" | "type-PF" | "type-VF";

export interface ExportDevice {
  address: PciAddress;
  /** Ids as sysfs prints them: 4 lower-case hex digits, no 0x. */
  vendor: string;
  device: string;
  subsystemVendor: string | null;
  subsystemDevice: string | null;
  iommuGroup: number | null;
  /** The vfio driver that holds the device now, or that its saved rule gives it. */
  driver: string;
  /** The driver is a vfio-pci variant (not vfio-pci itself). */
  variant: boolean;
  /** The driver holds the device now (else its rule gives it at the next apply, hook or boot). */
  bound: boolean;
  /** The driver implements live migration on this kernel (migration.ts). */
  liveMigratable: boolean;
  deviceType: DeviceType;
  /**
   * The saved rule that names the device. `ids` is set only for a rule by vendor:device alone
   * when every device of the host with those ids is exported on the same driver, so that a
   * consumer's match by ids takes exactly these devices.
   */
  rule: { name: string; ids: { vendor: string; device: string } | null } | null;
  /** What to know before a guest gets the device (not bound yet, group not viable). */
  notes: string[];
}

export interface ExportMachine {
  view: DeviceView;
  /** The machine's levers' read side and its modules: what set's target choice reads. */
  modules: ModulesDir;
  host: HostControl;
  rules: readonly Rule[];
  /** The running kernel's release (the modules directory's name); null when unknown. */
  kernelRelease: string | null;
}

/** A device that cannot be exported, with the exit code it stands for. */
export interface ExportProblem {
  message: string;
  exitCode: number;
}

export interface ExportSelection {
  devices: ExportDevice[];
  problems: ExportProblem[];
  /** Why a rule by ids is exported device by device (by address) instead. */
  warnings: string[];
}

/** How Nova's libvirt driver types a device: a VF has a PF, a PF has the SR-IOV capability. */
function deviceTypeOf(info: DeviceInfo): DeviceType {
  if (info.physfn !== null) return "type-VF";
  if (info.sriov !== null && info.sriov.totalVfs > 0) return "type-PF";
  return "type-PCI";
}

/** The vfio driver of one device, or why it has none, or undefined when it has no vfio flavour. */
function vfioDriverOf(
  machine: ExportMachine,
  info: DeviceInfo,
  rule: Rule | undefined,
): { driver: string; bound: boolean; note?: string } | { problem: string } | undefined {
  const target =
    rule && chooseTarget(machine.modules, machine.host, machine.host.device(info.address), requestOf(rule));
  if (info.driver !== null && isVfioDriver(info.driver)) {
    // exported as it is bound; a rule that gives it another driver moves it at the next apply
    const other = target?.vfio && target.driver !== null && target.driver !== info.driver;
    const note = other
      ? `on ${info.driver}, but its rule ${rule?.name} gives it ${target.driver}: export again after 'flavourctl apply'`
      : undefined;
    return { driver: info.driver, bound: true, ...(note ? { note } : {}) };
  }
  if (!rule || !target?.vfio) return undefined;
  if (target.refusal)
    return { problem: `${info.address}: rule ${rule.name} gives it no driver: ${target.refusal}` };
  if (target.driver === null) {
    return {
      problem:
        `${info.address}: rule ${rule.name} gives it module ${target.module}, which is not loaded, so the name of ` +
        "its driver is not known yet (never guessed from the module's): give the device its flavour first (flavourctl apply)",
    };
  }
  return { driver: target.driver, bound: false };
}

/**
 * The devices to export: `addresses`, or every device with a vfio flavour when null. A device
 * named on the command line that has no vfio flavour, or whose rule's driver cannot be told,
 * is a problem; so is, in a whole-host export, a rule-named device whose driver cannot be told
 * (a partial configuration must not pass for a whole one).
 */
export function selectExports(
  machine: ExportMachine,
  addresses: readonly PciAddress[] | null,
): ExportSelection {
  const { view } = machine;
  const problems: ExportProblem[] = [];
  const devices: ExportDevice[] = [];
  const infos: DeviceInfo[] = [];
  if (addresses === null) {
    for (const address of view.host.devices()) {
      const info = view.info(address);
      if (info) infos.push(info);
    }
    for (const address of view.leftOut())
      problems.push({
        message: `${address}: cannot be read, so it is not exported`,
        exitCode: ExitCode.badInput,
      });
  } else {
    for (const address of addresses) {
      try {
        infos.push(view.host.device(address));
      } catch (error) {
        if (error instanceof AbsentDevice)
          problems.push({
            message: `no PCI device ${address} in ${error.devicesDir}`,
            exitCode: ExitCode.usage,
          });
        else if (error instanceof UnreadableDevice)
          problems.push({ message: error.message, exitCode: ExitCode.badInput });
        else throw error;
      }
    }
  }
  for (const info of infos) {
    const rule = ruleFor(machine.rules, ruleSubjectOf(info));
    const vfio = vfioDriverOf(machine, info, rule);
    if (vfio === undefined) {
      if (addresses !== null) {
        problems.push({
          message:
            `${info.address} has no vfio flavour: it is on ${info.driver ?? "no driver"} and no saved rule gives it ` +
            `a vfio driver (flavourctl set ${info.address} vfio)`,
          exitCode: ExitCode.notVfio,
        });
      }
      continue;
    }
    if ("problem" in vfio) {
      problems.push({ message: vfio.problem, exitCode: ExitCode.notVfio });
      continue;
    }
    const notes: string[] = vfio.note ? [vfio.note] : [];
    if (!vfio.bound)
      notes.push(
        `not on ${vfio.driver} yet (on ${info.driver ?? "no driver"}): its rule ${rule?.name} gives it`,
      );
    const blockers = view.blockers(info);
    if (blockers.length > 0) {
      notes.push(
        `IOMMU group ${info.iommuGroup} is not viable for vfio while ${blockers
          .map((m) => `${m.address} (${m.blocks})`)
          .join(", ")} stay${blockers.length === 1 ? "s" : ""} on host drivers: no guest can open it`,
      );
    }
    devices.push({
      address: info.address,
      vendor: hex(info.vendor, 4),
      device: hex(info.device, 4),
      subsystemVendor: info.subsystemVendor === null ? null : hex(info.subsystemVendor, 4),
      subsystemDevice: info.subsystemDevice === null ? null : hex(info.subsystemDevice, 4),
      iommuGroup: info.iommuGroup,
      driver: vfio.driver,
      variant: vfio.driver !== "vfio-pci",
      bound: vfio.bound,
      liveMigratable: implementsMigration(vfio.driver, machine.kernelRelease),
      deviceType: deviceTypeOf(info),
      rule: rule ? { name: rule.name, ids: null } : null,
      notes,
    });
  }
  const warnings = addresses === null ? markIdRules(machine, devices) : [];
  return { devices, problems, warnings };
}

/**
 * Sets `rule.ids` on the devices of a rule by vendor:device whose ids take exactly them: every
 * device of the host with those ids is exported, by that rule, on one driver. Otherwise a
 * consumer matching by ids would take a device the host keeps (or one on another driver), so
 * the devices stay named by address, and the warning says why.
 */
function markIdRules(machine: ExportMachine, devices: ExportDevice[]): string[] {
  const warnings: string[] = [];
  const byRule = new Map<string, ExportDevice[]>();
  for (const device of devices) {
    if (device.rule) byRule.set(device.rule.name, [...(byRule.get(device.rule.name) ?? []), device]);
  }
  for (const [name, members] of byRule) {
    const rule = machine.rules.find((r) => r.name === name);
    const selector = rule?.selector;
    if (selector?.kind !== "id" || selector.subvendor !== undefined) continue;
    const ids = { vendor: hex(selector.vendor, 4), device: hex(selector.device, 4) };
    const exported = new Set(members.map((d) => d.address));
    const others = machine.view.host
      .devices()
      .map((address) => machine.view.info(address))
      .filter((info) => info !== null && info.vendor === selector.vendor && info.device === selector.device)
      .filter((info) => !exported.has((info as DeviceInfo).address))
      .map((info) => (info as DeviceInfo).address);
    const drivers = new Set(members.map((d) => d.driver));
    if (others.length > 0) {
      warnings.push(
        `rule ${name} names ${ids.vendor}:${ids.device}, but ${others.join(", ")} with those ids ${others.length === 1 ? "is" : "are"} not exported by it: its devices are named by address`,
      );
    } else if (drivers.size > 1) {
      warnings.push(
        `rule ${name} names ${ids.vendor}:${ids.device}, and its devices are on ${[...drivers].join(" and ")}: they are named by address`,
      );
    } else {
      for (const device of members) device.rule = { name, ids };
    }
  }
  return warnings;
}
