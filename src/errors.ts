// Errors that reach the user. Each kind carries its exit code; the CLI prints the message on
// one line and exits with that code, never with a stack trace.

export const ExitCode = {
  ok: 0,
  /** An action failed and the device was put back where it started. */
  failedRolledBack: 1,
  /** An input file (modules.alias, a machine file, a rule, sysfs) is missing, unreadable or malformed. */
  badInput: 2,
  /** A safety check refused the action; nothing was changed. `--force` overrides all but the hard checks. */
  refused: 3,
  /** An action failed and the device could NOT be put back: look at it now. */
  failedNotRolledBack: 4,
  /** Another flavourctl holds the host lock. */
  busy: 5,
  /** The action needs privileges this process does not have. */
  permission: 6,
  /** export: a device has no vfio flavour, or the vfio driver its rule gives it cannot be told yet. */
  notVfio: 7,
  /** The command line is wrong (unknown verb or option, malformed address). */
  usage: 64,
  /** A bug in flavourctl (sysexits.h EX_SOFTWARE): the message carries the stack to report. */
  internal: 70,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class FlavourError extends Error {
  readonly exitCode: ExitCodeValue;
  constructor(message: string, exitCode: ExitCodeValue) {
    super(message);
    this.name = "FlavourError";
    this.exitCode = exitCode;
  }
}

/** The command line is wrong. */
export class UsageError extends FlavourError {
  constructor(message: string) {
    super(message, ExitCode.usage);
    this.name = "UsageError";
  }
}

/** A file or a line of a file is missing or malformed; the message names it. */
export class InputError extends FlavourError {
  constructor(message: string) {
    super(message, ExitCode.badInput);
    this.name = "InputError";
  }
}

/**
 * A system call the kernel refused on a named file (a sysfs write: EINVAL, ENOMEM, ERANGE, …).
 * It carries the errno as `code`, so it ends as a one-line message (systemErrorExitCode) when no
 * command has a better answer for it.
 */
export class SystemCallError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "SystemCallError";
    this.code = code;
  }
}

/**
 * The exit code of a failed system call (a file that cannot be made, written or removed —
 * a rules directory that is a file, a read-only or root-owned place): 6 when privileges or a
 * read-only file system are the reason, else 2. Undefined for any other error (a bug).
 */
export function systemErrorExitCode(error: unknown): ExitCodeValue | undefined {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (!(error instanceof Error) || typeof code !== "string" || !/^E[A-Z0-9]+$/.test(code)) return undefined;
  return code === "EACCES" || code === "EPERM" || code === "EROFS" ? ExitCode.permission : ExitCode.badInput;
}

/** What a caught value says, for a log line. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
