// flavourctl list: every PCI device with its driver, the modules that match it (lspci -k's
// "Kernel modules"), its vfio flavour and its IOMMU group; a table, or JSON for scripts.
import { ExitCode } from "../../errors.ts";
import type { DeviceView } from "../../flavour/device-view.ts";
import { parseSelector, ruleSubjectOf, type Selector, selectorMatches } from "../../flavour/rules.ts";
import { indexCacheDir } from "../../host/cache-dir.ts";
import type { DeviceInfo } from "../../host/host.ts";
import { PCI_IDS_PATHS, PciNames } from "../../host/pci-names.ts";
import { hex } from "../../pci/ids.ts";
import { kernelOption, parseCommandLine, refuseExtraOperands } from "../args.ts";
import type { Command } from "../command.ts";
import { deviceReport } from "../device-report.ts";
import { MACHINE_HELP, machineOption, openView } from "../host.ts";
import type { Io } from "../io.ts";
import { type Paint, painter, type Style, table } from "../style.ts";

const help = `usage: flavourctl list [--sysfs DIR | --machine M] [--modules DIR | --kernel VER] [--config PATH]... [--match SELECTOR] [--json]

Every PCI device: address, class, driver in use, the modules whose pci: aliases match it (what
lspci -k prints as "Kernel modules", in libkmod's order), its vfio flavour (the module
'set ADDRESS vfio' would load; '(refused)' for bridges and devices on vfio-pci's denylist,
'tie:A,B' when two variants match equally well) and its IOMMU group, with a '!' when another
member of the group is bound to a host driver, so vfio cannot have this device alone.

  --sysfs DIR     read the sysfs tree at DIR (a capture, e.g. from 'flavourctl snapshot')
                  instead of /sys
${MACHINE_HELP}  --modules DIR   directory holding modules.alias (default /lib/modules/$(uname -r))
  --kernel VER    use /lib/modules/VER
  --config PATH   modprobe.d file or directory, repeatable; replaces the default search path
  --match SELECTOR  only the devices a rule's 'match SELECTOR' names: 'address DDDD:BB:DD.F',
                  'id VVVV:DDDD[:SVVV:SDDD]', 'class CC[SS[PP]]', 'vfs-of DDDD:BB:DD.F',
                  'pattern GLOB' (see 'flavourctl rules --help')
  --json          an array of objects, one per device (its keys: man flavourctl, list)

Problems reading the tree are warnings on stderr naming the file; a device whose vendor, device
or class cannot be read is left out, and the exit code is then 2.
`;

export const options = {
  sysfs: { type: "string" },
  ...machineOption,
  modules: { type: "string" },
  ...kernelOption,
  config: { type: "string", multiple: true },
  match: {
    type: "string",
    check: (text: string) => {
      const selector = parseSelector(text);
      return typeof selector === "string" ? `a rule's selector: ${selector}` : undefined;
    },
  },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export function warner(io: Io, verb: string): (message: string) => void {
  return (message) => io.err(`flavourctl ${verb}: warning: ${message}\n`);
}

export const command: Command = {
  summary: "every PCI device, its driver, candidate modules, vfio flavour and IOMMU group",
  async run(args, io) {
    const { values, positionals } = parseCommandLine(args, options);
    if (values.help) {
      io.out(help);
      return ExitCode.ok;
    }
    refuseExtraOperands(positionals);
    const warn = warner(io, "list");
    const view = await openView(values, io, warn);
    const infos = view.host
      .devices()
      .map((address) => view.info(address))
      .filter((info) => info !== null)
      .filter(
        (info) => typeof values.match !== "string" || named(parseSelector(values.match) as Selector, info),
      );
    const names = new PciNames(PCI_IDS_PATHS, indexCacheDir(io.env));
    if (values.json) {
      io.out(
        `${JSON.stringify(
          infos.map((info) => deviceReport(view, info, names)),
          null,
          2,
        )}\n`,
      );
    } else {
      io.out(listTable(view, infos, painter(io), names));
    }
    // modprobe.d and modules.builtin.modinfo problems met; `resolve` checks modules.alias line by line.
    for (const warning of view.modules?.warnings ?? []) warn(warning);
    return view.leftOut().length > 0 ? ExitCode.badInput : ExitCode.ok;
  },
};

/** Whether a rule with this selector names the device (the rules' own matcher, rules.ts). */
function named(selector: Selector, info: DeviceInfo): boolean {
  if (info.modalias === null && selector.kind === "pattern") return false;
  return selectorMatches(selector, ruleSubjectOf(info));
}

type Cell = readonly [string, Style?];

export function listTable(view: DeviceView, infos: DeviceInfo[], paint: Paint, names: PciNames): string {
  const header: Cell[] = ["ADDRESS", "CLASS", "DRIVER", "MODULES", "VFIO", "GROUP", "DEVICE"].map(
    (title) => [title, "bold"] as const,
  );
  const rows = infos.map((info): Cell[] => {
    const modules = view.kernelModules(info)?.modules;
    const choice = view.vfioChoice(info);
    const vfio =
      choice === null
        ? "?"
        : choice.tie
          ? `tie:${choice.tie.join(",")}`
          : (choice.module ?? "vfio-pci (by name)");
    const blocked = view.blockers(info).length > 0;
    const ids = `${hex(info.vendor, 4)}:${hex(info.device, 4)}`;
    const vendor = names.vendor(info.vendor);
    const device = names.device(info.vendor, info.device);
    return [
      [info.address],
      [names.className(info.classCode) ?? `class ${hex(info.classCode, 6)}`],
      info.driver === null ? ["-", "dim"] : [info.driver, "green"],
      modules === undefined ? ["?", "dim"] : modules.length === 0 ? ["-", "dim"] : [modules.join(",")],
      view.vfioRefusal(info) ? ["(refused)", "dim"] : [vfio, choice?.tie ? "yellow" : "cyan"],
      info.iommuGroup === null
        ? ["-", "dim"]
        : [`${info.iommuGroup}${blocked ? "!" : ""}`, blocked ? "red" : undefined],
      [[ids, vendor, device].filter((part) => part !== undefined).join(" ")],
    ];
  });
  return table([header, ...rows], paint);
}
