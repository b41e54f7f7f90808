// One lock per host, so that two flavourctl runs never interleave their steps. The lock file
// holds the owner's pid from the instant it exists (written aside, then hard-linked into place:
// link(2) fails with EEXIST like O_EXCL); a lock whose owner is gone is taken over.
import { closeSync, linkSync, mkdirSync, openSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { ExitCode, FlavourError } from "../errors.ts";
import { readRegularText } from "../safe-read.ts";

export function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function ownerAlive(path: string): boolean {
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

/**
 * Removes a lock whose owner is gone. Only the holder of `PATH.takeover` (created O_EXCL) may,
 * after checking again that the file still names a dead owner: otherwise two waiters that both
 * saw the dead owner could each remove the lock the other had just taken, and both hold it.
 */
function removeStale(path: string): void {
  const guard = `${path}.takeover`;
  try {
    closeSync(openSync(guard, "wx", 0o644));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    // A taker that died mid-takeover leaves its guard: a takeover lasts microseconds.
    try {
      if (Date.now() - statSync(guard).mtimeMs > 10_000) unlinkSync(guard);
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
  const aside = `${path}.${process.pid}`;
  writeFileSync(aside, `${process.pid}\n`, { mode: 0o644 });
  try {
    linkSync(aside, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    unlinkSync(aside);
  }
}

/** Takes the lock at `path`, waiting up to timeoutMs; returns the function that releases it. */
export function takeLock(path: string, timeoutMs: number): () => void {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
      if (create(path)) {
        return () => {
          try {
            unlinkSync(path);
          } catch {
            // already gone: nothing to release
          }
        };
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
        throw new FlavourError(`cannot take the lock ${path} (${code}): run as root`, ExitCode.permission);
      }
      throw error;
    }
    if (!ownerAlive(path)) {
      removeStale(path);
      continue;
    }
    if (Date.now() >= deadline) {
      let owner = "?";
      try {
        owner = readRegularText(path, "lock").trim();
      } catch {}
      throw new FlavourError(
        `another flavourctl (pid ${owner}) holds ${path}; waited ${timeoutMs} ms — try again when it is done`,
        ExitCode.busy,
      );
    }
    sleep(50);
  }
}
