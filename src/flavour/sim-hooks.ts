// flavourctl's own userspace on a simulated machine's udev: the hook of 60-flavourctl.rules
// (saved flavours on add events) and the driver_flavour hook of the thread's proposal (the
// vfio flavour chosen, loaded and bound by the same policy as `set DEVICE vfio`).
import type { SimControl } from "../host/sim/control.ts";
import type { SimMachine } from "../host/sim/machine.ts";
import type { ModulesDir } from "../modules/modules-dir.ts";
import { giveFlavour } from "./give.ts";
import { describeHookOutcome, runHook } from "./hook.ts";
import { loadRules } from "./rules-store.ts";

export function wireSimHooks(
  machine: SimMachine,
  control: SimControl,
  modules: ModulesDir,
  dirs: { rulesDir: string; runDir: string },
): void {
  const say = (text: string) =>
    machine.kernel.trace.push({ t: ++machine.kernel.now, source: "flavourctl", text });
  machine.udev.hooks = {
    onAdd: (address) => {
      const run = runHook(
        { modules, host: control },
        () => loadRules(dirs.rulesDir).rules,
        address,
        dirs.runDir,
      );
      for (const outcome of run.outcomes) say(`hook: ${describeHookOutcome(outcome, run.bootPass)}`);
    },
    onFlavour: (address) => {
      const machineView = { modules, host: control };
      // The choice first (a dry run), so the trace shows why before what.
      say(
        `driver_flavour hook: ${address}: ${giveFlavour(machineView, address, { flavour: "vfio" }, { dryRun: true }).plan.target.reason}`,
      );
      const give = giveFlavour(machineView, address, { flavour: "vfio" });
      if (give.refused.length > 0)
        say(`driver_flavour hook: ${address}: refused: ${give.refused.join("; ")}`);
      else
        say(
          `driver_flavour hook: ${address}: ${give.result?.outcome} -> ${give.result?.final.driver ?? "no driver"}`,
        );
    },
  };
}
