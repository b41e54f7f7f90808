// The differential against a real kernel: the same scenario replayed on a real /sys (the QEMU
// bench's guest) and on a machine built from that guest's snapshot must end with the same
// bindings and the same order of bind/unbind uevents for every device. This file is the
// harness: it replays the actions a real machine can take (sysfs writes by path, modprobe,
// flavourctl commands, remove, waits), reads the final bindings, parses what
// `udevadm monitor --kernel --property` printed meanwhile, and compares the two runs.
import { execFileSync } from "node:child_process";
import { readdirSync, readlinkSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { writeFileAtomically } from "../atomic-write.ts";
import type { Uevent } from "../host/sim/kernel.ts";
import type { TraceEvent } from "../host/sim/trace.ts";
import { isAddress } from "../pci/address.ts";
import { writeInside } from "../safe-write.ts";
import { blacklistFile, exitDiffers } from "./run.ts";
import type { Action, Scenario } from "./scenario.ts";

/** What replaying needs from the real machine. */
export interface RealMachine {
  /** `echo VALUE > PATH`; the errno name when the write fails. */
  write(path: string, value: string): string | undefined;
  modprobe(args: string[]): { ok: boolean; message: string };
  /** Writes (or with `remove`, deletes) a modprobe.d file blacklisting the module. */
  blacklist(module: string, remove: boolean): void;
  flavourctl(args: string[]): Promise<number>;
  sleep(ms: number): void;
  /** Every PCI device's driver now. */
  bindings(): Record<string, string | null>;
}

/** A real machine rooted at `root` ("/" in the guest; a temporary tree in tests). */
export function realMachine(root: string, flavourctl: RealMachine["flavourctl"]): RealMachine {
  return {
    write(path, value) {
      try {
        writeInside(root, join(root, path), value);
        return undefined;
      } catch (error) {
        return (error as NodeJS.ErrnoException).code ?? "EIO";
      }
    },
    modprobe(args) {
      try {
        execFileSync("modprobe", args, { stdio: ["ignore", "ignore", "pipe"] });
        return { ok: true, message: "" };
      } catch (error) {
        return { ok: false, message: String((error as { stderr?: Buffer }).stderr ?? error).trim() };
      }
    },
    blacklist(module, remove) {
      const file = join(root, "etc/modprobe.d", blacklistFile(module));
      if (remove) rmSync(file, { force: true });
      else writeFileAtomically(file, `blacklist ${module}\n`, { mode: 0o644 });
    },
    flavourctl,
    sleep: (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms),
    bindings() {
      const dir = join(root, "sys/bus/pci/devices");
      const found: Record<string, string | null> = {};
      for (const address of readdirSync(dir).filter(isAddress).sort()) {
        try {
          found[address] = basename(readlinkSync(join(dir, address, "driver")));
        } catch {
          found[address] = null;
        }
      }
      return found;
    },
  };
}

const REPLAYABLE = new Set<Action["do"]>([
  "note",
  "write",
  "modprobe",
  "modprobe -r",
  "blacklist",
  "flavourctl",
  "remove",
  "wait",
  "expect",
]);

/** Why a scenario cannot run on a real machine (hotplug, injected faults, group opens), if so. */
export function notReplayable(scenario: Scenario): string | undefined {
  const action = scenario.actions.find((a) => !REPLAYABLE.has(a.do));
  return action ? `action '${action.do}' has no real-machine equivalent here` : undefined;
}

export async function replay(
  scenario: Scenario,
  real: RealMachine,
): Promise<{ failures: string[]; bindings: Record<string, string | null> }> {
  const why = notReplayable(scenario);
  if (why) throw new Error(`${scenario.name}: ${why}`);
  const failures: string[] = [];
  for (const [i, action] of scenario.actions.entries()) {
    const failure = await perform(action, real);
    if (failure) failures.push(`action ${i + 1} (${action.do}): ${failure}`);
  }
  return { failures, bindings: real.bindings() };
}

async function perform(action: Action, real: RealMachine): Promise<string | undefined> {
  switch (action.do) {
    case "write": {
      const code = real.write(action.path, action.value);
      if (code === action.fails) return;
      return code ? `failed with ${code}` : `succeeded, expected ${action.fails}`;
    }
    case "remove": {
      const code = real.write(`/sys/bus/pci/devices/${action.address}/remove`, "1");
      return code ? `failed with ${code}` : undefined;
    }
    case "modprobe":
    case "modprobe -r": {
      const run = real.modprobe(action.do === "modprobe" ? [action.module] : ["-r", action.module]);
      return exitDiffers(run.ok ? 0 : 1, action.exit, run.message);
    }
    case "blacklist":
      real.blacklist(action.module, action.remove === true);
      return;
    case "flavourctl": {
      const code = await real.flavourctl(action.args);
      return code === (action.exit ?? 0) ? undefined : `exit ${code}, expected ${action.exit ?? 0}`;
    }
    case "wait":
      real.sleep(action.ms);
      return;
    case "expect": {
      const now = real.bindings();
      const wrong = Object.entries(action.bindings).filter(([a, d]) => (now[a] ?? null) !== d);
      return wrong.length === 0
        ? undefined
        : wrong
            .map(([a, d]) => `${a} is on ${now[a] ?? "no driver"}, expected ${d ?? "no driver"}`)
            .join("; ");
    }
    default:
      return;
  }
}

/** The events `udevadm monitor --kernel --property` printed: a KERNEL[...] line, properties, a blank line. */
export function parseUdevMonitor(text: string): Uevent[] {
  const events: Uevent[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split("\n").filter((l) => l !== "");
    const head = /^KERNEL\[[\d.]+\]\s+(\w+)\s+(\S+)\s+\((\S+)\)$/.exec(lines[0] ?? "");
    if (!head) continue;
    const vars: Record<string, string> = Object.create(null); // keys from udevadm's output
    for (const line of lines.slice(1)) {
      const eq = line.indexOf("=");
      if (eq > 0) vars[line.slice(0, eq)] = line.slice(eq + 1);
    }
    events.push({
      action: head[1] as Uevent["action"],
      devpath: head[2] as string,
      vars: { SUBSYSTEM: head[3] as string, ...vars },
    });
  }
  return events;
}

/** Per PCI device, its bind/unbind uevents in order: "bind virtio-pci", "unbind", … */
export function bindOrder(events: readonly { vars?: Record<string, string> }[]): Record<string, string[]> {
  const order: Record<string, string[]> = Object.create(null);
  for (const e of events) {
    const v = e.vars;
    if (v?.SUBSYSTEM !== "pci" || (v.ACTION !== "bind" && v.ACTION !== "unbind")) continue;
    const address = v.PCI_SLOT_NAME ?? basename(v.DEVPATH ?? "");
    order[address] ??= [];
    order[address].push(v.ACTION === "bind" ? `bind ${v.DRIVER}` : "unbind");
  }
  return order;
}

/** Where a simulated run and a real one differ: final bindings, and each device's bind/unbind order. */
export function compareRuns(
  simulated: { bindings: Record<string, string | null>; trace: TraceEvent[] },
  real: { bindings: Record<string, string | null>; uevents: Uevent[] },
): string[] {
  const differences: string[] = [];
  const addresses = [...new Set([...Object.keys(simulated.bindings), ...Object.keys(real.bindings)])].sort();
  for (const a of addresses) {
    const [s, r] = [simulated.bindings[a] ?? null, real.bindings[a] ?? null];
    if (s !== r) differences.push(`${a}: simulated ends on ${s ?? "no driver"}, real on ${r ?? "no driver"}`);
  }
  const [simOrder, realOrder] = [
    bindOrder(simulated.trace),
    bindOrder(real.uevents.map((u) => ({ vars: { ACTION: u.action, DEVPATH: u.devpath, ...u.vars } }))),
  ];
  for (const a of [...new Set([...Object.keys(simOrder), ...Object.keys(realOrder)])].sort()) {
    const [s, r] = [simOrder[a] ?? [], realOrder[a] ?? []];
    if (s.join(", ") !== r.join(", "))
      differences.push(`${a}: simulated ${s.join(", ") || "(none)"}; real ${r.join(", ") || "(none)"}`);
  }
  return differences;
}
