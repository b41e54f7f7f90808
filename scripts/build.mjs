// Bundle the CLI into one executable file. Dependencies are bundled too, so the installed tool
// needs nothing but node. CommonJS, not ESM: Node 20 loads a CommonJS file about 7 ms faster
// (no ES module loader), which is 10% of a command's start-up. dist/package.json says so,
// since this package is "type": "module".
//
// Two steps: the CLI (src/cli/entry.ts) is bundled as text, and that text goes into the
// launcher (src/cli/launcher.ts), which compiles it through a V8 code cache. The build id that
// names the caches is a hash of that text (README.md "Start-up" has the measured gain).
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { build } from "esbuild";
import { STAMP, sourceHashes } from "./source-hash.mjs";

// What the bundle is built from, read before it is built (a file edited meanwhile leaves it
// stale, not falsely current): the tests that run it check it is current (test/support/bundle.ts).
const sources = sourceHashes(".");
const common = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node18.19",
  legalComments: "none",
  logLevel: "warning",
};
// Minified, local names too: less text to read and less code cache to load at every start (the
// local names took 1 ms of list's start in an interleaved A/B: 364 against 277 kB of executable).
// `node scripts/build.mjs --readable` keeps the names, for a stack trace one can read.
const readable = process.argv.includes("--readable");
const cli = await build({
  ...common,
  entryPoints: ["src/cli/entry.ts"],
  write: false,
  outfile: "cli.js",
  minifyWhitespace: true,
  minifySyntax: true,
  minifyIdentifiers: !readable,
  // src/lazy-builtins.ts: the bundle's own require (its createRequire branch, left out, would
  // have import.meta.url: that is the launcher's path)
  define: {
    FLAVOURCTL_BUNDLED: "true",
    "import.meta.url": "__filename",
    // `flavourctl --version` (src/cli/version.ts)
    FLAVOURCTL_VERSION: JSON.stringify(JSON.parse(readFileSync("package.json", "utf8")).version),
  },
});
// wrapped here as CommonJS wraps a module, so that the launcher compiles the literal itself
// (a wrapper added at run time is a copy of the whole text)
const text = `(function (exports, require, module, __filename, __dirname) {${cli.outputFiles[0].text}\n})`;
await build({
  ...common,
  entryPoints: ["src/cli/launcher.ts"],
  outfile: "dist/flavourctl.js",
  banner: { js: "#!/usr/bin/env node" },
  define: {
    // the launcher reads its code cache through src/safe-read.ts, which loads zlib lazily
    // (src/lazy-builtins.ts: the bundle's own require here too)
    FLAVOURCTL_BUNDLED: "true",
    "import.meta.url": "__filename",
    FLAVOURCTL_BUNDLE: JSON.stringify(text),
    FLAVOURCTL_BUILD: JSON.stringify(createHash("sha256").update(text).digest("hex").slice(0, 16)),
  },
});
writeFileSync("dist/package.json", '{ "type": "commonjs" }\n');
writeFileSync(STAMP, `${JSON.stringify(sources, null, 1)}\n`);
chmodSync("dist/flavourctl.js", 0o755);

// The Cockpit page (cockpit/, issue 20): its TypeScript bundled for the browser (one IIFE
// script: Cockpit's Content-Security-Policy forbids inline scripts, so index.html loads it as a
// file), next to manifest.json, index.html and the CSS: dist/cockpit/flavourctl/ is the
// directory Cockpit serves (~/.local/share/cockpit/flavourctl, /usr/share/cockpit/flavourctl).
// Browsers of Debian 12 and later; no sourcemap or dependency: the page is its own code.
const page = "dist/cockpit/flavourctl";
mkdirSync(page, { recursive: true });
await build({
  entryPoints: ["cockpit/src/main.ts"],
  bundle: true,
  format: "iife",
  platform: "browser",
  target: ["chrome109", "firefox115"],
  outfile: `${page}/flavourctl.js`,
  legalComments: "none",
  logLevel: "warning",
  minifySyntax: true,
});
for (const file of ["manifest.json", "index.html", "flavourctl.css"])
  copyFileSync(`cockpit/${file}`, `${page}/${file}`);
