// Opening a simulated machine by name (bundled), file (a machine JSON) or snapshot
// (snapshot:DIR[,modules=DIR]), with its state kept between CLI runs:
//   $XDG_STATE_HOME/flavourctl/machines/KEY/   (default ~/.local/state/flavourctl/machines/KEY/)
//     state.json   the kernel's state after the last command (bindings, overrides, loaded
//                  modules, VFs, faults); absent → the machine boots
//     state.journal  the changes since state.json was written, one JSON line each (written
//                  after every change; folded into state.json when a command ends)
//     rules.d/     the machine's saved flavours (what /etc/flavourctl/rules.d is on a real host)
//     run/         its /run/flavourctl (the hook's boot marker), emptied at each boot
//     lock         its host lock
// KEY is the bundled name, or `file-NAME-HASH` / `snapshot-HASH` (HASH of the absolute path).
import { createHash, randomUUID } from "node:crypto";
import { readdirSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { basename, join, resolve } from "node:path";
import { writeFileAtomically } from "../../atomic-write.ts";
import { InputError } from "../../errors.ts";
import type { ModulesDir } from "../../modules/modules-dir.ts";
import { RefusedFile, readRegularText, whyUnreadable } from "../../safe-read.ts";
import { appendToFile, makeDirectory } from "../../safe-write.ts";
import { takeLock } from "../lock.ts";
import { bundledMachine } from "./bundled.ts";
import { SimControl } from "./control.ts";
import { type MachineChanges, type MachineState, replayChanges, SimMachine } from "./machine.ts";
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
  /** Names this whole state: only a journal of the same generation extends it. */
  generation?: string;
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
  const journalPath = join(dir, JOURNAL);
  const saved = readSaved(statePath, journalPath);
  const restore = saved !== undefined && saved.digest === source.digest;
  if (!restore && !locked) return undefined;
  const machine = new SimMachine(source.spec, source.modules);
  // The whole state under a new generation, then the journal of the old one goes.
  const saveWhole = () => {
    machine.changes(); // the whole state holds them
    generation = randomUUID();
    writeFileAtomically(
      statePath,
      JSON.stringify({ digest: source.digest, generation, state: machine.save() }),
    );
    rmSync(journalPath, { force: true });
    journalLines = 0;
  };
  let generation = saved?.generation;
  let journalLines = saved?.journalLines ?? 0;
  // After each change (a kernel keeps what was written, even when the process is then
  // killed), one line: the change only. Written whole when the command ends (`unlock`).
  const saveChange = () => {
    const header = journalLines === 0 ? `${JSON.stringify({ generation })}\n` : "";
    appendToFile(journalPath, `${header}${JSON.stringify(machine.changes())}\n`);
    journalLines++;
  };
  const control = new SimControl(machine, {
    persist: saveChange,
    lock: (ms) => takeLock(join(dir, "lock"), ms),
  });
  const opened: OpenedMachine = {
    machine,
    control,
    dir,
    rulesDir: join(dir, "rules.d"),
    runDir: join(dir, "run"),
    booted: false,
    unlock: locked
      ? () => {
          try {
            if (journalLines > 0) saveWhole();
          } finally {
            unlock();
          }
        }
      : unlock,
  };
  machine.kernel.trace.enabled = false;
  beforeBoot(opened);
  if (restore) {
    machine.restore(saved.state);
    machine.changes(); // the restored state is saved already
    // a journal a killed run left (its last line perhaps cut short) is folded in before this
    // command appends to it
    if (locked && journalLines > 0) saveWhole();
  } else {
    rmSync(opened.runDir, { recursive: true, force: true });
    makeDirectory(dir);
    machine.boot();
    opened.booted = true;
    saveWhole();
  }
  return opened;
}

/** Beside state.json: the changes since it was written, one JSON line each (see `load`). */
const JOURNAL = "state.journal";

interface SavedWithJournal extends SavedFile {
  /** Lines of the journal read (0: none). */
  journalLines: number;
}

function readSaved(path: string, journalPath: string): SavedWithJournal | undefined {
  let text: string;
  try {
    text = readRegularText(path, "machine");
  } catch (error) {
    if (error instanceof RefusedFile) throw error;
    return undefined;
  }
  let saved: SavedFile;
  try {
    saved = JSON.parse(text) as SavedFile;
    if (saved.state?.format !== "flavourctl-machine-state/1") throw new Error("unknown format");
  } catch (error) {
    throw new InputError(
      `${path}: damaged machine state (${(error as Error).message}); 'flavourctl sim reset' starts it again`,
    );
  }
  const steps = readJournal(journalPath, saved.generation);
  try {
    return { ...saved, state: replayChanges(saved.state, steps), journalLines: steps.length };
  } catch (error) {
    throw new InputError(
      `${journalPath}: damaged machine state (${(error as Error).message}); 'flavourctl sim reset' starts it again`,
    );
  }
}

/**
 * The journal's steps when it extends this generation of the state (none when it is absent, or
 * of an older generation: the whole state was written after it, and the run was killed before
 * it was removed). A last line without its newline is a step cut short by a kill: left out.
 */
function readJournal(path: string, generation: string | undefined): MachineChanges[] {
  let text: string;
  try {
    text = readRegularText(path, "machine");
  } catch (error) {
    if (error instanceof RefusedFile) throw error;
    return [];
  }
  const lines = text.split("\n");
  lines.pop(); // after the last newline: empty, or a line cut short
  if (lines.length === 0 || generation === undefined) return [];
  let line = 0;
  try {
    const header = JSON.parse(lines[0] as string) as { generation?: unknown };
    if (header.generation !== generation) return [];
    const steps: MachineChanges[] = [];
    for (line = 1; line < lines.length; line++)
      steps.push(JSON.parse(lines[line] as string) as MachineChanges);
    return steps;
  } catch (error) {
    throw new InputError(
      `${path}:${line + 1}: damaged machine state (${(error as Error).message}); 'flavourctl sim reset' starts it again`,
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
    const names = everything
      ? readdirSync(dir).filter((name) => name !== "lock")
      : ["state.json", JOURNAL, "run"];
    for (const name of names) rmSync(join(dir, name), { recursive: true, force: true });
  } finally {
    unlock();
  }
  return dir;
}
