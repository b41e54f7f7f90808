// The one way flavourctl reads a file. Trees, rules directories, modules directories, machine
// files and kernel sources may be written by others, and an entry there can be a FIFO (open(2)
// of one for reading waits for a writer: forever), a link to /dev/zero (read(2) never ends) or
// simply huge. So every file is opened with O_NONBLOCK (a FIFO's open returns at once),
// checked with fstat on that descriptor (no race with a rename: the bytes read are the file
// checked), refused unless it is a regular file, and read up to a limit for its kind of file;
// a gzipped file is inflated up to the same limit. A directory reads as it always did: EISDIR;
// /dev/null reads empty.
//
// Opening is the one step done before the check: a link to a device whose open(2) itself acts
// (a watchdog, a tape) would act. sysfs attributes are opened by the million; a stat before
// each open would cost a system call per attribute and still race with the open.
import { type BigIntStats, closeSync, constants, fstatSync, openSync, readSync, type Stats } from "node:fs";
import { InputError } from "./errors.ts";
import { zlib } from "./lazy-builtins.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * How much of each kind of file is read, and what it is called in a message. Each is well above
 * the real thing: the kernel prints an attribute into one page (sysfs_emit: 4 KiB, 64 KiB on
 * 64K-page kernels); Debian 6.12's modules.alias is 1.3 MB; pci.ids 1.4 MB; the largest file of
 * Linux 6.12's source is 16.7 MB (an amdgpu register header).
 */
export const READ_LIMITS = {
  attribute: { limit: 64 * KiB, what: "a sysfs attribute" },
  rule: { limit: 64 * KiB, what: "a rule file" },
  lock: { limit: 4 * KiB, what: "a lock file" },
  config: { limit: 16 * MiB, what: "a modprobe.d file" },
  modules: { limit: 64 * MiB, what: "a modules directory file" },
  names: { limit: 64 * MiB, what: "a pci.ids file" },
  machine: { limit: 16 * MiB, what: "a machine or scenario file" },
  source: { limit: 64 * MiB, what: "a kernel source file" },
  cache: { limit: 256 * MiB, what: "a cache file" },
  input: { limit: 64 * MiB, what: "standard input" },
} as const;

export type ReadKind = keyof typeof READ_LIMITS;

/** A file that is there but not read: not a regular file, or over its limit. */
export class RefusedFile extends InputError {
  readonly path: string;
  /** What is wrong, without the path: "a FIFO, not a regular file". */
  readonly why: string;
  constructor(path: string, why: string) {
    super(`${path}: ${why}`);
    this.name = "RefusedFile";
    this.path = path;
    this.why = why;
  }
}

/** Why a read failed, for a message after the path: the refusal, or `cannot read (CODE)`. */
export function whyUnreadable(error: unknown): string {
  if (error instanceof RefusedFile) return error.why;
  return `cannot read (${(error as NodeJS.ErrnoException | null)?.code ?? String(error)})`;
}

const OPEN = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

const TYPES = new Map<number, string>([
  [constants.S_IFREG, "a regular file"],
  [constants.S_IFDIR, "a directory"],
  [constants.S_IFLNK, "a symbolic link"],
  [constants.S_IFIFO, "a FIFO"],
  [constants.S_IFCHR, "a character device"],
  [constants.S_IFBLK, "a block device"],
  [constants.S_IFSOCK, "a socket"],
]);

/** What a stat's mode says the file is, for a message: "a FIFO", "a character device", … */
export function fileType(mode: number): string {
  return TYPES.get(mode & constants.S_IFMT) ?? "not a regular file";
}

/** /dev/null's device number (major 1, minor 3, as glibc's makedev encodes it). */
const NULL_DEVICE = (1 << 8) | 3;

/**
 * Throws unless the file is a regular file or the null device (it reads empty at once: a link
 * to /dev/null masks a file, and `--config /dev/null` reads no configuration); a directory
 * throws as read(2) would (EISDIR).
 */
/** The null device: a character device of /dev/null's number (under any name). */
export function isNullDevice(mode: number, rdev: number): boolean {
  return (mode & constants.S_IFMT) === constants.S_IFCHR && rdev === NULL_DEVICE;
}

function checkType(mode: number, rdev: number, path: string): void {
  const type = mode & constants.S_IFMT;
  if (type === constants.S_IFREG || isNullDevice(mode, rdev)) return;
  if (type === constants.S_IFDIR) {
    throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${path}'`), {
      code: "EISDIR",
      errno: -21,
      syscall: "read",
      path,
    });
  }
  throw new RefusedFile(path, `${fileType(mode)}, not a regular file`);
}

function tooLarge(path: string, kind: ReadKind, verb = "larger than"): RefusedFile {
  const { limit, what } = READ_LIMITS[kind];
  return new RefusedFile(path, `${verb} ${sizeText(limit)}, the limit for ${what}`);
}

function sizeText(bytes: number): string {
  return bytes >= MiB ? `${bytes / MiB} MiB` : `${bytes / KiB} KiB`;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // the descriptor is gone either way
  }
}

/**
 * A regular file opened for reading, with fstat of the descriptor (to read it in pieces, or to
 * take its identity); the caller closes `fd`. Throws the system error (ENOENT, EACCES, EISDIR)
 * or RefusedFile.
 */
export function openRegular(path: string, kind: ReadKind): { fd: number; stat: BigIntStats } {
  const fd = openSync(path, OPEN);
  try {
    const stat = fstatSync(fd, { bigint: true });
    checkType(Number(stat.mode), Number(stat.rdev), path);
    if (stat.size > BigInt(READ_LIMITS[kind].limit)) throw tooLarge(path, kind);
    return { fd, stat };
  } catch (error) {
    closeQuietly(fd);
    throw error;
  }
}

/** openRegular without the bigint fstat (cheaper): for a file read once, in part. */
export function openRegularFd(path: string, kind: ReadKind): number {
  const fd = openSync(path, OPEN);
  try {
    checked(fd, path, kind);
    return fd;
  } catch (error) {
    closeQuietly(fd);
    throw error;
  }
}

/** Attribute-sized reads go through one buffer (most of list's reads are a few bytes). */
let scratch: Buffer | undefined;

/**
 * The bytes of an open descriptor from its current offset to the end, at most the kind's limit
 * (RefusedFile beyond it). `size` (fstat's, when known) sizes the first buffer; sysfs gives
 * 4096 for every attribute, /proc 0, so the end is where read(2) returns 0.
 */
export function readOpened(fd: number, path: string, kind: ReadKind, size = 0): Buffer {
  const bytes = readInto(fd, path, kind, size);
  return bytes.buffer === scratch?.buffer ? Buffer.from(bytes) : bytes;
}

/** readOpened's bytes; a view of `scratch` when they fit in it (copy or decode them at once). */
function readInto(fd: number, path: string, kind: ReadKind, size: number): Buffer {
  const limit = READ_LIMITS[kind].limit;
  scratch ??= Buffer.allocUnsafe(READ_LIMITS.attribute.limit + 1);
  let buffer = size < scratch.length ? scratch : Buffer.allocUnsafe(Math.min(size + 1, limit + 1));
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      if (length > limit) throw tooLarge(path, kind);
      const bigger = Buffer.allocUnsafe(Math.min(buffer.length * 2, limit + 1));
      buffer.copy(bigger, 0, 0, length);
      buffer = bigger;
    }
    const got = readSync(fd, buffer, length, buffer.length - length, null);
    if (got === 0) break;
    length += got;
  }
  if (length > limit) throw tooLarge(path, kind);
  return buffer.subarray(0, length);
}

/** One whole regular file's bytes (see openRegular for what it throws). */
export function readRegularFile(path: string, kind: ReadKind): Buffer {
  const fd = openSync(path, OPEN);
  try {
    return readOpened(fd, path, kind, checked(fd, path, kind));
  } finally {
    closeQuietly(fd);
  }
}

/**
 * The text of a file that decides what root does (a rule): a regular file, as readRegularText,
 * owned by root or by the user running flavourctl and writable by no one else — else anyone who
 * could write it would steer devices through root (RefusedFile, naming owner or mode).
 */
export function readControlledText(path: string, kind: ReadKind): string {
  const { fd, stat } = openRegular(path, kind);
  try {
    const owner = Number(stat.uid);
    const mode = Number(stat.mode) & 0o7777;
    if (owner !== 0 && owner !== process.geteuid?.())
      throw new RefusedFile(path, `owned by uid ${owner}, neither root nor this user; not trusted`);
    if ((mode & 0o022) !== 0)
      throw new RefusedFile(
        path,
        `writable by ${mode & 0o002 ? "anyone" : "its group"} (mode ${mode.toString(8).padStart(4, "0")}); not trusted — chmod go-w it`,
      );
    return readOpened(fd, path, kind, Number(stat.size)).toString("utf8");
  } finally {
    closeQuietly(fd);
  }
}

/** One whole regular file's text; utf8 or latin1 (one character a byte). */
export function readRegularText(path: string, kind: ReadKind, encoding: "utf8" | "latin1" = "utf8"): string {
  const fd = openSync(path, OPEN);
  try {
    return readInto(fd, path, kind, checked(fd, path, kind)).toString(encoding);
  } finally {
    closeQuietly(fd);
  }
}

/** fstat of the open file (numbers: cheaper than openRegular's bigints), checked; its size. */
function checked(fd: number, path: string, kind: ReadKind): number {
  const stat: Stats = fstatSync(fd);
  checkType(stat.mode, stat.rdev, path);
  if (stat.size > READ_LIMITS[kind].limit) throw tooLarge(path, kind);
  return stat.size;
}

/**
 * gzip data inflated, at most the kind's limit (zlib's maxOutputLength stops inflating there,
 * so a small bomb cannot grow to gigabytes first: RefusedFile naming `path`). Damaged data
 * throws zlib's error, for the caller to word.
 */
export function gunzipBounded(bytes: Uint8Array, path: string, kind: ReadKind): Buffer {
  try {
    return zlib().gunzipSync(bytes, { maxOutputLength: READ_LIMITS[kind].limit });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
      throw tooLarge(path, kind, "inflates to more than");
    }
    throw error;
  }
}
