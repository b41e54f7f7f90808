// Bundle the CLI into one executable ESM file. Dependencies are bundled too, so the
// installed tool needs nothing but node.
import { chmodSync } from "node:fs";
import { build } from "esbuild";

await build({
  entryPoints: ["src/cli/entry.ts"],
  outfile: "dist/flavourctl.js",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  banner: { js: "#!/usr/bin/env node" },
  legalComments: "none",
  logLevel: "warning",
});
chmodSync("dist/flavourctl.js", 0o755);
