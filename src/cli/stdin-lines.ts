// Standard input line by line, as bytes, through one buffer: a batch of names (resolve of 11 MB)
// is read in chunks into memory already touched, where reading it whole into a fresh buffer
// costs a page fault per 4 KiB (34 ms for 11 MB on a virtual machine: README "Performance").
import { RefusedFile } from "../safe-read.ts";
import type { Io } from "./io.ts";

/** First size of the buffer; it doubles for a longer line, up to LINE_LIMIT. */
const CHUNK = 1 << 18;
/**
 * The longest line read: libkmod cuts a key at 4,095 bytes, but a longer line still gets its
 * answer and a message (ENAMETOOLONG, or the excerpt of an odd name); /dev/zero is refused
 * after it, and no input is held whole.
 */
export const LINE_LIMIT = 16 << 20;

export class StdinLines {
  /** The current line is bytes[start, end), without its newline. */
  bytes = new Uint8Array(CHUNK);
  start = 0;
  end = 0;
  /** The current line's number, from 1. */
  number = 0;
  /** `bytes` as a Buffer, for text(). */
  private view = Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length);
  private filled = 0;
  private next = 0;
  private ended = false;
  private readonly io: Io;

  constructor(io: Io) {
    this.io = io;
  }

  /** Moves to the next line; false at the end of the input (a last line without a newline counts). */
  advance(): boolean {
    for (;;) {
      const from = this.next;
      // indexOf reaches past `filled` into stale bytes: a newline found there is none
      const newline = from < this.filled ? this.bytes.indexOf(NEWLINE, from) : -1;
      if (newline >= 0 && newline < this.filled) {
        if (newline - from > LINE_LIMIT) throw this.tooLong();
        this.start = from;
        this.end = newline;
        this.next = newline + 1;
        this.number++;
        return true;
      }
      if (this.ended) {
        if (from >= this.filled) return false;
        if (this.filled - from > LINE_LIMIT) throw this.tooLong();
        this.start = from;
        this.end = this.filled;
        this.next = this.filled;
        this.number++;
        return true;
      }
      this.refill();
    }
  }

  /** The current line as a byte string (latin1: a character a byte). */
  text(): string {
    return this.view.toString("latin1", this.start, this.end);
  }

  private tooLong(): RefusedFile {
    const limit = `${LINE_LIMIT >> 20} MiB`;
    return new RefusedFile(
      "<stdin>",
      `line ${this.number + 1}: larger than ${limit}, the limit for a line of standard input`,
    );
  }

  /** Keeps the unfinished line, at the front, and reads on after it. */
  private refill(): void {
    const kept = this.filled - this.next;
    if (kept > LINE_LIMIT) throw this.tooLong();
    if (kept === this.bytes.length) {
      // room for a line of the limit, its newline, and one byte more to tell a longer one
      const grown = new Uint8Array(Math.min(this.bytes.length * 2, LINE_LIMIT + 2));
      grown.set(this.bytes);
      this.bytes = grown;
      this.view = Buffer.from(grown.buffer, grown.byteOffset, grown.length);
    } else this.bytes.copyWithin(0, this.next, this.filled);
    this.filled = kept;
    this.next = 0;
    const got = this.io.readStdinInto(this.bytes, this.filled);
    if (got === 0) this.ended = true;
    else this.filled += got;
  }
}

const NEWLINE = 0x0a;
