// One lock per host, so that two flavourctl runs never interleave their steps. A lock file
// created with O_EXCL holds the owner's pid; a lock whose owner is gone is taken over.
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { ExitCode, FlavourError } from "../errors.ts";

export function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function ownerAlive(path: string): boolean {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(path, "utf8"), 10);
  } catch {
    return true; // being written right now: treat as held
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the lock at `path`, waiting up to timeoutMs; returns the function that releases it. */
export function takeLock(path: string, timeoutMs: number): () => void {
  mkdirSync(dirname(path), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(path, "wx", 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          unlinkSync(path);
        } catch {
          // already gone: nothing to release
        }
      };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
        throw new FlavourError(`cannot take the lock ${path} (${code}): run as root`, ExitCode.permission);
      }
      if (code !== "EEXIST") throw error;
    }
    if (!ownerAlive(path)) {
      try {
        unlinkSync(path);
      } catch {
        // another waiter removed it first
      }
      continue;
    }
    if (Date.now() >= deadline) {
      let owner = "?";
      try {
        owner = readFileSync(path, "utf8").trim();
      } catch {}
      throw new FlavourError(
        `another flavourctl (pid ${owner}) holds ${path}; waited ${timeoutMs} ms — try again when it is done`,
        ExitCode.busy,
      );
    }
    sleep(50);
  }
}
