// The machine a command works on, from its options: the live /sys (default) or a sysfs tree
// given with --sysfs, and the modules directory that goes with it.
import { release } from "node:os";
import { join } from "node:path";
import { InputError } from "../errors.ts";
import { DeviceView } from "../flavour/device-view.ts";
import type { HostControl } from "../host/control.ts";
import { SysfsHost } from "../host/sysfs.ts";
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

/**
 * The read-only view list and show print: the sysfs tree (--sysfs DIR, default /sys) and the
 * modules directory (--modules DIR, --kernel VER, default /lib/modules/$(uname -r)). A default
 * modules directory that does not exist is not an error: the modules are then unknown, said
 * once through `warn`. A directory given on the command line must exist.
 */
export function openView(
  values: MachineOptions & { config?: string[] },
  warn: (message: string) => void,
): DeviceView {
  const host = new SysfsHost(typeof values.sysfs === "string" ? values.sysfs : "/sys", warn);
  const configPaths = values.config ? { configPaths: values.config } : {};
  let modules: ModulesDir | null = new ModulesDir(modulesDirFrom(values, release()), configPaths);
  try {
    modules.aliases; // read now: a missing modules.alias is known before any output
  } catch (error) {
    const chosen = typeof values.modules === "string" || typeof values.kernel === "string";
    if (chosen || !(error instanceof InputError)) throw error;
    warn(`modules unknown (${error.message}); pass --modules DIR or --kernel VER for candidate modules`);
    modules = null;
  }
  return new DeviceView(host, modules, warn);
}
