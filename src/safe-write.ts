// The one way flavourctl writes, besides writeFileAtomically (atomic-write.ts): directories
// made one component at a time, new files created exclusively, and writes into a tree (a
// sysfs, real or captured) that never leave it. test/architecture.test.ts fails when a write
// call appears anywhere else in src/.
import {
  closeSync,
  constants,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  realpathSync,
  renameSync,
  statSync,
  symlinkSync,
  writeSync,
} from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { ExitCode, FlavourError, systemErrorExitCode } from "./errors.ts";

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_TRUNC, O_APPEND, O_NOCTTY, O_RDONLY, O_DIRECTORY } =
  constants;

/** The error of a write that failed, as the user sees it: the path, the reason, exit 6 or 2. */
export function writeFailure(path: string, what: string, error: unknown): Error {
  const exitCode = systemErrorExitCode(error);
  if (exitCode === undefined) return error as Error;
  return new FlavourError(`${path}: cannot ${what} (${(error as NodeJS.ErrnoException).code})`, exitCode);
}

/**
 * mkdir -p, one component at a time. Node's own recursive mkdirSync loops forever where
 * mkdir(2) says ENOENT for a path whose parent exists (`/proc/x`: procfs refuses to create, and
 * Node's MKDirpSync then makes the parent again and retries the child). Here each missing
 * component is made once; one that cannot be made, or is not a directory, throws (exit 6 for
 * privileges or a read-only file system, else 2) naming it. Existing components are followed
 * (an operator's /var/run -> /run); a component made here is checked to be a directory.
 */
export function makeDirectory(path: string, mode = 0o755): void {
  const full = resolve(path);
  const parts = full.split(sep).filter((p) => p !== "");
  let at: string = sep;
  for (const part of parts) {
    at = join(at, part);
    try {
      mkdirSync(at, { mode });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST")
        throw writeFailure(at, "make the directory", error);
    }
    let isDirectory: boolean;
    try {
      isDirectory = statSync(at).isDirectory();
    } catch (error) {
      throw writeFailure(at, "make the directory", error);
    }
    if (!isDirectory) throw new FlavourError(`${at}: not a directory (ENOTDIR)`, ExitCode.badInput);
  }
}

/** A new directory beside `prefix` (PREFIX + 6 random characters), made exclusively. */
export function makeNewDirectory(prefix: string): string {
  makeDirectory(dirname(prefix));
  try {
    return mkdtempSync(prefix);
  } catch (error) {
    throw writeFailure(prefix, "make a directory", error);
  }
}

/** Creates `path` with `data`, never opening a file (or link) that is already there. */
export function writeNewFile(path: string, data: string | Uint8Array, mode = 0o644): void {
  const fd = openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  try {
    writeAll(fd, data);
  } finally {
    closeSync(fd);
  }
}

/** Appends `text` to `path`, made when absent; a link at `path` is refused (O_NOFOLLOW), never followed. */
export function appendToFile(path: string, text: string, mode = 0o644): void {
  const fd = openSync(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, mode);
  try {
    writeAll(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** A symbolic link at `at` to `target` (symlink(2) never replaces an existing name). */
export function makeLink(target: string, at: string): void {
  symlinkSync(target, at);
}

/** A second name `at` for the file `existing` (link(2) never replaces or follows `at`). */
export function makeHardLink(existing: string, at: string): void {
  linkSync(existing, at);
}

/** Renames a directory made by makeNewDirectory into place (rename(2) does not follow `to`). */
export function moveIntoPlace(from: string, to: string): void {
  renameSync(from, to);
}

/** Flushes a directory's entries (a rename or a new name in it) to the disk. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, O_RDONLY | O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Appends a line to an existing device file (/dev/kmsg): never creates it. */
export function writeToDevice(path: string, text: string): void {
  const fd = openSync(path, O_WRONLY | O_APPEND | O_NOCTTY);
  try {
    writeAll(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** `path` is `dir` or below it, by path segments (`dir/..x` is below, `dir/../x` is not). */
export function within(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * Where a write to `path` inside the tree `root` would land, resolved: null when the path, or
 * a link on the way, leads out of the tree (`root` itself resolved too: on a real /sys the
 * device entries of bus/pci/devices are links into /sys/devices, which stay inside). A path
 * that does not exist resolves through its deepest existing directory (the write then fails
 * with ENOENT); a dangling link, or a loop, leads nowhere: null.
 */
export function resolveInside(root: string, path: string): string | null {
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch {
    return null;
  }
  let existing = resolve(path);
  let rest = "";
  for (;;) {
    try {
      const real = join(realpathSync(existing), rest);
      return within(realRoot, real) ? real : null;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") return null;
      if (lstatSync(existing, { throwIfNoEntry: false })) return null; // a dangling link
      if (dirname(existing) === existing) return null;
      rest = join(relative(dirname(existing), existing), rest);
      existing = dirname(existing);
    }
  }
}

/**
 * `echo TEXT > PATH` for an attribute of the tree at `root` (a sysfs, or a copy of one): the
 * path is resolved and refused (ELOOP-like, an Error naming it) when it leaves the tree, then
 * the resolved file is opened without following a link and without creating it.
 */
export function writeInside(root: string, path: string, text: string): void {
  const real = resolveInside(root, path);
  if (real === null) {
    throw Object.assign(new Error(`${path}: leads outside ${root}; not written`), { code: "EXDEV" });
  }
  const fd = openSync(real, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_NOCTTY);
  try {
    writeAll(fd, text);
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, data: string | Uint8Array): void {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  // one write(2) for a sysfs attribute: the kernel takes each write as one value
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
}
