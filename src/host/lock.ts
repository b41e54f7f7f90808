// One lock per host, so that two flavourctl runs never interleave their steps. The lock file
// holds the owner's pid from the instant it exists (written aside, then hard-linked into place:
// link(2) fails with EEXIST like O_EXCL); a lock whose owner is gone is taken over. Nothing
// here follows a link: the file written aside is created O_EXCL|O_NOFOLLOW under a name no one
// can guess, link(2) and unlink(2) act on a planted link itself, and a lock path that is a link
// (dangling or not) is no lock flavourctl made: it is removed like a dead owner's lock.
// A process that holds the lock may take it again (a command that locks before it reads the
// machine, then gives a device its flavour, whose hook locks too): the file goes with the last
// release.
import { lstatSync, type Stats, unlinkSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ExitCode, FlavourError, systemErrorExitCode } from "../errors.ts";
import { readRegularText } from "../safe-read.ts";
import { makeDirectory, makeHardLink, writeNewFile } from "../safe-write.ts";

export function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Locks this process holds, by path, with how many times it took each. */
const held = new Map<string, number>();

/** What is at `path` now: a lock flavourctl made is a regular file. */
function kindAt(path: string): "absent" | "file" | "link" | "other" {
  let stat: Stats | undefined;
  try {
    stat = lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return "other";
  }
  if (!stat) return "absent";
  return stat.isFile() ? "file" : stat.isSymbolicLink() ? "link" : "other";
}

function ownerAlive(path: string): boolean {
  if (kindAt(path) === "link") return false; // never read through it: not ours, take it over
  let pid: number;
  try {
    pid = Number.parseInt(readRegularText(path, "lock"), 10);
  } catch {
    return true; // released meanwhile, or unreadable: look again
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

const unique = () => `${process.pid}.${Math.random().toString(36).slice(2, 10)}`;

/**
 * Removes a lock whose owner is gone. Only the holder of `PATH.takeover` (created O_EXCL) may,
 * after checking again that the file still names a dead owner: otherwise two waiters that both
 * saw the dead owner could each remove the lock the other had just taken, and both hold it.
 */
function removeStale(path: string): void {
  const guard = `${path}.takeover`;
  try {
    writeNewFile(guard, "");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    // A taker that died mid-takeover leaves its guard: a takeover lasts microseconds. A guard
    // that is no regular file (a planted link, dangling or not) is none of ours: gone at once.
    try {
      const stat = lstatSync(guard);
      if (!stat.isFile() || Math.abs(Date.now() - stat.mtimeMs) > 10_000) unlinkSync(guard);
    } catch {
      // gone already
    }
    return;
  }
  try {
    if (!ownerAlive(path)) unlinkSync(path);
  } catch {
    // removed by its owner meanwhile
  } finally {
    unlinkSync(guard);
  }
}

/** Creates the lock file with our pid already in it; false when it exists. */
function create(path: string): boolean {
  const aside = `${path}.${unique()}`;
  writeNewFile(aside, `${process.pid}\n`);
  try {
    makeHardLink(aside, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    unlinkSync(aside);
  }
}

/** Takes the lock at `path`, waiting up to timeoutMs; returns the function that releases it. */
export function takeLock(lockPath: string, timeoutMs: number): () => void {
  const path = resolve(lockPath);
  const taken = held.get(path);
  if (taken !== undefined) {
    held.set(path, taken + 1);
    return releaser(path);
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      makeDirectory(dirname(path));
      if (create(path)) {
        held.set(path, 1);
        return releaser(path);
      }
    } catch (error) {
      if (systemErrorExitCode(error) === ExitCode.permission) {
        const code = (error as NodeJS.ErrnoException).code ?? "EACCES";
        throw new FlavourError(`cannot take the lock ${path} (${code}): run as root`, ExitCode.permission);
      }
      throw error;
    }
    const kind = kindAt(path);
    if (kind === "other")
      throw new FlavourError(
        `${path}: is not a lock file (a directory, FIFO or device is there); remove it`,
        ExitCode.badInput,
      );
    if (!ownerAlive(path)) {
      removeStale(path);
      if (kindAt(path) === "absent") continue;
    } else if (Date.now() < deadline) {
      sleep(50);
      continue;
    }
    if (Date.now() >= deadline) {
      let owner = "?";
      try {
        if (kindAt(path) === "file") owner = readRegularText(path, "lock").trim();
      } catch {}
      throw new FlavourError(
        `another flavourctl (pid ${owner}) holds ${path}; waited ${timeoutMs} ms — try again when it is done`,
        ExitCode.busy,
      );
    }
    sleep(50);
  }
}

/** Releases one taking of the lock; the file goes with the last. Releasing twice does nothing. */
function releaser(path: string): () => void {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const count = (held.get(path) ?? 1) - 1;
    if (count > 0) {
      held.set(path, count);
      return;
    }
    held.delete(path);
    try {
      unlinkSync(path);
    } catch {
      // already gone: nothing to release
    }
  };
}
