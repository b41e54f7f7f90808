// flavourctl upgrade --from A --to B: what changes for each present device between two modules trees.
import type { Decision, DeviceChange, PresentDevice } from "../../analysis/upgrade.ts";
import { UsageError } from "../../errors.ts";
import { indexCacheDir } from "../../host/cache-dir.ts";
import { type Host, UnreadableDevice } from "../../host/host.ts";
import { ModulesDir } from "../../modules/modules-dir.ts";
import { parseCommandLine, refuseExtraOperands } from "../args.ts";
import type { Command } from "../command.ts";
import { machineOption, openSimulated } from "../host.ts";
import type { Io } from "../io.ts";

const help = `usage: flavourctl upgrade --from DIR_A --to DIR_B [--sysfs DIR | --machine M] [--json]

For each PCI device present, the default driver (the first module libkmod returns for its
pci: modalias: the one udev loads first, whose driver binds) and the vfio flavour (the
vfio_pci: match with the fewest wildcard fields, or vfio_pci) under the modules tree DIR_A and
under DIR_B. Only devices where something changes are listed, with the alias lines
responsible. Nothing is loaded or changed.

  --from DIR_A    the modules tree now (holding modules.alias), e.g. /lib/modules/6.1.0-56-amd64
  --to DIR_B      the modules tree after the upgrade
  --sysfs DIR     a sysfs tree to read devices from (default /sys); a captured copy works
  --machine M     read the devices of a simulated machine instead (a bundled one: demo)
  --json          an array of {"address", "modalias", "driver", "default"?, "vfio"?}
`;

export const command: Command = {
  summary: "what changes for each device between two modules trees",
  async run(args, io) {
    const { values, positionals } = parseCommandLine(args, {
      from: { type: "string" },
      to: { type: "string" },
      sysfs: { type: "string" },
      ...machineOption,
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      io.out(help);
      return 0;
    }
    refuseExtraOperands(positionals);
    if (values.from === undefined || values.to === undefined)
      throw new UsageError("--from and --to are required");
    if (values.machine !== undefined && values.sysfs !== undefined)
      throw new UsageError("--machine and --sysfs do not go together");
    const { upgradeChanges } = await import("../../analysis/upgrade.ts");
    const cacheDir = indexCacheDir(io.env);
    const from = new ModulesDir(values.from, { configPaths: [], cacheDir });
    const to = new ModulesDir(values.to, { configPaths: [], cacheDir });
    from.aliases;
    to.aliases;
    const warn = (message: string) => io.err(`flavourctl upgrade: warning: ${message}\n`);
    const changes = upgradeChanges(presentDevices(await devicesHost(values, io, warn), warn), from, to);
    if (values.json) io.out(`${JSON.stringify(changes, null, 2)}\n`);
    else io.out(format(changes), "latin1");
    return 0;
  },
};

/** The devices' host: a simulated machine (read only, no lock: nothing is written), or a sysfs tree. */
async function devicesHost(
  values: { sysfs?: string; machine?: string },
  io: Io,
  warn: (message: string) => void,
): Promise<Host> {
  if (values.machine !== undefined) {
    const sim = await openSimulated(values.machine, io.env);
    const { SimHost } = await import("../../host/sim/read-host.ts");
    return new SimHost(sim.opened.machine);
  }
  const { SysfsHost } = await import("../../host/sysfs.ts");
  return new SysfsHost(values.sysfs ?? "/sys", warn);
}

function format(changes: DeviceChange[]): string {
  if (changes.length === 0) return "no device changes its default driver or vfio flavour\n";
  const name = (d: Decision) => d.module ?? (d.builtIn ? `(built in: ${d.builtIn.join(" ")})` : "(none)");
  let out = "";
  for (const c of changes) {
    out += `${c.address} ${c.modalias}${c.driver ? ` (bound to ${c.driver})` : ""}\n`;
    for (const [label, pair] of [
      ["default", c.default],
      ["vfio", c.vfio],
    ] as const) {
      if (!pair) continue;
      out += `  ${label}: ${name(pair.from)} -> ${name(pair.to)}\n`;
      out += `    from: ${pair.from.because}\n    to:   ${pair.to.because}\n`;
    }
  }
  return out;
}

/** Every device whose modalias can be read, in bus order; the others are reported and left out. */
function presentDevices(host: Host, warn: (message: string) => void): PresentDevice[] {
  return host.devices().flatMap((address) => {
    try {
      const { modalias, driver } = host.device(address);
      return modalias === null ? [] : [{ address, modalias, driver }];
    } catch (error) {
      if (!(error instanceof UnreadableDevice)) throw error;
      warn(error.message);
      return [];
    }
  });
}
