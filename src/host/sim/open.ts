// Opening a simulated machine by name (bundled), file (a machine JSON) or snapshot
// (snapshot:DIR[,modules=DIR]), with its state kept between CLI runs:
//   $XDG_STATE_HOME/flavourctl/machines/KEY/   (default ~/.local/state/flavourctl/machines/KEY/)
//     state.json   the kernel's state after the last command (bindings, overrides, loaded
//                  modules, VFs, faults); absent → the machine boots
//     rules.d/     the machine's saved flavours (what /etc/flavourctl/rules.d is on a real host)
//     run/         its /run/flavourctl (the hook's boot marker), emptied at each boot
//     lock         its host lock
// KEY is the bundled name, or `file-NAME-HASH` / `snapshot-HASH` (HASH of the absolute path).
import { createHash } from "node:crypto";
import { readdirSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { basename, join, resolve } from "node:path";
import { writeFileAtomically } from "../../atomic-write.ts";
import { InputError } from "../../errors.ts";
import type { ModulesDir } from "../../modules/modules-dir.ts";
import { RefusedFile, readRegularText, whyUnreadable } from "../../safe-read.ts";
import { makeDirectory } from "../../safe-write.ts";
import { takeLock } from "../lock.ts";
import { bundledMachine } from "./bundled.ts";
import { SimControl } from "./control.ts";
import { type MachineState, SimMachine } from "./machine.ts";
import { type MachineSpec, readMachine } from "./machine-format.ts";
import { machineModules } from "./modules-tree.ts";
import { snapshotMachine } from "./snapshot.ts";

export interface MachineSource {
  spec: MachineSpec;
  modules: ModulesDir;
  key: string;
  /** Identifies the definition: a saved state of another definition is not restored. */
  digest: string;
}

const digestOf = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 16);

/** NAME (bundled), FILE (a machine JSON) or snapshot:DIR[,modules=DIR]. */
export async function machineSource(text: string): Promise<MachineSource> {
  if (text.startsWith("snapshot:")) {
    const { spec, modules, path } = snapshotMachine(text.slice("snapshot:".length));
    return { spec, modules, key: `snapshot-${digestOf(path)}`, digest: digestOf(JSON.stringify(spec)) };
  }
  const bundled = bundledMachine(text);
  if (bundled) {
    const spec = readMachine(await bundled, `bundled machine ${text}`);
    return { spec, modules: machineModules(spec), key: text, digest: digestOf(JSON.stringify(spec)) };
  }
  if (!text.includes("/") && !text.endsWith(".json"))
    throw new InputError(
      `no bundled machine '${text}' (bundled: demo, thread; or give a machine file path or snapshot:DIR)`,
    );
  const path = resolve(text);
  let raw: string;
  try {
    raw = readRegularText(path, "machine");
  } catch (error) {
    throw new InputError(`${path}: ${whyUnreadable(error)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new InputError(`${path}: not JSON: ${(error as Error).message}`);
  }
  const spec = readMachine(json, path);
  return {
    spec,
    modules: machineModules(spec),
    key: `file-${basename(path, ".json").replace(/[^A-Za-z0-9_-]/g, "_")}-${digestOf(path)}`,
    digest: digestOf(raw),
  };
}

export function stateHome(env: Record<string, string | undefined>): string {
  return env.XDG_STATE_HOME
    ? join(env.XDG_STATE_HOME, "flavourctl")
    : join(env.HOME ?? homedir(), ".local/state/flavourctl");
}

export interface OpenedMachine {
  machine: SimMachine;
  control: SimControl;
  dir: string;
  rulesDir: string;
  runDir: string;
  /** True when this run booted the machine (no saved state). */
  booted: boolean;
  /** Releases the lock openMachine took (`lockMs`); does nothing when it took none. */
  unlock: () => void;
}

interface SavedFile {
  digest: string;
  state: MachineState;
}

/**
 * The machine with its saved state, or freshly booted (then `beforeBoot` wires userspace
 * hooks first, so the boot's coldplug events reach them). With `lockMs` (a command that
 * changes the machine) its lock is taken first, before the state is read: two commands that
 * each read the state, then took the lock in turn, each saved its own machine over the
 * other's change.
 */
export function openMachine(
  source: MachineSource,
  env: Record<string, string | undefined>,
  beforeBoot: (opened: OpenedMachine) => void,
  lockMs?: number,
): OpenedMachine {
  const dir = join(stateHome(env), "machines", source.key);
  const lockPath = join(dir, "lock");
  const unlock = lockMs === undefined ? () => {} : takeLock(lockPath, lockMs);
  let opened: OpenedMachine | undefined;
  try {
    opened = load(source, dir, beforeBoot, unlock, lockMs !== undefined);
  } catch (error) {
    unlock();
    throw error;
  }
  if (opened) return opened;
  // A reader that finds no state boots the machine under the lock (and looks again there), so
  // that the booted state it saves never replaces the state a writer saved meanwhile.
  const booted = openMachine(source, env, beforeBoot, 30_000);
  booted.unlock();
  booted.unlock = () => {};
  return booted;
}

function load(
  source: MachineSource,
  dir: string,
  beforeBoot: (opened: OpenedMachine) => void,
  unlock: () => void,
  locked: boolean,
): OpenedMachine | undefined {
  const statePath = join(dir, "state.json");
  const saved = readSaved(statePath);
  const restore = saved !== undefined && saved.digest === source.digest;
  if (!restore && !locked) return undefined;
  const machine = new SimMachine(source.spec, source.modules);
  const save = () =>
    writeFileAtomically(statePath, JSON.stringify({ digest: source.digest, state: machine.save() }));
  const control = new SimControl(machine, { persist: save, lock: (ms) => takeLock(join(dir, "lock"), ms) });
  const opened: OpenedMachine = {
    machine,
    control,
    dir,
    rulesDir: join(dir, "rules.d"),
    runDir: join(dir, "run"),
    booted: false,
    unlock,
  };
  machine.kernel.trace.enabled = false;
  beforeBoot(opened);
  if (restore) {
    machine.restore(saved.state);
  } else {
    rmSync(opened.runDir, { recursive: true, force: true });
    makeDirectory(dir);
    machine.boot();
    opened.booted = true;
    save();
  }
  return opened;
}

function readSaved(path: string): SavedFile | undefined {
  let text: string;
  try {
    text = readRegularText(path, "machine");
  } catch (error) {
    if (error instanceof RefusedFile) throw error;
    return undefined;
  }
  try {
    const saved = JSON.parse(text) as SavedFile;
    if (saved.state?.format !== "flavourctl-machine-state/1") throw new Error("unknown format");
    return saved;
  } catch (error) {
    throw new InputError(
      `${path}: damaged machine state (${(error as Error).message}); 'flavourctl sim reset' starts it again`,
    );
  }
}

/**
 * Power off: the next use boots the machine again (its saved rules stay, as /etc does). Under
 * the machine's lock, which stays in place until it is released.
 */
export function resetMachine(
  key: string,
  env: Record<string, string | undefined>,
  everything: boolean,
): string {
  const dir = join(stateHome(env), "machines", key);
  const unlock = takeLock(join(dir, "lock"), 5000);
  try {
    const names = everything ? readdirSync(dir).filter((name) => name !== "lock") : ["state.json", "run"];
    for (const name of names) rmSync(join(dir, name), { recursive: true, force: true });
  } finally {
    unlock();
  }
  return dir;
}
