// One lock order (issue 15, defect 7): every command that writes takes the host lock before it
// reads the machine, so two commands at once never lose each other's change; and the claim of
// rules-store.ts and the README that a saved rule survives a power loss, shown by the system
// calls themselves. All through the bundled CLI (npm run build first); the traces need strace
// (scripts/ci.sh installs it).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { buildTree } from "./support/sysfs-builder.ts";
import { tempDir } from "./support/tmp.ts";

const bundle = new URL("../dist/flavourctl.js", import.meta.url).pathname;
const ROUNDS = 10;
const NET = "0000:03:00.0"; // virtio-pci, to virtio_vfio_pci
const NVME = "0000:04:00.0"; // nvme, to vfio-pci

function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bundle, ...args], {
      env: { ...process.env, FLAVOURCTL_INDEX_CACHE: "off", NO_COLOR: "1", ...env },
    });
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
    });
    child.stderr.on("data", (chunk) => {
      out += chunk;
    });
    child.on("close", (code) => resolve({ code, out }));
  });
}

interface SimDevice {
  address: string;
  driver: string | null;
  override: string | null;
}

async function devices(env: Record<string, string>): Promise<Map<string, SimDevice>> {
  const { out } = await cli(["sim", "devices", "demo", "--json"], env);
  return new Map((JSON.parse(out) as SimDevice[]).map((d) => [d.address, d]));
}

function savedFaults(env: Record<string, string>): unknown[] {
  const path = join(env.XDG_STATE_HOME as string, "flavourctl/machines/demo/state.json");
  return (JSON.parse(readFileSync(path, "utf8")) as { state: { faults: unknown[] } }).state.faults;
}

test("two commands at once on the demo machine, one or both writing: no update is lost (10 rounds of each pair)", async () => {
  assert.ok(existsSync(bundle), `${bundle} is missing: run npm run build`);
  const lost: string[] = [];
  const tried: Record<string, number> = {};
  const pair = async (name: string, env: Record<string, string>, a: string[], b: string[]) => {
    tried[name] = (tried[name] ?? 0) + 1;
    const [first, second] = await Promise.all([cli(a, env), cli(b, env)]);
    assert.equal(first.code, 0, `${name}: ${a.join(" ")}: ${first.out}`);
    assert.equal(second.code, 0, `${name}: ${b.join(" ")}: ${second.out}`);
  };
  for (let round = 0; round < ROUNDS; round++) {
    // a machine that has not booted yet: both commands find no saved state
    const env = { XDG_STATE_HOME: tempDir("concurrent-state") };
    const demo = ["--machine", "demo", "--no-save"];
    await pair("set|set", env, ["set", NET, "vfio", ...demo], ["set", NVME, "vfio", ...demo]);
    let now = await devices(env);
    if (now.get(NET)?.driver !== "virtio_vfio_pci") lost.push(`round ${round} set|set: ${NET}`);
    if (now.get(NVME)?.driver !== "vfio-pci") lost.push(`round ${round} set|set: ${NVME}`);

    await pair("unset|unset", env, ["unset", NET, "--machine", "demo"], ["unset", NVME, "--machine", "demo"]);
    now = await devices(env);
    if (now.get(NET)?.driver !== "virtio-pci") lost.push(`round ${round} unset|unset: ${NET}`);
    if (now.get(NVME)?.driver !== "nvme") lost.push(`round ${round} unset|unset: ${NVME}`);

    const fault = JSON.stringify({ kind: "probe-fails", driver: "pci-stub" });
    await pair("fault|set", env, ["sim", "fault", "demo", fault], ["set", NVME, "vfio", ...demo]);
    now = await devices(env);
    if (savedFaults(env).length !== 1) lost.push(`round ${round} fault|set: the fault`);
    if (now.get(NVME)?.driver !== "vfio-pci") lost.push(`round ${round} fault|set: ${NVME}`);

    // a reader that finds no saved state boots the machine: it must not save that over a set
    const fresh = { XDG_STATE_HOME: tempDir("concurrent-reader-state") };
    await pair("list|set", fresh, ["list", "--machine", "demo"], ["set", NVME, "vfio", ...demo]);
    if ((await devices(fresh)).get(NVME)?.driver !== "vfio-pci")
      lost.push(`round ${round} list|set: ${NVME}`);

    const override = `/sys/bus/pci/devices/${NET}/driver_override`;
    await pair(
      "write|unset",
      env,
      ["sim", "write", "demo", override, "pci-stub"],
      ["unset", NVME, "--machine", "demo"],
    );
    now = await devices(env);
    if (now.get(NET)?.override !== "pci-stub") lost.push(`round ${round} write|unset: ${NET}'s override`);
    if (now.get(NVME)?.driver !== "nvme") lost.push(`round ${round} write|unset: ${NVME}`);
  }
  assert.deepEqual(tried, {
    "set|set": ROUNDS,
    "unset|unset": ROUNDS,
    "fault|set": ROUNDS,
    "list|set": ROUNDS,
    "write|unset": ROUNDS,
  });
  assert.deepEqual(lost, [], `${lost.length} updates lost in ${5 * ROUNDS} pairs`);
});

/** `strace` on the bundled CLI; the trace file's lines. */
function traced(
  args: string[],
  env: Record<string, string>,
  calls: string,
): { code: number | null; lines: string[] } {
  const which = spawnSync("strace", ["-V"], { encoding: "utf8" });
  assert.equal(
    which.error,
    undefined,
    "strace is missing: apt-get install strace (scripts/ci.sh installs it)",
  );
  const trace = join(tempDir("strace"), "trace");
  const run = spawnSync(
    "strace",
    ["-f", "-y", "-qq", "-o", trace, "-e", `trace=${calls}`, process.execPath, bundle, ...args],
    { encoding: "utf8", env: { ...process.env, FLAVOURCTL_INDEX_CACHE: "off", ...env } },
  );
  return { code: run.status, lines: readFileSync(trace, "utf8").split("\n") };
}

test("on a --sysfs tree every writing command links its lock before it opens a device or a rule", () => {
  const root = join(tempDir("lock-first-tree"), "sys");
  buildTree(
    root,
    [{ address: NET, vendor: 0x8086, device: 0x10d3, classCode: 0x020000, driver: "e1000e", group: 3 }],
    {
      e1000e: "e1000e",
    },
  );
  writeFileSync(join(root, "devices/pci0000:00", NET, "driver_override"), "e1000e\n");
  const rules = tempDir("lock-first-rules");
  writeFileSync(join(rules, "nic.rule"), `match address ${NET}\nflavour driver\ndriver e1000e\n`);
  const on = ["--sysfs", root, "--modules", tempDir("no-modules"), "--config", rules];
  const commands: string[][] = [
    ["set", NET, "--driver", "e1000e", "--force", ...on],
    ["unset", NET, ...on],
    ["apply", ...on],
    ["vfs", NET, "0", ...on],
    ["rules", "--remove", "nothing-such", ...on],
  ];
  for (const args of commands) {
    const { lines } = traced(args, {}, "openat,link,linkat");
    const lockAt = lines.findIndex((l) => /link(at)?\(.*"[^"]*\/\.flavourctl\.lock"/.test(l));
    const readAt = lines.findIndex((l) => l.includes(`${root}/bus/pci/devices`) || l.includes(rules));
    assert.ok(lockAt >= 0, `${args[0]}: no lock taken`);
    assert.ok(readAt < 0 || lockAt < readAt, `${args[0]}: read before the lock: ${lines[readAt]}`);
  }
});

test("saving a rule: open(O_EXCL temp) -> write -> fsync(temp) -> rename -> fsync(directory), in that order (strace)", () => {
  const config = tempDir("fsync-rules");
  const env = { XDG_STATE_HOME: tempDir("fsync-state") };
  const { code, lines } = traced(
    ["set", NET, "vfio", "--machine", "demo", "--config", config],
    env,
    "openat,write,fsync,fdatasync,rename,renameat,renameat2",
  );
  assert.equal(code, 0, lines.join("\n"));
  const mine = lines.filter((l) => l.includes(config));
  const temp = /"([^"]*\/\.address-[^"/]*\.rule\.tmp-[^"]*)"/.exec(mine.join("\n"))?.[1];
  assert.ok(temp, `no temporary rule file in:\n${mine.join("\n")}`);
  const find = (what: string, test: (line: string) => boolean, from: number) => {
    const at = mine.findIndex((l, i) => i > from && test(l));
    assert.ok(at > from, `${what} not found after line ${from} of:\n${mine.join("\n")}`);
    return at;
  };
  const opened = find(
    "open O_CREAT|O_EXCL|O_NOFOLLOW",
    (l) => l.includes(`openat(`) && l.includes(`"${temp}"`) && /O_CREAT\|O_EXCL\|O_NOFOLLOW/.test(l),
    -1,
  );
  const wrote = find("write(temp)", (l) => /^\d+\s+write\(/.test(l) && l.includes(`<${temp}>`), opened);
  const synced = find("fsync(temp)", (l) => /\bf(data)?sync\(/.test(l) && l.includes(`<${temp}>`), wrote);
  const renamed = find(
    "rename(temp, rule)",
    (l) => /rename(at2?)?\(/.test(l) && l.includes(`"${temp}"`),
    synced,
  );
  find("fsync(directory)", (l) => /\bfsync\(\d+<([^>]*)>\)/.exec(l)?.[1] === config, renamed);
});
