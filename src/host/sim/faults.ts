// Faults a simulated machine can be told to produce, so that flavourctl's rollback paths run:
// each is a value (it persists with the machine's state and appears in scenarios).
import { InputError } from "../../errors.ts";

export type Fault =
  /** The driver's probe returns an error (default ENXIO) for the device (or every device). */
  | { kind: "probe-fails"; driver: string; address?: string; errno?: string; times?: number }
  /** init_module fails (default ENODEV): modprobe prints "could not insert". */
  | { kind: "module-load-fails"; module: string; errno?: string; times?: number }
  /** The module's .ko is not in the modules tree: modprobe says "not found". */
  | { kind: "module-missing"; module: string }
  /** A write to an attribute fails (default EIO); `attribute` is its last path component. */
  | { kind: "sysfs-write-fails"; attribute: string; address?: string; errno?: string; times?: number }
  /** The driver's probe takes `ms`: the write (or modprobe) that started it waits that long. */
  | { kind: "slow-probe"; driver: string; ms: number };

const KINDS = ["probe-fails", "module-load-fails", "module-missing", "sysfs-write-fails", "slow-probe"];

/** A fault from JSON, checked; `path` names it in errors. */
export function readFault(value: unknown, path: string): Fault {
  const o = value as Record<string, unknown>;
  if (typeof o !== "object" || o === null || !KINDS.includes(o.kind as string))
    throw new InputError(`${path}.kind: expected one of ${KINDS.join(", ")}`);
  const fields: Record<string, string[]> = {
    "probe-fails": ["driver", "address", "errno", "times"],
    "module-load-fails": ["module", "errno", "times"],
    "module-missing": ["module"],
    "sysfs-write-fails": ["attribute", "address", "errno", "times"],
    "slow-probe": ["driver", "ms"],
  };
  const allowed = ["kind", ...(fields[o.kind as string] ?? [])];
  for (const key of Object.keys(o))
    if (!allowed.includes(key)) throw new InputError(`${path}.${key}: unknown field for a ${o.kind} fault`);
  const required = (allowed[1] as string) ?? "";
  if (typeof o[required] !== "string") throw new InputError(`${path}.${required}: missing`);
  if (o.kind === "slow-probe" && (typeof o.ms !== "number" || o.ms < 0))
    throw new InputError(`${path}.ms: expected milliseconds`);
  if (o.errno !== undefined && !/^E[A-Z]+$/.test(String(o.errno)))
    throw new InputError(`${path}.errno: expected a name like EIO`);
  if (o.times !== undefined && !(Number.isInteger(o.times) && (o.times as number) > 0))
    throw new InputError(`${path}.times: expected a positive integer`);
  return o as unknown as Fault;
}

/** Faults in force, consumed as they fire (`times`, default: for ever). */
export class FaultSet {
  readonly list: Fault[] = [];

  add(fault: Fault): void {
    this.list.push(fault);
  }

  /** The first fault that `pick` accepts; a fault with `times` left counts one down. */
  fire<K extends Fault["kind"]>(kind: K, pick: (f: Extract<Fault, { kind: K }>) => boolean) {
    const i = this.list.findIndex((f) => f.kind === kind && pick(f as Extract<Fault, { kind: K }>));
    if (i < 0) return undefined;
    const fault = this.list[i] as Extract<Fault, { kind: K }>;
    if ("times" in fault && fault.times !== undefined) {
      if (fault.times <= 1) this.list.splice(i, 1);
      else fault.times--;
    }
    return fault;
  }
}
