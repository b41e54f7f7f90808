// What a command may touch of the outside world besides the library: its streams and
// environment. Tests pass a recording Io to main(); the entry file passes the real one.
import { readFileSync } from "node:fs";

export interface Io {
  out(text: string): void;
  err(text: string): void;
  readStdin(): string;
  env: Record<string, string | undefined>;
  /** True when stdout is a terminal: colour and progress bars only then. */
  stdoutIsTty: boolean;
}

export function processIo(): Io {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    readStdin: () => readFileSync(0, "utf8"),
    env: process.env,
    stdoutIsTty: process.stdout.isTTY === true,
  };
}

/** An Io that records what a command printed, for tests. */
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
    env,
    stdoutIsTty: false,
  };
  return { io, recorded };
}
