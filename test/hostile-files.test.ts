// Hostile files in every place flavourctl reads one (issue 15, defects 9 and 16): a FIFO with no
// writer, a link to /dev/zero, a file one byte over its limit (sparse), and for gzip a bomb, put
// in turn where a sysfs attribute, a modules directory file, a modprobe.d file, a rule, a
// machine or scenario file, a kernel source file or standard input is read — and every command
// that reads it run as the built executable, under a timeout. Each must end within seconds, in
// bounded memory, with its exit code and a one-line message naming the file; no stack trace.
// Trees are copies (the captured q35 fixture), machines simulated, state in temporary dirs.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { PciNames } from "../src/host/pci-names.ts";
import { READ_LIMITS, type ReadKind } from "../src/safe-read.ts";
import { DEBIAN_612, debianModules } from "./support/modules.ts";
import { SYSFS_FIXTURES, sysfsTree } from "./support/sysfs-trees.ts";
import { tempDir } from "./support/tmp.ts";

const bundle = new URL("../dist/flavourctl.js", import.meta.url).pathname;
/** GNU time reports the child's peak memory; without it only time and output are checked. */
const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;
const TIMEOUT_MS = 30_000;
/** A command that reads a hostile file ends this soon (a loaded machine included). */
const FAST_MS = 10_000;
/** And peaks below this (a 64 MiB read at most, and node). */
const MEMORY_KB = 400 * 1024;

type Hostile = "fifo" | "zero" | "big" | "bomb";

const SAYS: Record<Hostile, RegExp> = {
  fifo: /a FIFO, not a regular file/,
  // a snapshot says of a link to it "a link to a character device"
  zero: /a character device(, not a regular file|; left out)/,
  big: /larger than \d+ [KM]iB, the limit for /,
  bomb: /inflates to more than 64 MiB, the limit for a modules directory file/,
};

/** Puts the hostile kind at `path` (whatever was there is moved aside first by the caller). */
function plant(path: string, kind: Hostile, readKind: ReadKind): void {
  rmSync(path, { force: true, recursive: true });
  if (kind === "fifo") execFileSync("mkfifo", [path]);
  else if (kind === "zero") symlinkSync("/dev/zero", path);
  else if (kind === "big") {
    closeSync(openSync(path, "w"));
    truncateSync(path, READ_LIMITS[readKind].limit + 1);
  } else {
    // 16 MiB of zeros is 16 KiB of gzip; five members inflate to 80 MiB
    const member = gzipSync(Buffer.alloc(16 << 20));
    writeFileSync(path, Buffer.concat([member, member, member, member, member]));
  }
}

interface Run {
  code: number | null;
  signal: string | null;
  stderr: string;
  ms: number;
  peakKb: number | undefined;
}

const state = tempDir("hostile-state");
const env = { ...process.env, FLAVOURCTL_INDEX_CACHE: "off", NO_COLOR: "1", XDG_STATE_HOME: state };

function run(args: string[], options: { env?: Record<string, string>; stdin?: string } = {}): Run {
  const argv = [process.execPath, bundle, ...args];
  // timeout(1) kills its whole process group: the command too, not only GNU time around it
  const seconds = String(TIMEOUT_MS / 1000);
  const command = [
    "timeout",
    "-s",
    "KILL",
    seconds,
    ...(TIME ? [TIME, "--quiet", "-f", "peak-kb=%M"] : []),
    ...argv,
  ];
  const stdin = options.stdin === undefined ? "ignore" : openSync(options.stdin, "r");
  const started = Date.now();
  const result = spawnSync(command[0] as string, command.slice(1), {
    encoding: "utf8",
    env: { ...env, ...options.env },
    stdio: [stdin, "pipe", "pipe"],
    maxBuffer: 64 << 20,
  });
  if (typeof stdin === "number") closeSync(stdin);
  const ms = Date.now() - started;
  let stderr = result.stderr ?? "";
  let peakKb: number | undefined;
  const peak = /(?:^|\n)peak-kb=(\d+)\n?$/.exec(stderr);
  if (peak) {
    peakKb = Number(peak[1]);
    stderr = stderr.slice(0, peak.index + (stderr[peak.index] === "\n" ? 1 : 0));
  }
  // 137: killed by timeout's SIGKILL (a hang); GNU time's own status is the command's
  const signal = result.signal ?? (result.status === 137 ? "SIGKILL" : null);
  return { code: result.status, signal, stderr, ms, peakKb };
}

/** One row of the matrix: a command reading a hostile file, and what it must do. */
interface Case {
  position: string;
  kind: Hostile;
  args: string[];
  /** Its exit code: 2 when the file is required, 0 when optional (a warning, skipped). */
  code: number;
  /** What names the file in the message (a path or its last components). */
  names: string;
  /** What that line says, when not the kind's refusal (SAYS). */
  says?: RegExp;
  env?: Record<string, string>;
  stdin?: string;
}

const results: { name: string; ms: number; peakKb: number | undefined }[] = [];

/** The newest modification time under `dir`, of .ts files. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

test("hostile files: the executable under test is built from the sources as they are", () => {
  assert.ok(existsSync(bundle), `${bundle} is missing: run npm run build`);
  const src = new URL("../src", import.meta.url).pathname;
  assert.ok(statSync(bundle).mtimeMs >= newestSource(src), `${bundle} is older than src/: run npm run build`);
});

function check(c: Case): void {
  const name = `${c.position} × ${c.kind}: ${c.args.join(" ")}`;
  const r = run(c.args, { env: c.env, stdin: c.stdin });
  results.push({ name, ms: r.ms, peakKb: r.peakKb });
  const detail = `${name}\nexit ${r.code} signal ${r.signal} in ${r.ms} ms, peak ${r.peakKb} kB\n${r.stderr}`;
  assert.equal(r.signal, null, `killed (a hang or a crash): ${detail}`);
  assert.ok(r.ms < FAST_MS, `too slow: ${detail}`);
  if (r.peakKb !== undefined) assert.ok(r.peakKb < MEMORY_KB, `too much memory: ${detail}`);
  assert.equal(r.code, c.code, `exit code: ${detail}`);
  const lines = r.stderr.split("\n").filter((line) => line !== "");
  for (const line of lines) assert.match(line, /^flavourctl[ :]/, `not a message of ours: ${detail}`);
  assert.ok(
    lines.some((line) => line.includes(c.names) && (c.says ?? SAYS[c.kind]).test(line)),
    `no line names ${c.names} and says ${c.says ?? SAYS[c.kind]}: ${detail}`,
  );
}

/** Runs `cases(kind)` with the hostile kind at `path`, then puts the original back. */
function withHostile(path: string, readKind: ReadKind, kinds: Hostile[], cases: (kind: Hostile) => Case[]) {
  const aside = `${path}.orig-${process.pid}`;
  const had = existsSync(path);
  if (had) renameSync(path, aside);
  try {
    for (const kind of kinds) {
      plant(path, kind, readKind);
      for (const c of cases(kind)) check(c);
    }
  } finally {
    rmSync(path, { force: true, recursive: true });
    if (had) renameSync(aside, path);
  }
}

const ALL: Hostile[] = ["fifo", "zero", "big"];

/** A copy of the captured q35 tree and of Debian 6.12's modules (plain files) for the whole file. */
const tree = join(tempDir("hostile-tree"), "sys");
cpSync(sysfsTree(SYSFS_FIXTURES.q35), tree, { recursive: true, verbatimSymlinks: true });
const modules = join(tempDir("hostile-modules"), DEBIAN_612);
cpSync(debianModules(DEBIAN_612), modules, { recursive: true });
writeFileSync(join(modules, "modules.symbols"), "alias symbol:nvme_init_ctrl nvme_core\n");
const NVME_PF = "0000:02:00.0";
const deviceDir = join(tree, "devices/pci0000:00/0000:00:05.0", NVME_PF);
const MODALIAS = "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00";
/** A modalias no module's alias matches: the lookup goes on to the built-in aliases. */
const UNMATCHED = "pci:v0000FFFEd0000FFFEsv00000000sd00000000bcFEscFEi00";

test("hostile files: every sysfs attribute the readers open, in list, show, snapshot and a snapshot machine", () => {
  const identity = new Set(["vendor", "device", "class"]);
  const attributes = [
    "vendor",
    "device",
    "class",
    "modalias",
    "revision",
    "subsystem_vendor",
    "subsystem_device",
    "driver_override",
    "config",
    "numa_node",
    "sriov_totalvfs",
    "sriov_numvfs",
  ];
  for (const attribute of attributes) {
    const names = `${NVME_PF}/${attribute}`;
    withHostile(join(deviceDir, attribute), "attribute", ALL, (kind) => {
      const snapshotDest = join(tempDir("hostile-snapshot"), "copy");
      const cases: Case[] = [
        // the device is left out (exit 2) when its identity cannot be read, else a warning
        {
          position: `sysfs ${attribute}`,
          kind,
          args: ["show", NVME_PF, "--json", "--sysfs", tree, "--modules", modules],
          code: identity.has(attribute) ? 2 : 0,
          names,
        },
        {
          position: `sysfs ${attribute}`,
          kind,
          args: ["snapshot", snapshotDest, "--sysfs", tree],
          code: 0,
          names,
        },
      ];
      // list reads the identity, modalias and config of every device; the rest only show asks for
      if (identity.has(attribute) || attribute === "modalias" || attribute === "config") {
        cases.push({
          position: `sysfs ${attribute}`,
          kind,
          args: ["list", "--sysfs", tree, "--modules", modules],
          code: identity.has(attribute) ? 2 : 0,
          names,
        });
      }
      if (
        ["vendor", "class", "subsystem_device", "revision", "config", "sriov_totalvfs"].includes(attribute)
      ) {
        cases.push({
          position: `sysfs ${attribute}`,
          kind,
          args: ["list", "--machine", `snapshot:${tree},modules=${modules}`],
          code: 2,
          names,
        });
      }
      return cases;
    });
  }
  // an IOMMU group's member entry is a name, not a file: never opened, the device looked up
  const group = join(tree, "kernel/iommu_groups", basename(readlinkSync(join(deviceDir, "iommu_group"))));
  withHostile(join(group, "devices/0000:02:00.7"), "attribute", ALL, (kind) =>
    [
      ["show", NVME_PF, "--json", "--sysfs", tree, "--modules", modules],
      ["list", "--sysfs", tree, "--modules", modules],
    ].map((args) => ({
      position: "iommu_groups/N/devices entry",
      kind,
      args,
      // list leaves a device out with exit 2 (as one whose identity cannot be read)
      code: args[0] === "list" ? 2 : 0,
      names: "0000:02:00.7",
      says: /not in .*\/bus\/pci\/devices; left out/,
    })),
  );
  // a driver's record of its module (captures without module/)
  withHostile(join(tree, "bus/pci/drivers/nvme/.module"), "attribute", ALL, (kind) => [
    {
      position: "sysfs drivers/nvme/.module",
      kind,
      args: ["snapshot", join(tempDir("hostile-snapshot"), "copy"), "--sysfs", tree],
      code: 0,
      names: "nvme/.module",
    },
  ]);
});

test("hostile files: every file of a modules directory, in resolve, list, show and overlaps; a gzip bomb", () => {
  // what resolve is asked so that the lookup reaches the file (kmod's stages, in order)
  const files: { file: string; input: string; list?: boolean; show?: boolean }[] = [
    { file: "modules.alias", input: MODALIAS, list: true, show: true },
    { file: "modules.dep", input: "e1000e" },
    { file: "modules.symbols", input: "symbol:nvme_init_ctrl" },
    { file: "modules.builtin", input: "zsmalloc" },
    { file: "modules.builtin.modinfo", input: UNMATCHED, list: true },
    // read as the first modprobe.d file: a warning of the configuration
    { file: "modules.softdep", input: MODALIAS, list: true, show: true },
  ];
  for (const { file, input, list, show } of files) {
    const code = file === "modules.alias" ? 2 : 0;
    withHostile(join(modules, file), "modules", ALL, (kind) => {
      const cases: Case[] = [
        { position: file, kind, args: ["resolve", input, "--modules", modules], code, names: file },
      ];
      if (show) {
        const args = ["show", NVME_PF, "--sysfs", tree, "--modules", modules];
        cases.push({ position: file, kind, args, code, names: file });
      }
      if (list)
        cases.push({
          position: file,
          kind,
          args: ["list", "--sysfs", tree, "--modules", modules],
          code,
          names: file,
        });
      if (file === "modules.alias") {
        cases.push({ position: file, kind, args: ["overlaps", "--modules", modules], code, names: file });
      }
      return cases;
    });
  }
  // a .gz twin, read when the plain file is absent: hostile, or a bomb that inflates past the limit
  const plain = join(modules, "modules.alias");
  const aside = `${plain}.plain-${process.pid}`;
  renameSync(plain, aside);
  try {
    withHostile(`${plain}.gz`, "modules", ["fifo", "zero", "big", "bomb"], (kind) => [
      {
        position: "modules.alias.gz",
        kind,
        args: ["resolve", MODALIAS, "--modules", modules],
        code: 2,
        names: "modules.alias.gz",
      },
      {
        position: "modules.alias.gz",
        kind,
        args: ["list", "--sysfs", tree, "--modules", modules],
        code: 2,
        names: "modules.alias.gz",
      },
    ]);
  } finally {
    renameSync(aside, plain);
  }
  // an optional file's bomb: a warning, the file skipped
  const dep = join(modules, "modules.dep");
  renameSync(dep, aside);
  try {
    withHostile(`${dep}.gz`, "modules", ["bomb"], (kind) => [
      {
        position: "modules.dep.gz",
        kind,
        args: ["resolve", "e1000e", "--modules", modules],
        code: 0,
        names: "modules.dep.gz",
      },
    ]);
  } finally {
    renameSync(aside, dep);
  }
});

test("hostile files: a modprobe.d --config file, and an entry of a --config directory", () => {
  const dir = tempDir("hostile-modprobe");
  const file = join(dir, "x.conf");
  withHostile(file, "config", ALL, (kind) =>
    [
      ["resolve", MODALIAS, "--modules", modules, "--config", file],
      ["resolve", MODALIAS, "--modules", modules, "--config", dir],
      ["list", "--sysfs", tree, "--modules", modules, "--config", file],
    ].map((args) => ({ position: "modprobe.d file", kind, args, code: 0, names: file })),
  );
});

test("hostile files: an entry of the rules directory, in rules, apply, the udev hook and set", () => {
  const rules = tempDir("hostile-rules");
  writeFileSync(join(rules, "good.rule"), "match address 0000:03:00.0\nflavour vfio\n");
  const machine = ["--machine", "demo", "--config", rules];
  withHostile(join(rules, "x.rule"), "rule", ALL, (kind) =>
    [
      ["rules", ...machine],
      ["apply", "--dry-run", ...machine],
      ["hook", ...machine, "--run-dir", join(rules, "..", "run")],
    ].map((args) => ({
      position: "rules.d entry",
      kind,
      args,
      code: 2,
      names: join(rules, "x.rule"),
      env: { ACTION: "add", SUBSYSTEM: "pci", PCI_SLOT_NAME: "0000:03:00.0" },
    })),
  );
  // the rule set would save: a damaged file is not overwritten (exit 2), the device not bound
  const own = join(rules, "address-0000:03:00.0.rule");
  withHostile(own, "rule", ALL, (kind) => [
    {
      position: "rules.d: set's own rule",
      kind,
      args: ["set", "0000:03:00.0", "vfio", ...machine],
      code: 2,
      names: own,
    },
  ]);
});

test("hostile files: a machine file, a scenario file, a kernel source tree and standard input", () => {
  const dir = tempDir("hostile-inputs");
  const machineFile = join(dir, "m.json");
  withHostile(machineFile, "machine", ALL, (kind) => [
    { position: "machine file", kind, args: ["list", "--machine", machineFile], code: 2, names: machineFile },
  ]);
  const scenario = join(dir, "s.json");
  withHostile(scenario, "machine", ALL, (kind) => [
    { position: "scenario file", kind, args: ["sim", "run", scenario], code: 2, names: scenario },
  ]);
  const source = join(dir, "linux");
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(source, path)), { recursive: true });
    writeFileSync(join(source, path), text);
  };
  write("include/linux/pci.h", "#define PCI_DEVICE(v,d) .vendor = (v), .device = (d)\n");
  write("include/linux/pci_ids.h", "#define PCI_VENDOR_ID_TEST 0x1234\n");
  write("Kbuild", "obj-y += drivers/\n");
  write("drivers/Makefile", "obj-$(CONFIG_A) += a.o\n");
  write(
    "drivers/a.c",
    '#include <linux/pci.h>\n#include "a.h"\nstatic const struct pci_device_id a_ids[] = {\n\t{ PCI_DEVICE(0x1234, 0x0001) },\n\t{ 0, }\n};\nMODULE_DEVICE_TABLE(pci, a_ids);\n',
  );
  write("drivers/a.h", "#define A 1\n");
  write(".config", "CONFIG_PCI=y\nCONFIG_A=m\n");
  const aliases = ["aliases", "--source", source];
  // an unreadable .c file is a problem of the report (exit 0); the files it needs are errors
  withHostile(join(source, "drivers/b.c"), "source", ALL, (kind) => [
    { position: "source .c file", kind, args: aliases, code: 0, names: "drivers/b.c" },
    {
      position: "source .c file",
      kind,
      args: ["overlaps", "--source", source],
      code: 0,
      names: "drivers/b.c",
    },
  ]);
  for (const [file, code] of [
    ["drivers/a.h", 2],
    ["include/linux/pci.h", 2],
    ["drivers/Makefile", 2],
    [".config", 2],
  ] as const) {
    withHostile(join(source, file), "source", ALL, (kind) => [
      { position: `source ${file}`, kind, args: aliases, code, names: basename(file) },
    ]);
  }
  // standard input may be a pipe; /dev/zero or a huge file there is cut at its limit
  const big = join(dir, "stdin");
  plant(big, "big", "input");
  // (stdin is not checked with fstat: either is cut at the limit, "larger than")
  for (const stdin of ["/dev/zero", big]) {
    check({
      position: `standard input from ${stdin === big ? "a file" : stdin}`,
      kind: "big",
      args: ["resolve", "--modules", modules],
      code: 2,
      names: "<stdin>",
      stdin,
    });
  }
});

test("hostile files: pci.ids (not a command-line input) as a FIFO or /dev/zero gives no names, at once", () => {
  const dir = tempDir("hostile-pci-ids");
  for (const kind of ["fifo", "zero", "big"] as const) {
    const path = join(dir, `pci.ids-${kind}`);
    plant(path, kind, "names");
    const started = Date.now();
    assert.equal(new PciNames([path]).vendor(0x8086), undefined);
    assert.ok(Date.now() - started < 2000);
  }
});

test("hostile files: the matrix ran, and what it measured", () => {
  assert.ok(results.length > 150, `only ${results.length} cases`);
  const slowest = results.reduce((a, b) => (b.ms > a.ms ? b : a));
  const peaks = results.map((r) => r.peakKb ?? 0);
  console.log(
    `# hostile-files: ${results.length} cases; slowest ${slowest.ms} ms (${slowest.name}); peak memory ${Math.max(...peaks)} kB`,
  );
});
