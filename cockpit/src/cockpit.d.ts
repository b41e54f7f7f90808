// The part of Cockpit's cockpit.js (base1, loaded by index.html before the page's bundle) that
// the page uses. Cockpit's promises call back with several values: spawn resolves with
// (stdout, stderr message) and rejects with (ProcessError, stdout).

interface CockpitProcessError {
  /** "not-found" when the program is missing, "access-denied", … */
  problem: string | null;
  exit_status: number | null;
  exit_signal: string | null;
  /** With `err: "message"`: what the process wrote on standard error. */
  message: string;
}

interface CockpitSpawnPromise {
  then(
    done: (stdout: string, message?: string) => void,
    fail?: (error: CockpitProcessError, stdout?: string) => void,
  ): CockpitSpawnPromise;
  stream(callback: (data: string) => void): CockpitSpawnPromise;
  close(problem?: string): CockpitSpawnPromise;
}

interface CockpitSpawnOptions {
  superuser?: "try" | "require";
  err?: "out" | "ignore" | "message";
  environ?: string[];
}

interface Cockpit {
  spawn(argv: string[], options?: CockpitSpawnOptions): CockpitSpawnPromise;
  location: { path: string[]; options: Record<string, string | string[]> };
  addEventListener(event: "locationchanged" | "visibilitychange", handler: () => void): void;
  hidden: boolean;
}

declare const cockpit: Cockpit;
