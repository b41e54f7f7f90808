// Runs flavourctl on the host through cockpit.spawn: the page's only way to the machine.
import { type Machine, machineArgs } from "./commands.ts";

export interface Run {
  args: string[];
  /** null when flavourctl did not run to an exit (not installed, a dropped session). */
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `flavourctl ARGS`, collected whatever its exit status: a refusal (exit 3) prints its plan on
 * standard output and its reason on standard error, and the page shows both. An action on the
 * host asks for administrative access ("try": without it flavourctl itself says it needs root,
 * exit 6); a simulated machine's state is the user's own, so it runs as the user.
 */
export async function flavourctl(args: string[], asAdmin: boolean): Promise<Run> {
  const run = await spawn(program, args, asAdmin);
  if (run.exitCode !== null || program !== "flavourctl" || !notFound) return run;
  // the Debian package puts it in /usr/sbin, which a user's PATH on Debian does not hold
  program = "/usr/sbin/flavourctl";
  return spawn(program, args, asAdmin);
}

/** `flavourctl` on PATH, until it is not found there. */
let program = "flavourctl";
let notFound = false;

function spawn(command: string, args: string[], asAdmin: boolean): Promise<Run> {
  return new Promise((resolve) => {
    let stdout = "";
    cockpit
      .spawn([command, ...args], { err: "message", ...(asAdmin ? { superuser: "try" } : {}) })
      .stream((data) => {
        stdout += data;
      })
      .then(
        (_data, message) => resolve({ args, exitCode: 0, stdout, stderr: message ?? "" }),
        (error) => {
          notFound = error.problem === "not-found";
          resolve({
            args,
            exitCode: error.exit_status ?? null,
            stdout,
            stderr: notFound
              ? "flavourctl is not installed on this machine (neither on PATH nor /usr/sbin/flavourctl)"
              : error.problem
                ? `flavourctl could not run: ${error.problem}`
                : error.message,
          });
        },
      );
  });
}

/** A read-only command on the machine the page shows. */
export function read(args: string[], machine: Machine): Promise<Run> {
  return flavourctl([...args, ...machineArgs(machine)], false);
}
