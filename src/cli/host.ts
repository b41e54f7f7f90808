// The machine a command works on, from its options: the live /sys (default), a sysfs tree
// given with --sysfs, or a simulated machine (--machine NAME|FILE|snapshot:DIR[,modules=DIR]),
// with the modules directory, rules directory and run directory that go with it.
import { statfsSync } from "node:fs";
import { join } from "node:path";
import { InputError, UsageError } from "../errors.ts";
import { DeviceView } from "../flavour/device-view.ts";
import { DEFAULT_RULES_DIR } from "../flavour/rules-store.ts";
import { wireSimHooks } from "../flavour/sim-hooks.ts";
import { indexCacheDir } from "../host/cache-dir.ts";
import type { HostControl } from "../host/control.ts";
import { hostKmodRelease } from "../host/kmod-version.ts";
import type { OpenedMachine } from "../host/sim/open.ts";
import { SysfsHost } from "../host/sysfs.ts";
import { SysfsControl } from "../host/sysfs-control.ts";
import { ModulesDir } from "../modules/modules-dir.ts";
import { kernelOption, modulesDirFrom } from "./args.ts";
import type { Io } from "./io.ts";

export interface MachineOptions {
  sysfs?: string | boolean;
  modules?: string | boolean;
  kernel?: string | boolean;
  machine?: string | boolean;
  config?: string | boolean;
  "run-dir"?: string | boolean;
}

/** How long a writing command waits for another flavourctl's host lock (--wait SECONDS). */
export const lockOption = {
  wait: {
    type: "string",
    check: (seconds: string) => (/^\d{1,4}(\.\d{1,3})?$/.test(seconds) ? undefined : "a number of seconds"),
  },
} as const;

export const LOCK_HELP = `  --wait SECONDS  how long to wait for another flavourctl holding the host lock (default 30),
                  then exit 5
`;

export function lockWaitMs(values: { wait?: string | boolean }): number {
  return typeof values.wait === "string" ? Math.round(Number(values.wait) * 1000) : 30_000;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is refused
const NOT_IN_A_DRIVER_NAME = /[/\x00-\x1f\x7f]/;

/**
 * --driver NAME: a name /sys/bus/pci/drivers could hold — one path component, no control
 * character (spaces are allowed: "i6300ESB timer").
 */
export const driverOption = {
  driver: {
    type: "string",
    check: (name: string) =>
      NOT_IN_A_DRIVER_NAME.test(name) || name === "." || name === ".." ? "a driver name" : undefined,
  },
} as const;

/** The option every command that works on a machine takes. */
export const machineOption = { machine: { type: "string" } } as const;

/** The options openCommandMachine reads: where the machine, its modules and its rules are. */
export const commandMachineOptions = {
  sysfs: { type: "string" },
  ...machineOption,
  modules: { type: "string" },
  ...kernelOption,
  config: { type: "string" },
} as const;

export const MACHINE_HELP = `  --machine M     work on a simulated machine: a bundled one (demo), a machine JSON file, or
                  snapshot:DIR,modules=DIR (a captured sysfs tree); its state, rules and lock
                  live in ~/.local/state/flavourctl/machines/ (see 'flavourctl sim')
`;

export function openModules(values: MachineOptions, env: Io["env"]): ModulesDir {
  return new ModulesDir(modulesDirFrom(values), {
    cacheDir: indexCacheDir(env),
    kmodRelease: () => hostKmodRelease(env),
  });
}

/** SYSFS_MAGIC (include/uapi/linux/magic.h): the filesystem of a live /sys. */
const SYSFS_MAGIC = 0x62656572;

function isSysfsMount(dir: string): boolean {
  try {
    return statfsSync(dir).type === SYSFS_MAGIC;
  } catch {
    return false;
  }
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
      // the running kernel's modprobe only for a live sysfs (one mounted elsewhere, a container's)
      modprobe: isSysfsMount(values.sysfs) ? modprobeFor(modules.path) : null,
    });
  }
  return new SysfsControl({ modprobe: modprobeFor(modules.path) });
}

/**
 * The read-only view list and show print: a simulated machine (--machine), or the sysfs tree
 * (--sysfs DIR, default /sys) and the modules directory (--modules DIR, --kernel VER, default
 * /lib/modules/$(uname -r)). A default modules directory that does not exist is not an error:
 * the modules are then unknown, said once through `warn`. A directory given on the command
 * line must exist.
 */
export async function openView(
  values: Omit<MachineOptions, "config"> & { config?: string[] },
  io: Io,
  warn: (message: string) => void,
): Promise<DeviceView> {
  if (typeof values.machine === "string" || io.machine) {
    if (typeof values.sysfs === "string") throw new UsageError("--machine and --sysfs do not go together");
    const sim = typeof values.machine === "string" ? await openSimulated(values.machine, io.env) : io.machine;
    const { SimHost } = await import("../host/sim/read-host.ts");
    // biome-ignore lint/style/noNonNullAssertion: one of the two is set (tested above)
    return new DeviceView(new SimHost(sim!.opened.machine), sim!.modules, warn);
  }
  const host = new SysfsHost(typeof values.sysfs === "string" ? values.sysfs : "/sys", warn);
  const configPaths = values.config ? { configPaths: values.config } : {};
  let modules: ModulesDir | null = new ModulesDir(modulesDirFrom(values), {
    ...configPaths,
    cacheDir: indexCacheDir(io.env),
    kmodRelease: () => hostKmodRelease(io.env),
  });
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

export interface CommandMachine {
  modules: ModulesDir;
  host: HostControl;
  rulesDir: string;
  runDir: string;
  /** Set for a simulated machine. */
  simulated?: OpenedMachine;
  /** Releases the host lock openCommandMachine took (`lockMs`); nothing when it took none. */
  release: () => void;
}

/** A simulated machine opened in this process (sim run passes its machine to the commands it runs). */
export interface InProcessMachine {
  opened: OpenedMachine;
  modules: ModulesDir;
}

/**
 * Opens a simulated machine with flavourctl's hooks in its udev; with `lockMs`, under its lock
 * (taken before its state is read; `opened.unlock` releases it).
 */
export async function openSimulated(
  text: string,
  env: Io["env"],
  lockMs?: number,
): Promise<InProcessMachine> {
  const { machineSource, openMachine } = await import("../host/sim/open.ts");
  const source = await machineSource(text);
  const opened = openMachine(
    source,
    env,
    (o) => wireSimHooks(o.machine, o.control, source.modules, o),
    lockMs,
  );
  return { opened, modules: source.modules };
}

/**
 * The machine a command works on. A command that changes it passes `lockMs`: the host lock is
 * then taken first, before anything of the machine is read (a simulated machine's saved
 * state, the rules, the devices), on every kind of machine; the caller releases it.
 */
export async function openCommandMachine(
  values: MachineOptions,
  io: Io,
  options: { lockMs?: number } = {},
): Promise<CommandMachine> {
  const config = typeof values.config === "string" ? values.config : undefined;
  const runDir = typeof values["run-dir"] === "string" ? values["run-dir"] : undefined;
  let sim = io.machine;
  if (typeof values.machine === "string") {
    if (typeof values.sysfs === "string") throw new UsageError("--machine and --sysfs do not go together");
    sim = await openSimulated(values.machine, io.env, options.lockMs);
  }
  if (sim) {
    // openMachine took the lock (a machine of this process, sim run's, has none to take)
    const opened = sim.opened;
    return {
      modules: sim.modules,
      host: opened.control,
      rulesDir: config ?? opened.rulesDir,
      runDir: runDir ?? opened.runDir,
      simulated: opened,
      release: () => opened.unlock(),
    };
  }
  const modules = openModules(values, io.env);
  const host = openHost(values, modules);
  return {
    modules,
    host,
    rulesDir: config ?? DEFAULT_RULES_DIR,
    runDir: runDir ?? "/run/flavourctl",
    release: options.lockMs === undefined ? () => {} : host.lock(options.lockMs),
  };
}
