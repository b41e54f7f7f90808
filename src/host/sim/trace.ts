// The event trace of a simulated machine: what dmesg, `udevadm monitor --kernel --property`
// and modprobe -v would show, in one time-ordered list. Time is simulated (microseconds), so
// one seed gives one trace.

export type TraceSource = "kernel" | "uevent" | "udev" | "modprobe" | "sysfs" | "flavourctl" | "scenario";

export interface TraceEvent {
  /** Simulated time in microseconds since boot. */
  t: number;
  source: TraceSource;
  text: string;
  /** uevents: ACTION, DEVPATH, SUBSYSTEM, MODALIAS, DRIVER, … */
  vars?: Record<string, string>;
}

export class Trace {
  readonly events: TraceEvent[] = [];
  /** Off for scale runs: nothing is recorded. */
  enabled = true;

  push(event: TraceEvent): void {
    if (this.enabled) this.events.push(event);
  }
}

const stamp = (t: number) => `[${(t / 1e6).toFixed(6).padStart(12)}]`;

/**
 * One line per event, like dmesg interleaved with `udevadm monitor --kernel`; a uevent shows
 * the variables that drive binding (MODALIAS, DRIVER, DRIVER_FLAVOUR), or all of them with
 * `properties` (as `udevadm monitor --property`).
 */
export function formatTrace(events: readonly TraceEvent[], options: { properties?: boolean } = {}): string {
  const out: string[] = [];
  for (const e of events) {
    let line = `${stamp(e.t)} ${e.source.padEnd(9)} ${e.text}`;
    if (e.vars && !options.properties) {
      const shown = ["DRIVER", "DRIVER_FLAVOUR", "MODALIAS"].filter(
        (k) => e.vars?.[k] !== undefined && e.vars?.[k] !== "",
      );
      if (e.vars.ACTION !== "remove" && e.vars.SUBSYSTEM === "pci")
        line += shown.map((k) => ` ${k}=${e.vars?.[k]}`).join("");
    }
    out.push(line);
    if (e.vars && options.properties)
      for (const [k, v] of Object.entries(e.vars))
        if (k !== "ACTION" && k !== "DEVPATH") out.push(`${" ".repeat(25)}${k}=${v}`);
  }
  return out.length > 0 ? `${out.join("\n")}\n` : "";
}
