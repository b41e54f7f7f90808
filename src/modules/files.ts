// Reading the files of a modules directory. Text is read as latin1 so that every byte is one
// character: libkmod compares bytes, and so must we. A `.gz` twin is read when the plain file
// is absent (the fixtures ship gzipped).
import { closeSync } from "node:fs";
import { join } from "node:path";
import { identityOf } from "../cache-file.ts";
import { closeWhenCollected, forget, readAt } from "../descriptor.ts";
import { InputError } from "../errors.ts";
import { gunzipBounded, openRegular, RefusedFile, readOpened, whyUnreadable } from "../safe-read.ts";

export interface TextFile {
  path: string;
  text: string;
  /**
   * Which bytes these are (cache-file.ts identityOf), from fstat of the descriptor they were
   * read through: a cache of the file is valid while its recorded identity is this one (depmod
   * replaces a file by renaming a new one over it).
   */
  identity?: string;
}

/**
 * A file read whole only when its text is first asked for; before that, pieces of it are read
 * through the descriptor it was opened (and its identity taken) with — the same bytes. A command
 * that looks up a few devices through the index cache reads some thirty lines of modules.alias
 * (1.4 MB): the file is not read, nor held as one big string.
 */
export class LazyTextFile implements TextFile {
  readonly path: string;
  readonly identity: string;
  private fd: number | undefined;
  private whole: string | undefined;
  /** Why the whole text could not be read: said again to every later question. */
  private failed: UnreadableFile | undefined;

  /** fstat's size when opened: the whole read takes one buffer of it, not a growing one. */
  private readonly size: number;

  constructor(path: string, fd: number, identity: string, size = 0) {
    this.path = path;
    this.fd = fd;
    this.identity = identity;
    this.size = size;
    closeWhenCollected(this, fd);
  }

  get text(): string {
    if (this.whole !== undefined) return this.whole;
    if (this.failed) throw this.failed;
    const fd = this.fd as number;
    this.fd = undefined;
    forget(this);
    try {
      this.whole = readOpened(fd, this.path, "modules", this.size).toString("latin1");
      return this.whole;
    } catch (error) {
      this.failed = new UnreadableFile(`${this.path}: ${whyUnreadable(error)}`);
      throw this.failed;
    } finally {
      try {
        closeSync(fd);
      } catch {
        // the bytes are read, or the read failed and says why
      }
    }
  }

  /** Whether the text is read (a piece is then a slice of it). */
  get isRead(): boolean {
    return this.whole !== undefined;
  }

  /** Up to `length` characters (bytes) from `offset`; fewer at the end of the file. */
  piece(offset: number, length: number): string {
    if (this.fd === undefined) return this.text.slice(offset, offset + length); // read, or failed
    try {
      return readAt(this.fd, offset, length);
    } catch (error) {
      throw new UnreadableFile(`${this.path}: cannot read (${(error as NodeJS.ErrnoException).code})`);
    }
  }
}

/** The file, to be read lazily, or its .gz twin read now; undefined when neither exists. */
export function openOptionalText(dir: string, name: string): TextFile | undefined {
  const plain = join(dir, name);
  try {
    const { fd, stat } = openRegular(plain, "modules");
    return new LazyTextFile(plain, fd, identityOf(stat), Number(stat.size));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return readZippedTwin(plain);
    throw new UnreadableFile(`${plain}: ${whyUnreadable(error)}`);
  }
}

/** A file that exists but cannot be read (permissions, I/O). */
export class UnreadableFile extends InputError {}

/** The file or its .gz twin; undefined when neither exists; UnreadableFile when unreadable. */
export function readOptionalText(dir: string, name: string): TextFile | undefined {
  const plain = join(dir, name);
  const plainFile = readIfPresent(plain, false);
  if (plainFile !== undefined) return { path: plain, ...plainFile };
  return readZippedTwin(plain);
}

/** `plain.gz`, read and unpacked; undefined when absent. */
function readZippedTwin(plain: string): TextFile | undefined {
  const zipped = `${plain}.gz`;
  const zippedFile = readIfPresent(zipped, true);
  return zippedFile === undefined ? undefined : { path: zipped, ...zippedFile };
}

/** Like readOptionalText, but a missing file is an error naming it. */
export function readRequiredText(dir: string, name: string): TextFile {
  const file = readOptionalText(dir, name);
  if (!file) throw new InputError(`${join(dir, name)}: no such file`);
  return file;
}

function readIfPresent(path: string, gzipped: boolean): { text: string; identity: string } | undefined {
  let bytes: Buffer;
  let identity: string;
  try {
    const { fd, stat } = openRegular(path, "modules");
    try {
      identity = identityOf(stat);
      bytes = readOpened(fd, path, "modules", Number(stat.size));
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new UnreadableFile(`${path}: ${whyUnreadable(error)}`);
  }
  if (!gzipped) return { text: bytes.toString("latin1"), identity };
  // inflated up to the same limit as a plain file: a bomb is refused, naming the file
  try {
    return { text: gunzipBounded(bytes, path, "modules").toString("latin1"), identity };
  } catch (error) {
    if (error instanceof RefusedFile) throw new UnreadableFile(error.message);
    throw new InputError(`${path}: not a valid gzip file`);
  }
}

/** Splits text into lines without the trailing empty piece after a final newline. */
export function lines(text: string): string[] {
  const all = text.split("\n");
  if (all.length > 0 && all[all.length - 1] === "") all.pop();
  return all;
}

/** A bounded, printable excerpt of a bad line for a warning. */
export function excerpt(line: string, max = 60): string {
  const cleaned = line.replace(/[^\x20-\x7e]/g, "?");
  return cleaned.length > max ? `${cleaned.slice(0, max)}… (${line.length} bytes)` : cleaned;
}
