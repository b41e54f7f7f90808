// The executable dist/flavourctl.js: the bundled CLI (entry.ts and all it imports, as text, put
// here by scripts/build.mjs already wrapped in CommonJS's module function) compiled through a V8
// code cache. Node 20 has no compile cache of its
// own (module.enableCompileCache came in 22.1), and compiling the bundle is a good part of every
// command's start-up, the udev hook's included: with a cache, V8 takes the top level and every
// function the command ran before, already compiled, instead of parsing 400 kB of source.
//
// One cache per build and verb (each verb runs other functions), written once when the command
// ends, in the index cache directory (host/cache-dir.ts); only a file owned by this user and
// writable by no one else is used, since it holds code. No directory, an unreadable or foreign
// file, or one V8 rejects (another node): the bundle is compiled from source, as without a cache.
import { readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { Script } from "node:vm";
import { writeFileAtomically } from "../atomic-write.ts";
import { readOwnFile } from "../cache-file.ts";
import { indexCacheDir } from "../host/cache-dir.ts";
import { makeDirectory } from "../safe-write.ts";
import { optimiseOnlyLongRunningCode, wantsLateOptimisation } from "./late-optimisation.ts";

declare const FLAVOURCTL_BUNDLE: string;
declare const FLAVOURCTL_BUILD: string;

const verb = /^[a-z][a-z-]{0,19}$/.test(process.argv[2] ?? "") ? (process.argv[2] as string) : "other";
const cacheDir = indexCacheDir(process.env);
const cachePath = cacheDir && join(cacheDir, `code-${FLAVOURCTL_BUILD}-${verb}.v8`);
const cached = cachePath ? readOwnFile(cachePath) : undefined;
// before compiling: a cache is accepted only under the flags it was made with
if (wantsLateOptimisation(process.argv.slice(2))) optimiseOnlyLongRunningCode(require("node:v8"));
const script = new Script(FLAVOURCTL_BUNDLE, { filename: __filename, cachedData: cached });
if (cachePath && (cached === undefined || script.cachedDataRejected)) {
  // not for a command line that was wrong (64): every typo of a verb would leave a cache
  process.once("exit", (code) => {
    if (code !== 64) saveCache(cachePath, script.createCachedData());
  });
}
script.runInThisContext()(exports, require, module, __filename, __dirname);

/** Written atomically; caches of other builds are removed. */
function saveCache(path: string, data: Buffer): void {
  try {
    makeDirectory(cacheDir as string);
    writeFileAtomically(path, data, { mode: 0o644 });
    for (const name of readdirSync(cacheDir as string)) {
      if (name.startsWith("code-") && !name.startsWith(`code-${FLAVOURCTL_BUILD}-`)) {
        unlinkSync(join(cacheDir as string, name));
      }
    }
  } catch {
    // No cache this time: the next command compiles from source again.
  }
}
