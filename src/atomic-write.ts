// Writing a file so that a reader (or the next boot, after a power loss) sees the old file or
// the new one, never part of one: the bytes go to a temporary name beside it, are flushed,
// and the temporary file is renamed over the path. The temporary file is created, never
// opened if it exists (O_EXCL, which follows no symbolic link): in a directory another user
// can write to, a link planted under that name must not make root truncate its target.
import { closeSync, constants, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";

const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;

/** Throws when the file cannot be written; the temporary file, once made, is then removed. */
export function writeFileAtomically(
  path: string,
  data: string | Uint8Array,
  options: { mode?: number; encoding?: BufferEncoding } = {},
): void {
  // unpredictable, so that planting the name in advance cannot even make the write fail
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
  const fd = openSync(temporary, CREATE_NEW, options.mode ?? 0o666);
  try {
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
      // already gone
    }
    throw error;
  }
}
