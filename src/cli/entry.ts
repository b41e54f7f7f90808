// The executable's entry: the process's streams (cli/io.ts) and its exit code.
import { processIo } from "./io.ts";
import { main } from "./main.ts";

// No top-level await: the bundle is CommonJS (scripts/build.mjs).
void main(process.argv.slice(2), processIo()).then((code) => {
  process.exitCode = code;
});
