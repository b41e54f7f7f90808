// What a verb is: its one-line summary and how it runs. Apart from main.ts, which loads the
// verbs, so that no verb imports the module that imports it.
import type { Io } from "./io.ts";

/** Runs a whole flavourctl command line in this process: main, handed to the verbs that run others. */
export type RunCommand = (argv: string[], io: Io) => Promise<number>;

export interface Command {
  summary: string;
  /** `runCommand`: the CLI itself, for a verb that runs command lines (sim run's steps). */
  run(args: string[], io: Io, runCommand: RunCommand): Promise<number>;
}
