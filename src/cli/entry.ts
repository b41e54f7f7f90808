// The executable's entry: the process's streams (cli/io.ts) and its exit code.
import { processIo } from "./io.ts";
import { main } from "./main.ts";

// No top-level await: the bundle is CommonJS (scripts/build.mjs). The output is written already
// (synchronously, io.ts): exiting at once spares Node tearing the heap down (about 1 ms).
void main(process.argv.slice(2), processIo()).then((code) => {
  process.exit(code);
});
