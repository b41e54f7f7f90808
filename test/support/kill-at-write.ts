// A flavourctl run on a simulated machine that SIGKILLs itself right after its Nth change to
// the machine (a sysfs write or a modprobe, each saved to the machine's state file at once, as
// a real kernel keeps what was written): kill -9 between any two steps of set or apply.
// Env: FLAVOURCTL_ARGS (JSON argv), KILL_AT (N; 0 never), XDG_STATE_HOME. Unkilled, it prints
// `exit CODE changes N`.
import { recordingIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { SimControl } from "../../src/host/sim/control.ts";

const killAt = Number(process.env.KILL_AT ?? "0");
let changes = 0;
const levers = SimControl.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
for (const name of ["write", "modprobe"]) {
  const original = levers[name] as (...args: unknown[]) => unknown;
  levers[name] = function (this: unknown, ...args: unknown[]) {
    try {
      return original.apply(this, args);
    } finally {
      // after the lever's own finally: the change is in the state file
      if (++changes === killAt) process.kill(process.pid, "SIGKILL");
    }
  };
}
const { io } = recordingIo("", { XDG_STATE_HOME: process.env.XDG_STATE_HOME ?? "" });
const code = await main(JSON.parse(process.env.FLAVOURCTL_ARGS ?? "[]") as string[], io);
process.stdout.write(`exit ${code} changes ${changes}\n`);
