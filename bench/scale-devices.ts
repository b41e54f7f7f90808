// How `list`, `apply` and the udev hook's boot pass grow with the number of devices (issue 19):
// machines of test/fixtures/machines/connectx-1000.json's shape (8 root ports, 8 ConnectX-6 Dx
// PFs) with N of each PF's VFs present, for several N (0 … 127: 16 … 1,032 devices), written to
// a temporary directory. Each command is a whole process of the bundle, timed from outside,
// beside `node -e 0`, with the caches warm (the bench's own FLAVOURCTL_INDEX_CACHE, one untimed
// warm-up run of each) and the machines' state in the bench's own XDG_STATE_HOME (nothing under
// /etc, /run or /var is touched):
//   list       flavourctl list --machine FILE
//   apply      flavourctl apply --machine FILE --config RULES, one rule giving every VF (15b3:101e)
//              the vfio flavour, on the machine as booted (its saved state put back before each run)
//   boot pass  the first `flavourctl hook` of a boot (node --jitless, as the udev rule runs it;
//              ACTION=add SUBSYSTEM=pci PCI_SLOT_NAME=the first root port), same rule, same state
// Runs are interleaved: each round runs every command at every N once, in turn. Prints, per
// command and N, the devices, the median ms, the median minus `node -e 0`'s, and µs per device
// (of the part above `node -e 0`), and whether the per-device cost stays flat or falls.
//   npm run build && node --import tsx bench/scale-devices.ts [RUNS] [N,N,…] [BUNDLE]
// (default 7 runs, N = 0,15,31,63,127; BUNDLE defaults to dist/flavourctl.js, so a previous
// build can be measured beside this one.)
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repo = resolve(import.meta.dirname, "..");
const runs = Number(process.argv[2] ?? 7);
const sizes = (process.argv[3] ?? "0,15,31,63,127").split(",").map(Number);
const bundle = resolve(process.argv[4] ?? join(repo, "dist/flavourctl.js"));
if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build first`);

interface Device {
  address: string;
  physfn?: string;
  sriov?: { totalVfs: number };
}
const fixture = JSON.parse(readFileSync(join(repo, "test/fixtures/machines/connectx-1000.json"), "utf8")) as {
  name: string;
  devices: Device[];
};

/** The fixture with only the first `vfs` VFs of each PF (VFs are listed in routing-id order). */
function machineWith(vfs: number) {
  const seen = new Map<string, number>();
  const devices = fixture.devices.filter((d) => {
    if (d.physfn === undefined) return true;
    const n = (seen.get(d.physfn) ?? 0) + 1;
    seen.set(d.physfn, n);
    return n <= vfs;
  });
  return { ...fixture, name: `connectx-${vfs}-vfs`, devices };
}

const work = mkdtempSync(join(tmpdir(), "flavourctl-scale-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));
const rules = join(work, "rules.d");
mkdirSync(rules);
writeFileSync(join(rules, "connectx-vfs.rule"), "match id 15b3:101e\nflavour vfio\n");

const env = {
  ...process.env,
  FLAVOURCTL_INDEX_CACHE: join(work, "cache"),
  XDG_STATE_HOME: join(work, "state"),
  NO_COLOR: "1",
};

function run(argv: string[], extraEnv: Record<string, string> = {}): number {
  const start = performance.now();
  const r = spawnSync(argv[0] as string, argv.slice(1), { env: { ...env, ...extraEnv }, encoding: "utf8" });
  const ms = performance.now() - start;
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: exit ${r.status}\n${r.stdout}${r.stderr}`);
  return ms;
}

interface Size {
  vfs: number;
  devices: number;
  file: string;
  stateDir: string;
  booted: string;
  runDir: string;
}
const node = process.execPath;
const prepared: Size[] = sizes.map((vfs) => {
  const machine = machineWith(vfs);
  const file = join(work, `${machine.name}.json`);
  writeFileSync(file, JSON.stringify(machine));
  // boot it (list boots a machine that has no saved state), and keep the booted state
  run([node, bundle, "list", "--machine", file]);
  const machines = join(work, "state/flavourctl/machines");
  const key = readdirSync(machines).find((k) => k.startsWith(`file-${machine.name}-`));
  if (key === undefined) throw new Error(`no saved state for ${machine.name}`);
  const stateDir = join(machines, key);
  const booted = join(work, `booted-${vfs}`);
  cpSync(stateDir, booted, { recursive: true });
  return { vfs, devices: machine.devices.length, file, stateDir, booted, runDir: join(work, `run-${vfs}`) };
});

function restore(size: Size) {
  rmSync(size.stateDir, { recursive: true, force: true });
  cpSync(size.booted, size.stateDir, { recursive: true });
  rmSync(size.runDir, { recursive: true, force: true });
}

const commands: Record<string, (s: Size) => number> = {
  list: (s) => run([node, bundle, "list", "--machine", s.file]),
  apply: (s) => {
    restore(s);
    return run([node, bundle, "apply", "--machine", s.file, "--config", rules]);
  },
  "boot pass": (s) => {
    restore(s);
    return run(
      [node, "--jitless", bundle, "hook", "--machine", s.file, "--config", rules, "--run-dir", s.runDir],
      {
        ACTION: "add",
        SUBSYSTEM: "pci",
        PCI_SLOT_NAME: "0000:00:01.0",
      },
    );
  },
};

// Check once that apply and the boot pass do the work (every VF on vfio), then warm up.
for (const s of prepared) {
  for (const name of ["apply", "boot pass"]) {
    (commands[name] as (s: Size) => number)(s);
    const out = spawnSync(node, [bundle, "sim", "devices", s.file], { env, encoding: "utf8" }).stdout;
    const onVfio = out
      .split("\n")
      .filter((l) => / 15b3:101e .*vfio-pci/.test(l) || /15b3:101e.*mlx5_vfio_pci/.test(l));
    if (onVfio.length !== s.vfs * 8)
      throw new Error(
        `${name} on ${s.vfs} VFs per PF: ${onVfio.length} VFs on vfio, not ${s.vfs * 8}\n${out}`,
      );
  }
  commands.list?.(s);
}
run([node, "-e", "0"]);

const times = new Map<string, number[]>();
const record = (key: string, ms: number) => times.set(key, [...(times.get(key) ?? []), ms]);
for (let round = 0; round < runs; round++) {
  record("node -e 0", run([node, "-e", "0"]));
  for (const s of prepared)
    for (const [name, command] of Object.entries(commands)) record(`${name}/${s.vfs}`, command(s));
  record("node -e 0", run([node, "-e", "0"]));
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const floor = median(times.get("node -e 0") ?? []);
console.log(`${runs} interleaved runs each; bundle ${bundle}; node ${process.version}`);
console.log(`node -e 0: median ${floor.toFixed(1)} ms`);
console.log("command     VFs/PF  devices  median ms  above node -e 0  µs/device");
for (const name of Object.keys(commands)) {
  const perDevice: number[] = [];
  for (const s of prepared) {
    const m = median(times.get(`${name}/${s.vfs}`) ?? []);
    const above = m - floor;
    perDevice.push((above * 1000) / s.devices);
    console.log(
      `${name.padEnd(10)}  ${String(s.vfs).padStart(6)}  ${String(s.devices).padStart(7)}  ${m.toFixed(1).padStart(9)}  ${above.toFixed(1).padStart(15)}  ${(perDevice.at(-1) as number).toFixed(0).padStart(9)}`,
    );
  }
  // Linear or better: the cost per device (above node -e 0) at the largest size is not above
  // its cost at the middle size (30% allowed for a shared machine's noise); a cost growing as
  // the square of the devices has it about 4x there (264 → 1,032 devices).
  const middle = perDevice[perDevice.length >> 1] as number;
  const last = perDevice.at(-1) as number;
  const ratio = last / middle;
  console.log(
    `${name}: µs per device at ${prepared.at(-1)?.devices} devices / at ${prepared[prepared.length >> 1]?.devices}: ${ratio.toFixed(2)} → ${ratio <= 1.3 ? "linear (or better)" : "GROWS FASTER THAN LINEAR"}`,
  );
}
