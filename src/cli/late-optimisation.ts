// V8 compiles a function with TurboFan, its optimising compiler, on background threads once the
// function has run a while. A command that makes one pass over a whole modules.alias is over
// before most of those compiles pay off, and on a busy 2-core machine they take the CPU the pass
// needs: `overlaps` of Debian's 6.12 file used about 380 ms of CPU with them and 190 ms without
// (Node 20). Thresholds fifteen times larger leave the short passes in baseline code and still
// optimise what runs long (every pair and example listed with --json or --generic). README
// "overlaps" has the figures.
//
// V8 stamps a code cache with a hash of its flags: the launcher sets the flags before it compiles
// the bundle for such a command line, so that the cache it writes is the one the next run of
// that command accepts (src/cli/launcher.ts); the command sets them too, for runs from the sources.

/**
 * The flags, for V8 `version` (process.versions.v8). V8 before 12 (Node 18, 20) tiers up after
 * an interrupt budget of bytecode run (Node 20's default 66 kB, Node 18's 132 kB); V8 12 and later
 * (Node 22, 24) have no such flag and count invocations instead (`--invocation-count-for-turbofan`,
 * 3000 by default, and Maglev's, 400; Node 24 runs Maglev). A flag V8 does not know is an error
 * it prints on stderr.
 */
export function lateOptimisationFlags(version: string): string {
  return Number.parseInt(version, 10) >= 12
    ? "--invocation-count-for-turbofan=45000 --invocation-count-for-maglev=6000"
    : "--interrupt-budget=1000000";
}

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
  v8.setFlagsFromString(lateOptimisationFlags(process.versions.v8));
}
