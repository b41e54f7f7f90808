// Files kept open to be read in pieces (modules.alias's lines, a cache file's lists): the bytes
// read later are those of the file opened and checked first, even when it is replaced meanwhile
// (depmod renames a new file over the old one).
import { closeSync, readSync } from "node:fs";

/** Up to `length` bytes from `offset` as latin1 text (one character a byte); fewer at the end. */
export function readAt(fd: number, offset: number, length: number): string {
  const bytes = Buffer.allocUnsafe(length);
  let read = 0;
  while (read < length) {
    const got = readSync(fd, bytes, read, length - read, offset + read);
    if (got === 0) break;
    read += got;
  }
  return bytes.toString("latin1", 0, read);
}

/** Closes `fd` once `owner` is collected, unless `forget(owner)` came first (tests open many). */
const descriptors = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // closed already
  }
});

export function closeWhenCollected(owner: object, fd: number): void {
  descriptors.register(owner, fd, owner);
}

export function forget(owner: object): void {
  descriptors.unregister(owner);
}
