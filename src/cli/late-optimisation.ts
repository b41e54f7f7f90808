// V8 compiles a function with TurboFan, its optimising compiler, on background threads once the
// function has run a while: its interrupt budget, 66 kB of bytecode in Node 20's V8. A command
// that makes one pass over a whole modules.alias is over before most of those compiles pay off,
// and on a busy 2-core machine they take the CPU the pass needs: `overlaps` of Debian's 6.12
// file used about 380 ms of CPU with them and 190 ms without. A budget fifteen times larger
// leaves the short passes in baseline code (Sparkplug) and still optimises what runs long
// (every pair and example listed with --json or --generic). README "overlaps" has the figures.
import { v8 } from "../lazy-builtins.ts";

/** Node 20's default budget times 15. */
export const LATE_OPTIMISATION_FLAG = "--interrupt-budget=1000000";

/** From now on, for the whole process: V8 optimises only code that has run 15 times longer than by default. */
export function optimiseOnlyLongRunningCode(): void {
  v8().setFlagsFromString(LATE_OPTIMISATION_FLAG);
}
