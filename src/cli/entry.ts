// The executable's entry: the process's streams (cli/io.ts) and its exit code.
import { writeSync } from "node:fs";
import { ExitCode } from "../errors.ts";
import { processIo, writeFailure } from "./io.ts";
import { main } from "./main.ts";

// No top-level await: the bundle is CommonJS (scripts/build.mjs). The output is written already
// (synchronously, io.ts): exiting at once spares Node tearing the heap down (about 1 ms).
void main(process.argv.slice(2), processIo()).then((code) => {
  const failed = writeFailure();
  if (failed === undefined) process.exit(code);
  try {
    writeSync(2, `flavourctl: ${failed}; the command ran to its end\n`);
  } catch {
    // standard error is what failed
  }
  process.exit(code === ExitCode.ok ? ExitCode.badInput : code);
});
