// The executable's entry: real streams, exit code, and a quiet exit when the reader of our
// stdout goes away (`flavourctl list | head` must not crash with EPIPE).
import { processIo } from "./io.ts";
import { main } from "./main.ts";

process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

// No top-level await: the bundle is CommonJS (scripts/build.mjs).
void main(process.argv.slice(2), processIo()).then((code) => {
  process.exitCode = code;
});
