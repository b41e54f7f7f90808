// Writing a file so that a reader (or the next boot, after a power loss) sees the old file or
// the new one, never part of one: the bytes go to a temporary name beside it, are flushed,
// and the temporary file is renamed over the path.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";

/** Throws when the file cannot be written; the temporary file is then removed. */
export function writeFileAtomically(
  path: string,
  data: string | Uint8Array,
  options: { mode?: number; encoding?: BufferEncoding } = {},
): void {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    const fd = openSync(temporary, "w", options.mode ?? 0o666);
    try {
      if (typeof data === "string") writeSync(fd, data, null, options.encoding ?? "utf8");
      else writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // never made, or already renamed
    }
    throw error;
  }
}
