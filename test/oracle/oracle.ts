// Where the oracle tests find what test/oracle/fetch-trees.sh made (the same cache rule:
// ${FLAVOURCTL_CACHE:-<repo>/.cache}/oracle), and the C helpers run in batches. A missing piece
// is a failure naming the script that makes it, never a skip.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const TREE_VERSIONS = ["6.12.117+deb12-amd64", "6.1.0-56-amd64"] as const;
export const TREE_72 = "7.2.13+deb14-amd64";

/**
 * Whose kmod: this machine's (Debian 12: kmod 30, libkmod 30) or the sid root's (kmod 34.2,
 * pciutils 3.15) that fetch-trees.sh unpacks. A tree of each is depmod'd by that kmod's depmod,
 * and looked up with that kmod's libkmod, as on a host that has it.
 */
export type Kmod = "host" | "sid";
export const KMOD_NAME: Record<Kmod, string> = { host: "libkmod 30", sid: "libkmod 34" };

/** Every tree the oracle has, with the kmod whose depmod built its indexes. */
export const ORACLE_TREES: readonly { version: string; kmod: Kmod }[] = [
  { version: TREE_VERSIONS[0], kmod: "host" },
  { version: TREE_VERSIONS[1], kmod: "host" },
  { version: TREE_VERSIONS[0], kmod: "sid" },
  { version: TREE_72, kmod: "sid" },
];

const repo = new URL("../..", import.meta.url).pathname;
export const CACHE = process.env.FLAVOURCTL_CACHE || join(repo, ".cache");
const oracle = join(CACHE, "oracle");

function required(path: string, what: string, script: string): string {
  if (!existsSync(path)) throw new Error(`${what}: not found (${path}): run \`bash ${script}\` first`);
  return path;
}

const FETCH = "test/oracle/fetch-trees.sh";

/** The rebuilt modules directory of VERSION, with the .bin indexes KMOD's depmod wrote. */
export function oracleTree(version: string, kmod: Kmod = "host"): string {
  const dir = join(oracle, kmod === "host" ? "trees" : "trees-sid", version, "lib", "modules", version);
  required(join(dir, "modules.alias.bin"), `the libkmod tree of ${version}`, FETCH);
  return dir;
}

/** The plain copies of VERSION's modules that have pci:/vfio_pci: aliases. */
export function pciModulesDir(version: string): string {
  const dir = join(oracle, "pci-modules", version);
  required(join(dir, ".oracle-stamp"), `the PCI modules of ${version}`, FETCH);
  return dir;
}

/**
 * A C helper, built from test/oracle/NAME.c as it is now (fetch-trees.sh names it by the
 * source's hash), as the command that runs it: the sid root's build through sid's loader.
 */
export function helper(name: "kmod-resolve" | "fnmatch-ref", kmod: Kmod = "host"): string[] {
  const source = readFileSync(new URL(`./${name}.c`, import.meta.url));
  const hash = createHash("sha256").update(source).digest("hex").slice(0, 16);
  const binary = required(
    join(oracle, "bin", `${name}-${hash}${kmod === "sid" ? "-sid" : ""}`),
    `the ${name} helper of test/oracle/${name}.c${kmod === "sid" ? " built in the sid root" : ""}`,
    FETCH,
  );
  return kmod === "sid" ? sidCommand(binary) : [binary];
}

/**
 * A program of the sid root (or built in it) run on this machine: through the root's own
 * dynamic loader and libraries, so it sees this machine's files (the trees) without a chroot.
 * libkmod 34 dlopen()s liblzma and libzstd: the library path serves those too.
 */
export function sidCommand(program: string, argv0?: string): string[] {
  const root = sidRoot();
  const loader = [
    join(root, "usr/lib64/ld-linux-x86-64.so.2"),
    "--library-path",
    join(root, "usr/lib/x86_64-linux-gnu"),
  ];
  return [...loader, ...(argv0 ? ["--argv0", argv0] : []), program];
}

/** KMOD's depmod (kmod is a multi-call binary: it is depmod when called so). */
export function depmodCommand(kmod: Kmod): string[] {
  return kmod === "host" ? ["depmod"] : sidCommand(join(sidRoot(), "usr/bin/kmod"), "depmod");
}

/** The unpacked Debian sid root of fetch-trees.sh (kmod 34.2, libkmod-dev, pciutils 3.15). */
export function sidRoot(): string {
  const root = join(oracle, "sid");
  required(join(root, ".oracle-stamp"), "the sid root (kmod 34, pciutils 3.15)", FETCH);
  return root;
}

/** Runs a helper once on a whole batch (bytes in, bytes out); its stderr is returned, not shown. */
export function runHelper(
  command: readonly string[],
  args: string[],
  input: Buffer,
): { stdout: Buffer; stderr: string } {
  const [path, ...prefix] = command as [string, ...string[]];
  const result = spawnSync(path, [...prefix, ...args], { input, maxBuffer: 1 << 30 });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(
      `${command.join(" ")} exited with ${result.status ?? result.signal}: ${result.stderr.toString().slice(0, 500)}`,
    );
  }
  return { stdout: result.stdout, stderr: result.stderr.toString("latin1") };
}

/**
 * kmod-resolve on a batch of names: for each, the module names libkmod returns, joined by
 * single spaces (empty when none matches), or `!` and the errno name when the lookup fails.
 * CONFIG_PATHS is libkmod's modprobe.d search path; none reads no configuration.
 */
export function kmodResolve(
  dir: string,
  inputs: readonly string[],
  configPaths: readonly string[] = [],
  kmod: Kmod = "host",
): string[] {
  const { stdout } = runHelper(
    helper("kmod-resolve", kmod),
    [dir, ...configPaths],
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

export interface KmodConfig {
  /** `alias PATTERN MODULE`, `blacklist MODULE`, `options MODULE OPTIONS`, `install`/`remove MODULE COMMAND`, `softdep MODULE`: libkmod's lists in order, fields TAB-separated. */
  entries: string[];
  /** For each module asked about: libkmod's soft dependencies, `PRE<TAB>POST` (module names, space-separated), or `!ERRNO`. */
  softdeps: Map<string, string>;
  /** What libkmod logged while reading the files (bad lines, directories where files belong). */
  log: string[];
}

/** The modprobe.d configuration at CONFIG_PATHS as libkmod reads it with DIR's modules.softdep (kmod-resolve --config). */
export function kmodConfig(
  dir: string,
  configPaths: readonly string[],
  modules: readonly string[],
  kmod: Kmod = "host",
): KmodConfig {
  const { stdout, stderr } = runHelper(
    helper("kmod-resolve", kmod),
    ["--config", dir, ...configPaths],
    Buffer.from(modules.map((m) => `${m}\n`).join(""), "latin1"),
  );
  const entries: string[] = [];
  const softdeps = new Map<string, string>();
  for (const line of stdout.toString("latin1").split("\n").slice(0, -1)) {
    if (!line.startsWith("softdeps\t")) entries.push(line);
    else {
      const [, name, ...answer] = line.split("\t");
      softdeps.set(name as string, answer.join("\t"));
    }
  }
  if (softdeps.size !== new Set(modules).size)
    throw new Error(`kmod-resolve --config answered ${softdeps.size} modules for ${modules.length}`);
  return { entries, softdeps, log: stderr.split("\n").filter((line) => line !== "") };
}
