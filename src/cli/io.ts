// What a command may touch of the outside world besides the library: its streams and
// environment. Tests pass a recording Io to main(); the entry file passes the real one.
import { readFileSync } from "node:fs";
import type { InProcessMachine } from "./host.ts";

export interface Io {
  /** Writes to stdout; latin1 writes byte strings (one char per byte) unchanged. */
  out(text: string, encoding?: "utf8" | "latin1"): void;
  err(text: string): void;
  readStdin(encoding?: "utf8" | "latin1"): string;
  env: Record<string, string | undefined>;
  /** True when stdout is a terminal: colour and progress bars only then. */
  stdoutIsTty: boolean;
  /** A simulated machine already open in this process: commands work on it (sim run). */
  machine?: InProcessMachine;
  /** True when stderr is a terminal: progress bars only then. */
  stderrIsTty: boolean;
}

export function processIo(): Io {
  return {
    out: (text, encoding = "utf8") => process.stdout.write(text, encoding),
    err: (text) => process.stderr.write(text),
    readStdin: (encoding = "utf8") => readFileSync(0, encoding),
    env: process.env,
    stdoutIsTty: process.stdout.isTTY === true,
    stderrIsTty: process.stderr.isTTY === true,
  };
}

/**
 * An Io that records what a command printed, for tests. Its environment is `env` inside the test
 * process's index cache (test/run.ts makes a temporary one), never the machine's.
 */
export function recordingIo(stdin = "", env: Record<string, string | undefined> = {}) {
  const recorded = { stdout: "", stderr: "" };
  const io: Io = {
    out: (text) => {
      recorded.stdout += text;
    },
    err: (text) => {
      recorded.stderr += text;
    },
    readStdin: () => stdin,
    env: { FLAVOURCTL_INDEX_CACHE: process.env.FLAVOURCTL_INDEX_CACHE ?? "off", ...env },
    stdoutIsTty: false,
    stderrIsTty: false,
  };
  return { io, recorded };
}
