// Writing a file so that a reader (or the next boot, after a power loss) sees the old file or
// the new one, never part of one: the bytes go to a temporary name beside it, are flushed
// (fsync), the temporary file is renamed over the path, and the directory is flushed (fsync):
// the rename is an entry of the directory, and until the directory reaches the disk a power
// loss can leave the old entry, or none (ext4 with data=writeback, XFS). The temporary file is
// created, never opened if it exists (O_EXCL, which follows no symbolic link, and O_NOFOLLOW):
// in a directory another user can write to, a link planted under that name must not make root
// truncate its target. Its name starts with a dot (.NAME.tmp-PID-RANDOM): no reader of a
// directory of rules takes it for one.
import { closeSync, constants, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { syncDirectory } from "./safe-write.ts";

const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export interface AtomicWriteOptions {
  mode?: number;
  encoding?: BufferEncoding;
  /** Test seam: runs once the temporary file is durable, before the rename. */
  beforeRename?: () => void;
}

/** Throws when the file cannot be written; the temporary file, once made, is then removed. */
export function writeFileAtomically(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): void {
  // unpredictable, so that planting the name in advance cannot even make the write fail
  const temporary = temporaryName(path);
  const fd = openSync(temporary, CREATE_NEW, options.mode ?? 0o666);
  try {
    try {
      if (typeof data === "string") writeSync(fd, data, null, options.encoding ?? "utf8");
      else writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    options.beforeRename?.();
    renameSync(temporary, path);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // already gone
    }
    throw error;
  }
  syncDirectory(dirname(path));
}

/** `.NAME.tmp-PID-RANDOM` beside `path`. */
export function temporaryName(path: string): string {
  return join(
    dirname(path),
    `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`,
  );
}
