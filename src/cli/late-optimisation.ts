// V8 compiles a function with TurboFan, its optimising compiler, on background threads once the
// function has run a while: its interrupt budget, 66 kB of bytecode in Node 20's V8. A command
// that makes one pass over a whole modules.alias is over before most of those compiles pay off,
// and on a busy 2-core machine they take the CPU the pass needs: `overlaps` of Debian's 6.12
// file used about 380 ms of CPU with them and 190 ms without. A budget fifteen times larger
// leaves the short passes in baseline code (Sparkplug) and still optimises what runs long
// (every pair and example listed with --json or --generic). README "overlaps" has the figures.
//
// V8 stamps a code cache with a hash of its flags: the launcher sets the flag before it compiles
// the bundle for such a command line, so that the cache it writes is the one the next run of
// that command accepts (src/cli/launcher.ts); the command sets it too, for runs from the sources.

/** Node 20's default budget times 15. */
export const LATE_OPTIMISATION_FLAG = "--interrupt-budget=1000000";

/**
 * Whether the command line (after node and the script) is one that wants it: `overlaps` of alias
 * files, not of a source tree (`--source`), whose scan runs long.
 */
export function wantsLateOptimisation(args: readonly string[]): boolean {
  return args[0] === "overlaps" && !args.some((arg) => arg === "--source" || arg.startsWith("--source="));
}

/**
 * From now on, for the whole process: V8 optimises only code that has run 15 times longer than
 * by default. `v8`: node:v8, loaded by the caller (the launcher has no lazy-builtins).
 */
export function optimiseOnlyLongRunningCode(v8: Pick<typeof import("node:v8"), "setFlagsFromString">): void {
  v8.setFlagsFromString(LATE_OPTIMISATION_FLAG);
}
