// The machine a command works on, from its options: the live /sys (default) or a sysfs tree
// given with --sysfs, and the modules directory that goes with it.
import { release } from "node:os";
import { join } from "node:path";
import type { HostControl } from "../host/control.ts";
import { SysfsControl } from "../host/sysfs-control.ts";
import { ModulesDir } from "../modules/modules-dir.ts";
import { modulesDirFrom } from "./args.ts";

export interface MachineOptions {
  sysfs?: string | boolean;
  modules?: string | boolean;
  kernel?: string | boolean;
}

export function openModules(values: MachineOptions): ModulesDir {
  return new ModulesDir(modulesDirFrom(values, release()));
}

/** modprobe must look where the lookup looked: `-d ROOT -S VER` for ROOT/lib/modules/VER. */
function modprobeFor(modulesDir: string): string[] {
  const match = /^(.*)\/lib\/modules\/([^/]+)\/?$/.exec(modulesDir);
  if (!match) return ["modprobe"];
  const [, root, version] = match as unknown as [string, string, string];
  return root === "" ? ["modprobe", "-S", version] : ["modprobe", "-d", root, "-S", version];
}

export function openHost(values: MachineOptions, modules: ModulesDir): HostControl {
  if (typeof values.sysfs === "string") {
    return new SysfsControl({
      sysfs: values.sysfs,
      proc: null,
      dev: join(values.sysfs, "dev"),
      lockPath: join(values.sysfs, ".flavourctl.lock"),
      modprobe: modprobeFor(modules.path),
    });
  }
  return new SysfsControl({ modprobe: modprobeFor(modules.path) });
}
