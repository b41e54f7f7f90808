// A scenario's flavourctl step (sim/run.ts) run by the CLI in this process: the step's output,
// environment and machine as the Io a command is given, neither stdin nor terminal.
import type { CommandRunner } from "../sim/run.ts";
import type { RunCommand } from "./command.ts";

export function scenarioStepRunner(runCommand: RunCommand): CommandRunner {
  return (argv, step) =>
    runCommand(argv, {
      out: step.output,
      outEscaped: (bytes) => step.output(Buffer.from(bytes).toString("latin1")),
      err: step.output,
      readStdin: () => "",
      readStdinInto: () => 0,
      env: step.env,
      stdoutIsTty: false,
      stderrIsTty: false,
      machine: step.machine,
    });
}
