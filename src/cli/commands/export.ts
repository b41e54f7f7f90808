// flavourctl export nova|libvirt|proxmox [ADDRESS...]: the configuration a VM manager needs for
// the devices flavourctl gives to vfio, in that manager's own format. What is exported is
// decided in src/export/select.ts; the formats are src/export/{nova,libvirt,proxmox}.ts.
import { basename } from "node:path";
import { ExitCode, UsageError } from "../../errors.ts";
import { type ExportSelection, selectExports } from "../../export/select.ts";
import { DeviceView } from "../../flavour/device-view.ts";
import { DEFAULT_RULES_DIR, loadRules } from "../../flavour/rules-store.ts";
import type { Host } from "../../host/host.ts";
import { SysfsHost } from "../../host/sysfs.ts";
import { os } from "../../lazy-builtins.ts";
import { parseAddress, printable } from "../../pci/address.ts";
import { parseCommandLine } from "../args.ts";
import type { Command } from "../command.ts";
import { commandMachineOptions, MACHINE_HELP, openCommandMachine } from "../host.ts";
import { worstExitCode } from "../report.ts";
import { warner } from "./list.ts";

const FORMATS = ["nova", "libvirt", "proxmox"] as const;
type Format = (typeof FORMATS)[number];

/** pve_verify_node_name (pve-common src/PVE/JSONSchema.pm). */
const PVE_NODE = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/;

const help = `usage: flavourctl export nova|libvirt|proxmox [ADDRESS...] [--sysfs DIR | --machine M] [--config DIR] [--node NAME] [--json]

The configuration a VM manager needs for the devices that have a vfio flavour (bound to
vfio-pci or a variant, or named by a saved rule that gives them one), or only for the
ADDRESSes given, in the manager's format, on standard output:
  nova      OpenStack Nova's [pci] section: a device_spec per device ("managed": "no";
            "live_migratable": "yes" where the driver implements migration; by vendor_id and
            product_id where a rule by ids names exactly the devices), and an alias per kind
  libvirt   a <hostdev managed='no'> element per device, <driver model='…'/> for a variant
  proxmox   the cluster mappings (/etc/pve/mapping/pci.cfg) and a hostpciN line per mapping,
            with driver=keep where a variant holds the devices

  --config DIR    the rules directory (default ${DEFAULT_RULES_DIR})
  --node NAME     the Proxmox node the mappings are for (default: this host's short name)
  --json          the devices and the format's entries as one JSON object
  --sysfs DIR     read the sysfs tree at DIR instead of /sys
  --modules DIR   the modules directory (default /lib/modules/$(uname -r))
  --kernel VER    use /lib/modules/VER
${MACHINE_HELP}
Nothing is printed on standard output when a device cannot be exported. Exit codes: 0, 2 (a
damaged rule file or an unreadable device), 7 (a device has no vfio flavour, or its rule's
driver cannot be told yet), 64 (the command line, or an ADDRESS that is not present).
`;

export const command: Command = {
  summary: "the Nova, libvirt or Proxmox configuration of the devices with a vfio flavour",
  async run(args, io) {
    const { values, positionals } = parseCommandLine(args, {
      ...commandMachineOptions,
      node: {
        type: "string",
        check: (name: string) =>
          PVE_NODE.test(name) ? undefined : "a Proxmox node name (letters, digits and '-' inside)",
      },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      io.out(help);
      return ExitCode.ok;
    }
    const [format, ...operands] = positionals;
    if (format === undefined)
      throw new UsageError("expected a format: nova, libvirt or proxmox (see --help)");
    if (!(FORMATS as readonly string[]).includes(format))
      throw new UsageError(`unknown format '${printable(format)}' (nova, libvirt, proxmox)`);
    if (values.node !== undefined && format !== "proxmox")
      throw new UsageError("--node is for the proxmox format");
    const addresses = operands.length > 0 ? [...new Set(operands.map(parseAddress))] : null;
    const node = format === "proxmox" ? (values.node ?? hostNode()) : "";

    const warn = warner(io, "export");
    const opened = await openCommandMachine(values, io);
    const { rules, errors } = loadRules(opened.rulesDir);
    const selection = selectExports(
      {
        view: new DeviceView(await readHost(opened.simulated, values.sysfs, warn), opened.modules, warn),
        modules: opened.modules,
        host: opened.host,
        rules,
        kernelRelease: opened.simulated
          ? opened.simulated.machine.spec.kernel
          : basename(opened.modules.path),
      },
      addresses,
    );
    const problems = [
      ...errors.map((e) => ({
        message: `${e.message} (its rule is not applied, so not exported)`,
        exitCode: e.exitCode,
      })),
      ...selection.problems,
    ];
    for (const warning of selection.warnings) warn(warning);
    if (problems.length > 0) {
      for (const problem of problems) io.err(`flavourctl export: ${problem.message}\n`);
      return worstExitCode(problems.map((p) => p.exitCode));
    }
    for (const device of selection.devices)
      for (const note of device.notes) warn(`${device.address}: ${note}`);
    if (selection.devices.length === 0) {
      warn("no device has a vfio flavour: nothing to export");
      if (!values.json) return ExitCode.ok; // not even nova's [pci] or proxmox's headings
    }
    io.out(await render(format as Format, selection, node, values.json === true));
    return ExitCode.ok;
  },
};

/** The read view list and show use, of the machine the command opened. */
async function readHost(
  simulated: Awaited<ReturnType<typeof openCommandMachine>>["simulated"],
  sysfs: string | undefined,
  warn: (message: string) => void,
): Promise<Host> {
  if (!simulated) return new SysfsHost(sysfs ?? "/sys", warn);
  const { SimHost } = await import("../../host/sim/read-host.ts");
  return new SimHost(simulated.machine);
}

/** This host's name up to its first dot, as Proxmox names a node; it must be a valid node name. */
function hostNode(): string {
  const name = os().hostname().split(".")[0] ?? "";
  if (!PVE_NODE.test(name))
    throw new UsageError(
      `this host's name '${printable(name)}' is not a Proxmox node name: give --node NAME`,
    );
  return name;
}

async function render(
  format: Format,
  selection: ExportSelection,
  node: string,
  json: boolean,
): Promise<string> {
  const { devices } = selection;
  const document = (entries: object) =>
    `${JSON.stringify({ format, devices, [format]: entries }, null, 2)}\n`;
  switch (format) {
    case "nova": {
      const { novaConfig, novaText } = await import("../../export/nova.ts");
      const config = novaConfig(devices);
      if (!json) return novaText(config, devices);
      return document({
        device_spec: config.deviceSpecs.map((e) => e.value),
        alias: config.aliases.map((e) => e.value),
      });
    }
    case "libvirt": {
      const { libvirtHostdev, libvirtText } = await import("../../export/libvirt.ts");
      if (!json) return libvirtText(devices);
      return document({ hostdev: devices.map((d) => ({ address: d.address, xml: libvirtHostdev(d) })) });
    }
    case "proxmox": {
      const { proxmoxHostpci, proxmoxMappings, proxmoxText } = await import("../../export/proxmox.ts");
      const mappings = proxmoxMappings(devices, node);
      if (!json) return proxmoxText(mappings);
      return document({ mappings, hostpci: proxmoxHostpci(mappings) });
    }
  }
}
