// flavourctl show ADDRESS: one device in depth, with the reason for every decision: the alias
// lines that matched (file and line), the ranking behind its vfio flavour, the group members
// that keep vfio out, and what driver_override is doing.
import { ExitCode, InputError, UsageError } from "../../errors.ts";
import type { DeviceView, GroupMember } from "../../flavour/device-view.ts";
import type { VfioChoice } from "../../flavour/vfio-choice.ts";
import { indexCacheDir } from "../../host/cache-dir.ts";
import type { DeviceInfo } from "../../host/host.ts";
import { AbsentDevice, UnreadableDevice } from "../../host/host.ts";
import { PCI_IDS_PATHS, PciNames } from "../../host/pci-names.ts";
import { isBuiltInStage, type LookupResult } from "../../modules/lookup.ts";
import { parseAddress } from "../../pci/address.ts";
import { hex } from "../../pci/ids.ts";
import { parseCommandLine } from "../args.ts";
import type { Command } from "../command.ts";
import { deviceReport, deviceTitle } from "../device-report.ts";
import { openView } from "../host.ts";
import { type Paint, painter } from "../style.ts";
import { oneLine } from "../terminal-safe.ts";
import { options, warner } from "./list.ts";

const help = `usage: flavourctl show ADDRESS [--sysfs DIR | --machine M] [--modules DIR | --kernel VER] [--config PATH]... [--json]

One device (ADDRESS is DDDD:BB:DD.F or BB:DD.F) in depth, and why: the alias lines that
matched its modalias (file and line), the ranking that chose its vfio flavour, the members of
its IOMMU group that keep vfio out, and what its driver_override does. Options as for list;
--json prints list's object for the device with an "explain" object added.
`;

export const command: Command = {
  summary: "one device in depth, and the reason for every decision",
  async run(args, io) {
    const { values, positionals } = parseCommandLine(args, options);
    if (values.help) {
      io.out(help);
      return ExitCode.ok;
    }
    if (positionals.length !== 1) {
      io.err("flavourctl show: expected one ADDRESS (see --help)\n");
      return ExitCode.usage;
    }
    const address = parseAddress(positionals[0] as string);
    const warn = warner(io, "show");
    const view = await openView(values, io, warn);
    let info: DeviceInfo;
    try {
      info = view.host.device(address);
    } catch (error) {
      if (error instanceof AbsentDevice)
        throw new UsageError(`no PCI device ${address} in ${error.devicesDir}`);
      if (error instanceof UnreadableDevice) throw new InputError(error.message);
      throw error;
    }
    const modules = view.kernelModules(info);
    const choice = view.vfioChoice(info);
    const group = view.group(info);
    const names = new PciNames(PCI_IDS_PATHS, indexCacheDir(io.env));
    if (values.json) {
      const explain = {
        modules: modules && {
          stage: modules.lookup.stage,
          builtIn: isBuiltInStage(modules.lookup.stage),
          matches: matchesOf(modules.lookup),
        },
        vfio: choice && {
          reason: choice.reason,
          builtIn: choice.builtIn,
          candidates: choice.candidates.map(({ module, pattern, wildcards, file, line }) => ({
            module,
            pattern,
            wildcards,
            file: file ?? null,
            line: line ?? null,
          })),
        },
        iommuGroup: group,
        driverOverride: overrideText(info),
      };
      io.out(`${JSON.stringify({ ...deviceReport(view, info, names), explain }, null, 2)}\n`);
    } else {
      io.out(showText(view, info, modules?.lookup ?? null, choice, group, painter(io), names));
    }
    // modprobe.d and modules.builtin.modinfo problems met; `resolve` checks modules.alias line by line.
    for (const warning of view.modules?.warnings ?? []) warn(warning);
    return ExitCode.ok;
  },
};

function matchesOf(result: LookupResult) {
  return result.matches.map((m) => {
    const source = m.alias ?? m.config;
    return {
      module: m.module,
      pattern: source?.pattern ?? null,
      file: source?.file ?? null,
      line: source?.line ?? null,
    };
  });
}

/** What driver_override does now (pci_match_device, drivers/pci/pci-driver.c). */
function overrideText(info: DeviceInfo): string {
  const override = info.driverOverride;
  if (override === null) {
    return 'none (reads "(null)"): the first loaded driver whose id table matches the device binds it';
  }
  const lost = "it is lost on remove/rescan, VF re-creation and reboot";
  if (info.driver === override)
    return `${override}: only ${override} may bind the device, and it does; ${lost}`;
  const now =
    info.driver === null
      ? `the device is unbound; drivers_probe binds it to ${override} once that driver is registered`
      : `the device is still on ${info.driver} (bound before the override was written); unbind and drivers_probe move it to ${override}`;
  return `${override}: only ${override} may bind the device; ${now}; ${lost}`;
}

function showText(
  view: DeviceView,
  info: DeviceInfo,
  modules: LookupResult | null,
  choice: VfioChoice | null,
  group: GroupMember[],
  paint: Paint,
  names: PciNames,
): string {
  const lines: string[] = [];
  // one line each, whatever a value from the tree holds (terminal-safe.ts escapes the rest)
  const field = (name: string, value: string) =>
    lines.push(`  ${paint("bold", name.padEnd(13))} ${oneLine(value)}`);
  const detail = (text: string) => lines.push(`                ${oneLine(text)}`);
  const optional = (value: number | null, width: number) => (value === null ? "?" : hex(value, width));

  lines.push(`${paint("bold", info.address)}  ${oneLine(deviceTitle(names, info))}`);
  field(
    "ids",
    `${hex(info.vendor, 4)}:${hex(info.device, 4)}  subsystem ${optional(info.subsystemVendor, 4)}:${optional(info.subsystemDevice, 4)}  class ${hex(info.classCode, 6)}  revision ${optional(info.revision, 2)}`,
  );
  field("modalias", info.modalias ?? "? (unreadable)");
  if (info.driver === null) field("driver", "none");
  else {
    const module = view.host.driverModule(info.driver);
    field(
      "driver",
      `${paint("green", info.driver)}${module ? `, registered by module ${module}` : ", built in or its module not recorded by the host"}`,
    );
  }
  field("override", overrideText(info));

  if (modules === null) field("modules", view.modules ? "? (no modalias)" : "? (modules directory unknown)");
  else if (modules.matches.length === 0) field("modules", "none: no alias line matches the modalias");
  else {
    const names = [...new Set(modules.matches.map((m) => m.module))].join(", ");
    field(
      "modules",
      isBuiltInStage(modules.stage)
        ? `${names}  (built into the kernel: nothing for udev to load, the driver is registered from boot; the ${modules.stage} stage answered)`
        : `${names}  (what udev loads for this modalias; the ${modules.stage} stage answered)`,
    );
    for (const m of modules.matches) {
      const source = m.alias ?? m.config;
      detail(source ? `${source.file}:${source.line}  ${source.pattern} → ${m.module}` : m.module);
    }
  }

  if (choice === null) field("vfio", view.modules ? "? (no modalias)" : "? (modules directory unknown)");
  else {
    const target = choice.tie
      ? `tie between ${choice.tie.join(" and ")}`
      : (choice.module ?? "vfio-pci (by driver name)");
    field("vfio", `${paint("cyan", target)}: ${choice.reason}`);
    if (choice.candidates.length > 0) detail("candidates, best first (fewest wildcard fields wins):");
    choice.candidates.forEach((c, i) => {
      const where = c.file ? `${c.file}:${c.line}  ` : "";
      detail(
        `${i + 1}. ${c.module}  ${c.wildcards} wildcard field${c.wildcards === 1 ? "" : "s"}  ${where}${c.pattern}`,
      );
    });
    if (!choice.tie) detail(vfioDriverText(view, choice));
    const refused = view.vfioRefusal(info);
    if (refused) detail(paint("red", refused));
  }

  if (info.iommuGroup === null)
    field("iommu group", "none (no IOMMU, or it is off): vfio cannot take the device");
  else {
    const blockers = group.filter((m) => m.address !== info.address && m.blocks !== null);
    field(
      "iommu group",
      `${info.iommuGroup}: ${
        blockers.length === 0
          ? "viable for vfio once this device is on a vfio driver"
          : paint(
              "red",
              `not viable for vfio while ${blockers.map((m) => m.address).join(", ")} stay${blockers.length === 1 ? "s" : ""} on host drivers`,
            )
      }`,
    );
    for (const m of group) {
      const self = m.address === info.address ? " (this device)" : "";
      const verdict = m.address === info.address ? "" : m.blocks ? `  blocks: ${m.blocks}` : "  ok";
      detail(`${m.address}  ${m.driver ?? "no driver"}${self}${verdict}`);
    }
  }

  if (info.sriov) {
    const vfs = info.virtfns.length > 0 ? `: ${info.virtfns.join(" ")}` : "";
    field(
      "sr-iov",
      `PF, ${info.sriov.numVfs} of ${info.sriov.totalVfs} VFs enabled${vfs}; sriov_drivers_autoprobe ${info.sriov.driversAutoprobe ? "on" : "off"}`,
    );
  }
  if (info.physfn) field("sr-iov", `VF of ${info.physfn}`);
  field("numa node", info.numaNode === null ? "none" : String(info.numaNode));
  field("bridges", info.parents.length === 0 ? "none (on a root bus)" : info.parents.join(" → "));
  field("vfio-dev", info.vfioBound ? "yes: a vfio driver holds the device" : "no");
  return `${lines.join("\n")}\n`;
}

/** The chosen module's driver, as the host names it (never guessed from the module name). */
function vfioDriverText(view: DeviceView, choice: VfioChoice): string {
  const driver = view.vfioDriver(choice);
  if (choice.module === null) {
    return driver
      ? "driver vfio-pci is registered (built in)"
      : "no vfio-pci driver is registered on this host";
  }
  if (driver)
    return `module ${choice.module} registers driver ${driver} (module/${choice.module}/drivers/pci:${driver})`;
  const drivers = view.host.moduleDrivers(choice.module);
  if (drivers === null) {
    return `module ${choice.module} is not loaded: its driver's name is read from module/${choice.module}/drivers once it is`;
  }
  return `module ${choice.module} is loaded and registers ${drivers.length === 0 ? "no PCI driver" : `several PCI drivers (${drivers.join(", ")})`}`;
}
