// What a command may touch of the outside world besides the library: its streams and
// environment. Tests pass a recording Io to main(); the entry file passes the real one.
import { fstatSync, readSync, type Stats, writeSync } from "node:fs";
import { tty } from "../lazy-builtins.ts";
import { readOpened } from "../safe-read.ts";
import type { InProcessMachine } from "./host.ts";

export interface Io {
  /** Writes to stdout; latin1 writes byte strings (one char per byte) unchanged. */
  out(text: string, encoding?: "utf8" | "latin1"): void;
  /**
   * Writes bytes to stdout as they are: the caller has escaped what would steer a terminal in
   * them (terminal-safe.ts safeBytes), as `out` does for text.
   */
  outEscaped(bytes: Uint8Array): void;
  err(text: string): void;
  /** Standard input, whole (at most READ_LIMITS.input). */
  readStdin(encoding?: "utf8" | "latin1"): string;
  /** Reads what standard input has next into INTO from AT on: how many bytes, 0 at its end. */
  readStdinInto(into: Uint8Array, at: number): number;
  env: Record<string, string | undefined>;
  /** True when stdout is a terminal: colour and progress bars only then. */
  stdoutIsTty: boolean;
  /** A simulated machine already open in this process: commands work on it (sim run). */
  machine?: InProcessMachine;
  /** True when stderr is a terminal: progress bars only then. */
  stderrIsTty: boolean;
}

/** Colour for people at a terminal, never in pipes or files, never with NO_COLOR (style.ts). */
export function colourOn(io: Io): boolean {
  return io.stdoutIsTty && !io.env.NO_COLOR;
}

export function processIo(): Io {
  const terminal: (boolean | undefined)[] = [];
  return {
    out: (text, encoding = "utf8") => writeWhole(1, Buffer.from(text, encoding)),
    outEscaped: (bytes) => writeWhole(1, bytes),
    err: (text) => writeWhole(2, Buffer.from(text, "utf8")),
    // a pipe is what stdin should be; /dev/zero is bounded all the same
    readStdin: (encoding = "utf8") => readOpened(0, "<stdin>", "input", fileSize(0)).toString(encoding),
    readStdinInto,
    env: process.env,
    get stdoutIsTty() {
      terminal[1] ??= isTerminal(1);
      return terminal[1];
    },
    get stderrIsTty() {
      terminal[2] ??= isTerminal(2);
      return terminal[2];
    },
  };
}

/** Io.readStdinInto; a descriptor another process made non-blocking is waited on. */
function readStdinInto(into: Uint8Array, at: number): number {
  for (;;) {
    try {
      return readSync(0, into, at, into.length - at, null);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

/**
 * The size of the regular file open on FD, 0 for anything else (a pipe): the read then takes
 * one buffer of the right size instead of growing one (11 MB of names to resolve: 5 copies).
 */
function fileSize(fd: number): number {
  const stat = fstatSync(fd);
  return stat.isFile() ? stat.size : 0;
}

/** Descriptors that cannot be written any more: what is written to them is dropped. */
const closed = new Set<number>();
/** The first write that failed for another reason than a reader gone away (EPIPE). */
let failure: { fd: number; code: string } | undefined;

/**
 * Written at once and whole, with no stream: node's process.stdout over a pipe writes later and
 * loses what is pending when the process exits, and building it loads node:stream and net
 * (about 1.5 ms of every command's start-up). When a write fails — the reader went away
 * (`flavourctl list | head`), a full disk — the rest of that output is dropped and the command
 * still runs to its end: a `set` must never stop half-way because its report cannot be written.
 * The entry says so afterwards (writeFailure), unless the reader merely went away.
 */
function writeWhole(fd: number, bytes: Uint8Array): void {
  if (closed.has(fd)) return;
  let at = 0;
  while (at < bytes.length) {
    try {
      at += writeSync(fd, bytes, at);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      // a descriptor another process made non-blocking: wait for room, as a blocking write would
      if (code === "EAGAIN") {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        continue;
      }
      closed.add(fd);
      if (code !== "EPIPE") failure ??= { fd, code };
      return;
    }
  }
}

/** Which output could not be written and why, once the command has ended; undefined when all was. */
export function writeFailure(): string | undefined {
  if (failure === undefined) return undefined;
  return `${failure.fd === 1 ? "standard output" : "standard error"}: cannot write (${failure.code})`;
}

/** Linux's memory devices: /dev/null, /dev/zero, /dev/full, … (admin-guide/devices.txt). */
const MEMORY_DEVICES_MAJOR = 1;

/**
 * isatty(3), asking node:tty only about a character device that can be a terminal: requiring it
 * loads net and the streams (about 1 ms), and most output goes to a pipe, a file or /dev/null.
 */
function isTerminal(fd: number): boolean {
  let stat: Stats;
  try {
    stat = fstatSync(fd);
  } catch {
    return false;
  }
  if (!stat.isCharacterDevice() || deviceMajor(stat.rdev) === MEMORY_DEVICES_MAJOR) return false;
  return tty().isatty(fd);
}

/** glibc's gnu_dev_major: bits 8–19 and 44–63 of the device number. */
function deviceMajor(rdev: number): number {
  return ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
}

/**
 * An Io that records what a command printed, for tests. Its environment is `env` inside the test
 * process's index cache (test/run.ts makes a temporary one), never the machine's.
 */
export function recordingIo(stdin = "", env: Record<string, string | undefined> = {}) {
  const recorded = { stdout: "", stderr: "" };
  const stdinBytes = Buffer.from(stdin, "latin1");
  let stdinRead = 0;
  const io: Io = {
    out: (text) => {
      recorded.stdout += text;
    },
    outEscaped: (bytes: Uint8Array) => {
      recorded.stdout += Buffer.from(bytes).toString("latin1");
    },
    err: (text) => {
      recorded.stderr += text;
    },
    readStdin: () => stdin,
    readStdinInto: (into: Uint8Array, at: number) => {
      const count = Math.min(into.length - at, stdinBytes.length - stdinRead);
      into.set(stdinBytes.subarray(stdinRead, stdinRead + count), at);
      stdinRead += count;
      return count;
    },
    env: { FLAVOURCTL_INDEX_CACHE: process.env.FLAVOURCTL_INDEX_CACHE ?? "off", ...env },
    stdoutIsTty: false,
    stderrIsTty: false,
  };
  return { io, recorded };
}
