// flavourctl resolve against libkmod on the same input, whole process each, in one run
// (DESIGN.md section 7: speed is measured here, side by side, medians of several runs).
//
//   npm run build && bash test/oracle/fetch-trees.sh
//   node --import tsx bench/resolve.ts [--runs 7] [--count 200000] [--seed 1]
//
// Two inputs of COUNT names each, generated afresh from the seed on the Debian 6.12 tree:
// - mixed: test/oracle/generate.ts (instances of its patterns for every bus, random and
//   vfio_pci: flavoured PCI devices, near misses, module names, symbols, odd strings);
// - pci: what flavourctl's users produce (test/oracle/pci-names.ts): half instances of the
//   tree's pci: and vfio_pci: patterns, half random devices, a tenth with the vfio_pci: prefix.
// For each input, each run times `node dist/flavourctl.js resolve
// --modules TREE --config /dev/null < input` and `kmod-resolve TREE < input` (libkmod's
// kmod_module_new_from_lookup in one process), alternating which goes first; stdout goes to a
// file, stderr is discarded. Both outputs are the same format; the last run's are compared
// line by line and must be identical, once libkmod's has the bytes that steer a terminal
// escaped as resolve prints them. Prints each run, the medians and their ratio, for wall
// clock time and for CPU time (user + system, from bash's `time`: steadier on a busy machine).
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { safeBytes } from "../src/cli/terminal-safe.ts";
import { generateModaliases, readModulesTree } from "../test/oracle/generate.ts";
import { helper, oracleTree } from "../test/oracle/oracle.ts";
import { generatePciNames } from "../test/oracle/pci-names.ts";

const VERSION = "6.12.117+deb12-amd64";
const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "7" },
    count: { type: "string", default: "200000" },
    seed: { type: "string", default: "1" },
  },
});
const runs = Number(values.runs);
const count = Number(values.count);

const repo = new URL("..", import.meta.url).pathname;
const bundle = join(repo, "dist", "flavourctl.js");
if (!existsSync(bundle)) throw new Error(`${bundle} not found: run \`npm run build\` first`);
const tree = oracleTree(VERSION);

const work = mkdtempSync(join(tmpdir(), "flavourctl-bench-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));
const modulesTree = readModulesTree(tree);
const inputs = {
  mixed: generateModaliases(modulesTree, { count, seed: Number(values.seed) }),
  pci: generatePciNames(modulesTree, { count, seed: Number(values.seed) }),
};
type Input = keyof typeof inputs;

// flavourctl keeps its caches (the modules.alias prefixes, the code cache: README "Caches") in a
// directory of the bench's own, made by one untimed run first, as on any machine after its
// first command.
const cacheDir = join(work, "cache");
const tools = {
  libkmod: [...helper("kmod-resolve"), tree],
  flavourctl: [process.execPath, bundle, "resolve", "--modules", tree, "--config", "/dev/null"],
};
type Tool = keyof typeof tools;
type Measure = "wall" | "cpu";

/** One whole-process run on INPUT with its stdout in OUTPUT: wall-clock and CPU seconds. */
function timeRun(tool: Tool, input: string, output: string): Record<Measure, number> {
  const stdin = openSync(input, "r");
  const stdout = openSync(output, "w");
  const started = process.hrtime.bigint();
  const script = 'TIMEFORMAT="%3U %3S"; time "$@" 2>/dev/null';
  const result = spawnSync("bash", ["-c", script, "bash", ...tools[tool]], {
    stdio: [stdin, stdout, "pipe"],
    env: { ...process.env, FLAVOURCTL_INDEX_CACHE: cacheDir },
  });
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  closeSync(stdin);
  closeSync(stdout);
  if (result.status !== 0) throw new Error(`${tool} exited with ${result.status ?? result.signal}`);
  const [user = Number.NaN, system = Number.NaN] = result.stderr.toString().trim().split(" ").map(Number);
  return { wall, cpu: user + system };
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

let failed = false;
for (const name of Object.keys(inputs) as Input[]) {
  const input = join(work, `input-${name}`);
  writeFileSync(input, `${inputs[name].join("\n")}\n`, "latin1");
  const times: Record<Tool, Record<Measure, number[]>> = {
    libkmod: { wall: [], cpu: [] },
    flavourctl: { wall: [], cpu: [] },
  };
  timeRun("flavourctl", input, join(work, "warm-up"));
  console.log(
    `${name} input: ${inputs[name].length} names, Debian ${VERSION}, ${runs} runs; seconds of the whole process, wall / cpu`,
  );
  for (let run = 0; run < runs; run++) {
    const order: Tool[] = run % 2 === 0 ? ["libkmod", "flavourctl"] : ["flavourctl", "libkmod"];
    for (const tool of order) {
      const measured = timeRun(tool, input, join(work, tool));
      times[tool].wall.push(measured.wall);
      times[tool].cpu.push(measured.cpu);
    }
    const show = (tool: Tool) => `${times[tool].wall[run]?.toFixed(3)} / ${times[tool].cpu[run]?.toFixed(3)}`;
    console.log(`run ${run + 1}: libkmod ${show("libkmod")}   flavourctl ${show("flavourctl")}`);
  }
  for (const measure of ["wall", "cpu"] as const) {
    const kmod = median(times.libkmod[measure]);
    const ours = median(times.flavourctl[measure]);
    console.log(
      `${name} median ${measure}: libkmod ${kmod.toFixed(3)} s, flavourctl ${ours.toFixed(3)} s, ` +
        `ratio flavourctl/libkmod ${(ours / kmod).toFixed(2)}`,
    );
  }
  // a failed lookup: kmod-resolve answers `!ERRNO`, resolve an empty list (and says why on
  // stderr); resolve escapes the bytes that steer a terminal (a \r, a NUL) in what it prints
  const expected = safeBytes(readFileSync(join(work, "libkmod"), "latin1"))
    .split("\n")
    .map((line) => line.replace(/\t![A-Z]+$/, "\t"));
  const got = readFileSync(join(work, "flavourctl"), "latin1").split("\n");
  let differences = Math.abs(expected.length - got.length);
  for (let i = 0; i < Math.min(expected.length, got.length); i++) if (expected[i] !== got[i]) differences++;
  console.log(`${name}: output lines differing from libkmod's: ${differences}`);
  if (differences > 0) failed = true;
}
if (failed) process.exitCode = 1;
