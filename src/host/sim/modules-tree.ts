// The modules directory a simulated machine ships, written the way depmod and modpost would:
// modules.alias from the id tables through file2alias (so a vfio_pci: line appears exactly
// where an override_only entry is), modules.dep, modules.builtin, modules.softdep, and the
// machine's blacklist as a modprobe.d file. The real lookup core reads it in memory.
import { pciEntryAlias } from "../../modules/file2alias.ts";
import { ModulesDir } from "../../modules/modules-dir.ts";
import type { MachineSpec } from "./machine-format.ts";

const path = (name: string) => `kernel/sim/${name}.ko`;

export function modulesTreeFiles(spec: MachineSpec): Map<string, string> {
  const alias: string[] = ["# Aliases extracted from modules themselves."];
  const dep: string[] = [];
  const builtin: string[] = [];
  const softdep: string[] = [];
  for (const m of spec.modules) {
    if (m.builtin) {
      builtin.push(path(m.name));
      continue;
    }
    dep.push(`${path(m.name)}:${m.depends.map((d) => ` ${path(d)}`).join("")}`);
    if (m.softdep) softdep.push(`softdep ${m.name} ${m.softdep}`);
    for (const d of m.drivers)
      for (const id of d.ids) {
        const a = pciEntryAlias(id);
        if (a.pattern !== undefined) alias.push(`alias ${a.pattern} ${m.name}`);
      }
  }
  const lines = (list: string[]) => (list.length > 0 ? `${list.join("\n")}\n` : "");
  return new Map([
    ["modules.alias", lines(alias)],
    ["modules.dep", lines(dep)],
    ["modules.builtin", lines(builtin)],
    [
      "modules.softdep",
      softdep.length > 0 ? `# Soft dependencies extracted from modules themselves.\n${lines(softdep)}` : "",
    ],
    ["modprobe.d/flavourctl-machine.conf", lines(spec.blacklist.map((b) => `blacklist ${b}`))],
  ]);
}

/** The machine's modules tree as the lookup core reads it, at a path that names it. */
export function machineModules(spec: MachineSpec): ModulesDir {
  return new ModulesDir(`/lib/modules/${spec.kernel}`, { files: modulesTreeFiles(spec) });
}
