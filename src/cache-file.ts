// Files in flavourctl's cache directory (host/cache-dir.ts) that save re-reading a big input:
// the modules.alias prefixes (modules/alias-cache.ts), the pci.ids index (host/pci-names.ts).
// Each is: a line naming its format, a JSON header line that names the input by absolute path
// and identity (fstat of the bytes it was made from), then a payload. Written atomically
// (atomic-write.ts): a reader sees a whole file or none. One that is absent, of another
// format, unreadable, made from other bytes, or not this user's own (readOwnFile) is not used;
// one that cannot be written costs only the speed-up.
import type { BigIntStats } from "node:fs";
import { closeSync, unlinkSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { writeFileAtomically } from "./atomic-write.ts";
import { closeWhenCollected, readAt } from "./descriptor.ts";
import { openRegular, readOpened } from "./safe-read.ts";
import { makeDirectory } from "./safe-write.ts";

/** Which bytes a file holds (device, inode, size, modification and change times), from fstat. */
export function identityOf(stat: BigIntStats): string {
  return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
}

/** The cache file for `source` (its absolute path, hashed, names it; its directory, for people). */
export function cachePath(cacheDir: string, source: string, suffix: string): string {
  const absolute = resolve(source);
  let hash = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < absolute.length; i++) hash = Math.imul(hash ^ absolute.charCodeAt(i), 0x01000193);
  const name = basename(dirname(absolute)).replace(/[^A-Za-z0-9._+-]/g, "_");
  return join(cacheDir, `${name}-${(hash >>> 0).toString(16).padStart(8, "0")}.${suffix}`);
}

export interface CacheHeader {
  source: string;
  identity: string;
}

/** The header and payload of a cache file made in `format` from these bytes of `source`. */
export function readCacheFile<H extends CacheHeader>(
  path: string,
  format: string,
  source: string,
  identity: string,
): { header: H; payload: string } | undefined {
  const text = readOwnFile(path)?.toString("latin1");
  if (text === undefined) return undefined;
  const found = headerIn<H>(text, format, source, identity);
  return typeof found === "object" ? { header: found.header, payload: text.slice(found.start) } : undefined;
}

/**
 * readCacheFile for a payload of bytes: a view of them, starting at a multiple of 8 bytes into
 * its buffer (writeCacheBytes pads the header so) for typed-array views of its parts.
 */
export function readCacheBytes<H extends CacheHeader>(
  path: string,
  format: string,
  source: string,
  identity: string,
): { header: H; payload: Uint8Array } | undefined {
  const bytes = readOwnFile(path);
  if (bytes === undefined) return undefined;
  const headEnd = bytes.indexOf(NEWLINE, bytes.indexOf(NEWLINE) + 1);
  if (headEnd < 0) return undefined;
  const found = headerIn<H>(bytes.toString("latin1", 0, headEnd + 1), format, source, identity);
  if (typeof found !== "object") return undefined;
  let payload = bytes.subarray(found.start);
  // a small file is read into Node's buffer pool, whose slices start at multiples of 8; were
  // one not to, its views would throw: the payload is then copied
  if (payload.byteOffset % 8 !== 0) payload = Uint8Array.prototype.slice.call(payload) as Buffer;
  return { header: found.header, payload };
}

const NEWLINE = 0x0a;

/** writeCacheFile for a payload of bytes, which readCacheBytes gives back aligned to 8 bytes. */
export function writeCacheBytes(
  path: string,
  format: string,
  header: CacheHeader & Record<string, unknown>,
  payload: Uint8Array,
): void {
  const full: CacheHeader = { ...header, source: resolve(header.source) };
  // one byte a character: what is beyond latin1 (an excerpt's …) as a JSON \u escape
  const json = JSON.stringify(full).replace(
    /[\u0100-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  let head = `${format}\n${json}`;
  // spaces after the JSON, which its parser skips, up to a multiple of 8 with the newline
  head = head.padEnd(Math.ceil((head.length + 1) / 8) * 8 - 1, " ");
  try {
    makeDirectory(dirname(path));
    const data = new Uint8Array(head.length + 1 + payload.length);
    for (let i = 0; i < head.length; i++) data[i] = head.charCodeAt(i);
    data[head.length] = NEWLINE;
    data.set(payload, head.length + 1);
    writeFileAtomically(path, data, { mode: 0o644 });
  } catch {
    // A read-only or full cache directory: the next command makes it again.
  }
}

/** A cache file's payload, read range by range: a command reads the parts it needs. */
export interface Payload {
  readonly length: number;
  /** Characters [start, end); undefined when the file is shorter than its header said. */
  text(start: number, end: number): string | undefined;
}

/** A payload held in memory (a cache just made). */
export function payloadOf(text: string): Payload {
  return { length: text.length, text: (start, end) => text.slice(start, end) };
}

/** How much of a cache file is read at first: its format and header lines fit in it. */
const HEAD_READ = 16384;

/**
 * Like readCacheFile, but only the format and header lines are read now, and the payload when
 * asked, through the descriptor opened (and checked, readOwnFile) now.
 */
export function openCacheFile<H extends CacheHeader>(
  path: string,
  format: string,
  source: string,
  identity: string,
): { header: H; payload: Payload } | undefined {
  const opened = openOwnFile(path);
  if (opened === undefined) return undefined;
  const { fd, size } = opened;
  let keep = false;
  try {
    for (let length = Math.min(size, HEAD_READ); ; length = Math.min(size, length * 4)) {
      const found = headerIn<H>(readAt(fd, 0, length), format, source, identity);
      if (found === "more" && length < size) continue;
      if (typeof found !== "object") return undefined;
      const start = found.start;
      const payload: Payload = {
        length: size - start,
        text: (from, to) => {
          const text = readAt(fd, start + from, to - from);
          return text.length === to - from ? text : undefined;
        },
      };
      closeWhenCollected(payload, fd);
      keep = true;
      return { header: found.header, payload };
    }
  } catch {
    return undefined;
  } finally {
    if (!keep) closeSync(fd);
  }
}

/**
 * The header in a cache file's first characters `head`, and where its payload starts; "more"
 * when `head` ends before the header line does; undefined when the file is of another format,
 * or made from another source or other bytes.
 */
function headerIn<H extends CacheHeader>(
  head: string,
  format: string,
  source: string,
  identity: string,
): { header: H; start: number } | "more" | undefined {
  const formatEnd = head.indexOf("\n");
  const headerEnd = head.indexOf("\n", formatEnd + 1);
  if (formatEnd < 0 || headerEnd < 0) {
    return formatEnd < 0 || head.slice(0, formatEnd) === format ? "more" : undefined;
  }
  if (head.slice(0, formatEnd) !== format) return undefined;
  let header: H;
  try {
    header = JSON.parse(head.slice(formatEnd + 1, headerEnd));
  } catch {
    return undefined;
  }
  if (header?.source !== resolve(source) || header.identity !== identity) return undefined;
  return { header, start: headerEnd + 1 };
}

/** `header`: the source and identity, and whatever else the format records of its payload. */
export function writeCacheFile(
  path: string,
  format: string,
  header: CacheHeader & Record<string, unknown>,
  payload: string,
): void {
  try {
    makeDirectory(dirname(path));
    const full: CacheHeader = { ...header, source: resolve(header.source) };
    writeFileAtomically(path, `${format}\n${JSON.stringify(full)}\n${payload}`, {
      mode: 0o644,
      encoding: "latin1",
    });
  } catch {
    // A read-only or full cache directory: the next command reads the input again.
  }
}

/**
 * The file's bytes if this user owns it and no one else may write it; else undefined. A cache
 * decides what commands print and, for the code cache, what runs: one another user could have
 * written or changed is never trusted. Checked on the descriptor that is read.
 */
export function readOwnFile(path: string): Buffer | undefined {
  const opened = openOwnFile(path);
  if (opened === undefined) return undefined;
  try {
    return readOpened(opened.fd, path, "cache", opened.size);
  } catch {
    return undefined;
  } finally {
    closeSync(opened.fd);
  }
}

/**
 * readOwnFile's checks, on a descriptor left open for the caller, with the file's size. Not a
 * regular file, or over the limit (safe-read.ts): as absent.
 */
function openOwnFile(path: string): { fd: number; size: number } | undefined {
  let opened: { fd: number; stat: BigIntStats };
  try {
    opened = openRegular(path, "cache");
  } catch {
    return undefined;
  }
  const { fd, stat } = opened;
  if (Number(stat.uid) === process.getuid?.() && (Number(stat.mode) & 0o022) === 0) {
    return { fd, size: Number(stat.size) };
  }
  closeSync(fd);
  return undefined;
}

export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone, or never made
  }
}
