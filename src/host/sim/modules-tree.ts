// The modules directory a simulated machine ships, written the way depmod and modpost would:
// modules.alias from the id tables through file2alias (so a vfio_pci: line appears exactly
// where an override_only entry is), modules.dep, modules.builtin, modules.softdep, and the
// machine's blacklist as a modprobe.d file. From Linux 6.18 the aliases of built-in drivers go
// into modules.builtin.modinfo (modpost writes them into vmlinux.o's .modinfo, and depmod
// makes modules.builtin.alias.bin of them): a simulated kernel of 6.18 or later has it too.
// The real lookup core reads it in memory.
import { pciEntryAlias } from "../../modules/file2alias.ts";
import { ModulesDir } from "../../modules/modules-dir.ts";
import type { MachineSpec } from "./machine-format.ts";

const path = (name: string) => `kernel/sim/${name}.ko`;

export function modulesTreeFiles(spec: MachineSpec): Map<string, string> {
  const alias: string[] = ["# Aliases extracted from modules themselves."];
  const dep: string[] = [];
  const builtin: string[] = [];
  const softdep: string[] = [];
  const builtinModinfo: string[] = [];
  const builtinAliases = kernelAtLeast(spec.kernel, 6, 18);
  for (const m of spec.modules) {
    if (m.builtin) {
      builtin.push(path(m.name));
      if (builtinAliases)
        for (const d of m.drivers)
          for (const id of d.ids) {
            const a = pciEntryAlias(id);
            if (a.pattern !== undefined) builtinModinfo.push(`${m.name}.alias=${a.pattern}\0`);
          }
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
  const files = new Map([
    ["modules.alias", lines(alias)],
    ["modules.dep", lines(dep)],
    ["modules.builtin", lines(builtin)],
    [
      "modules.softdep",
      softdep.length > 0 ? `# Soft dependencies extracted from modules themselves.\n${lines(softdep)}` : "",
    ],
    ["modprobe.d/flavourctl-machine.conf", lines(spec.blacklist.map((b) => `blacklist ${b}`))],
  ]);
  if (builtinAliases) files.set("modules.builtin.modinfo", builtinModinfo.join(""));
  return files;
}

/** Whether a kernel release string (`7.2.13-sim`) is MAJOR.MINOR or later; false when unreadable. */
export function kernelAtLeast(release: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

/** The machine's modules tree as the lookup core reads it, at a path that names it. */
export function machineModules(spec: MachineSpec): ModulesDir {
  return new ModulesDir(`/lib/modules/${spec.kernel}`, { files: modulesTreeFiles(spec) });
}
