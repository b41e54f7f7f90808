// Where the oracle tests find what test/oracle/fetch-trees.sh made (the same cache rule:
// ${FLAVOURCTL_CACHE:-<repo>/.cache}/oracle), and the C helpers run in batches. A missing piece
// is a failure naming the script that makes it, never a skip.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const TREE_VERSIONS = ["6.12.117+deb12-amd64", "6.1.0-56-amd64"] as const;

const repo = new URL("../..", import.meta.url).pathname;
export const CACHE = process.env.FLAVOURCTL_CACHE || join(repo, ".cache");
const oracle = join(CACHE, "oracle");

function required(path: string, what: string, script: string): string {
  if (!existsSync(path)) throw new Error(`${what}: not found (${path}): run \`bash ${script}\` first`);
  return path;
}

const FETCH = "test/oracle/fetch-trees.sh";

/** The rebuilt modules directory of VERSION, with the .bin indexes libkmod reads. */
export function oracleTree(version: string): string {
  const dir = join(oracle, "trees", version, "lib", "modules", version);
  required(join(dir, "modules.alias.bin"), `the libkmod tree of ${version}`, FETCH);
  return dir;
}

/** The plain copies of VERSION's modules that have pci:/vfio_pci: aliases. */
export function pciModulesDir(version: string): string {
  const dir = join(oracle, "pci-modules", version);
  required(join(dir, ".oracle-stamp"), `the PCI modules of ${version}`, FETCH);
  return dir;
}

export function helper(name: "kmod-resolve" | "fnmatch-ref"): string {
  return required(join(oracle, "bin", name), `the ${name} helper`, FETCH);
}

/** Runs a helper once on a whole batch (bytes in, bytes out); its stderr is returned, not shown. */
export function runHelper(path: string, args: string[], input: Buffer): { stdout: Buffer; stderr: string } {
  const result = spawnSync(path, args, { input, maxBuffer: 1 << 30 });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(
      `${path} exited with ${result.status ?? result.signal}: ${result.stderr.toString().slice(0, 500)}`,
    );
  }
  return { stdout: result.stdout, stderr: result.stderr.toString("latin1") };
}

/**
 * kmod-resolve on a batch of names: for each, the module names libkmod returns, joined by
 * single spaces. Each output line is the input line, a TAB, the answer.
 */
export function kmodResolve(dir: string, inputs: readonly string[]): string[] {
  const { stdout } = runHelper(
    helper("kmod-resolve"),
    [dir],
    Buffer.from(`${inputs.join("\n")}\n`, "latin1"),
  );
  const lines = stdout.toString("latin1").split("\n");
  if (lines.pop() !== "" || lines.length !== inputs.length) {
    throw new Error(`kmod-resolve answered ${lines.length} lines for ${inputs.length} inputs`);
  }
  return lines.map((line, i) => {
    const input = inputs[i] as string;
    if (!line.startsWith(`${input}\t`)) throw new Error(`kmod-resolve line ${i + 1} does not echo its input`);
    return line.slice(input.length + 1);
  });
}
