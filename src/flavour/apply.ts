// Carrying out a plan on a host, transactionally: the starting driver and override are
// recorded, every step is checked, and on any failure the device is put back where it was.
// drivers_probe reports success even when nothing bound, so verification is never skipped.
import { FlavourError, messageOf } from "../errors.ts";
import type { DeviceState, HostControl } from "../host/control.ts";
import type { Plan, Step } from "./plan.ts";
import { isVfioDriver } from "./vfio-drivers.ts";

export type Outcome = "done" | "nothing-to-do" | "rolled-back" | "not-rolled-back";

export interface ApplyResult {
  outcome: Outcome;
  /** What happened, step by step, in words. */
  log: string[];
  /** The failure that started a rollback. */
  error?: string;
  final: { driver: string | null; driverOverride: string | null };
}

export interface ApplyOptions {
  /** How long verification polls for the binding to show (binding can be asynchronous). */
  verifyTimeoutMs?: number;
}

class StepFailure extends Error {}

export function applyPlan(host: HostControl, plan: Plan, options: ApplyOptions = {}): ApplyResult {
  const log: string[] = [];
  const start = host.device(plan.address);
  if (plan.done)
    return { outcome: "nothing-to-do", log: ["already has this flavour"], final: snapshot(start) };
  let driver = plan.target.driver;
  let changed = false;
  let removedVfs: string[] = [];
  try {
    for (const step of plan.steps) {
      const done = runStep(host, plan, step, driver, log, options.verifyTimeoutMs ?? 3000);
      driver = done.driver;
      changed ||= done.changed;
      if (step.action === "remove-vfs") removedVfs = step.vfs;
    }
    return { outcome: "done", log, final: snapshot(host.device(plan.address)) };
  } catch (error) {
    const message = messageOf(error);
    // Nothing changed yet: a refusal of ours (no permission: exit 6) goes up as it is; any
    // other failure (a write the kernel or a read-only /sys refused) is this plan's outcome.
    if (!changed && error instanceof FlavourError) throw error;
    log.push(`failed: ${message}`);
    if (!changed) {
      log.push(`nothing had been changed: ${plan.address} is still on ${start.driver ?? "no driver"}`);
      return { outcome: "rolled-back", log, error: message, final: snapshot(start) };
    }
    const restored = rollback(host, start, log);
    // the VFs the plan removed are not made again: the device is not where it started
    if (removedVfs.length > 0)
      log.push(`NOT rolled back: the VFs ${removedVfs.join(", ")} were removed and are not created again`);
    return {
      outcome: restored && removedVfs.length === 0 ? "rolled-back" : "not-rolled-back",
      log,
      error: message,
      final: snapshot(host.device(plan.address)),
    };
  }
}

function snapshot(state: DeviceState) {
  return { driver: state.driver, driverOverride: state.driverOverride };
}

function runStep(
  host: HostControl,
  plan: Plan,
  step: Step,
  driver: string | null,
  log: string[],
  verifyTimeoutMs: number,
): { driver: string | null; changed: boolean } {
  const address = plan.address;
  // what the step did to the host: a module already loaded, a driver found, a verification
  // change nothing there
  const changedHost = { driver, changed: true };
  const leftAlone = { driver, changed: false };
  switch (step.action) {
    case "hold":
      host.writeOverride(address, step.override);
      log.push(`driver_override = ${step.override}: no driver may bind it while modules load`);
      return changedHost;
    case "load-module": {
      if (host.moduleLoaded(step.module)) {
        log.push(`module ${step.module} already loaded`);
        return leftAlone;
      }
      const before = host.device(address).driver;
      const result = host.modprobe(step.module);
      if (!result.ok) throw new StepFailure(`modprobe ${step.module}: ${result.message}`);
      if (!host.moduleLoaded(step.module)) {
        // modprobe -b exits 0 and loads nothing for a blacklisted module.
        throw new StepFailure(
          `modprobe ${step.module} loaded nothing: the module is blacklisted in modprobe.d`,
        );
      }
      log.push(`loaded module ${step.module}`);
      // A module's dependencies register drivers too, and each one binds the unbound devices
      // it matches (driver_register → driver_attach): the probe step takes the device back.
      const after = host.device(address).driver;
      if (after !== before && after !== null) log.push(`loading ${step.module} bound ${address} to ${after}`);
      return changedHost;
    }
    case "find-driver": {
      const drivers = host.moduleDrivers(step.module);
      if (drivers.length !== 1) {
        throw new StepFailure(
          drivers.length === 0
            ? `module ${step.module} registered no PCI driver`
            : `module ${step.module} registered several PCI drivers (${drivers.join(", ")}): name one with --driver`,
        );
      }
      log.push(`module ${step.module} registered driver ${drivers[0]}`);
      return { driver: drivers[0] as string, changed: false };
    }
    case "write-override": {
      const value = step.driver === "target" ? driver : step.driver;
      if (step.driver === "target" && value === null) throw new StepFailure("no driver name to write");
      host.writeOverride(address, value);
      log.push(value === null ? "cleared driver_override" : `driver_override = ${value}`);
      return changedHost;
    }
    case "remove-vfs": {
      host.setNumVfs(address, 0);
      log.push(`sriov_numvfs = 0: removed VFs ${step.vfs.join(", ")}`);
      return changedHost;
    }
    case "unbind": {
      if (host.device(address).driver === step.driver) host.unbind(address, step.driver);
      log.push(`unbound from ${step.driver}`);
      return changedHost;
    }
    case "probe": {
      // drivers_probe attaches only an unbound device: a driver that took it since the plan
      // was made (a module's dependency, a racing udev worker) is not the target, so it goes.
      const now = host.device(address).driver;
      if (plan.target.flavour !== "default" && now !== null && now !== driver) {
        host.unbind(address, now);
        log.push(`unbound from ${now}, which had bound it meanwhile`);
      }
      host.probe(address);
      log.push("drivers_probe");
      return changedHost;
    }
    case "verify":
      verify(host, plan, driver, log, verifyTimeoutMs);
      return leftAlone;
  }
}

/** Polls until the device shows the expected binding, or fails. */
function verify(
  host: HostControl,
  plan: Plan,
  driver: string | null,
  log: string[],
  timeoutMs: number,
): void {
  // Time is counted in the host's pauses, not the clock: on a simulated machine a pause
  // advances simulated time (a slow probe completes), so a failed verification costs nothing.
  for (let waited = 0; ; waited += 50) {
    const state = host.device(plan.address);
    const problem = verificationProblem(host, plan, state, driver);
    if (problem === undefined) {
      log.push(`verified: bound to ${state.driver ?? "no driver"}`);
      return;
    }
    if (waited >= timeoutMs) throw new StepFailure(`verification failed: ${problem}`);
    host.pause(50);
  }
}

function verificationProblem(
  host: HostControl,
  plan: Plan,
  state: DeviceState,
  driver: string | null,
): string | undefined {
  if (plan.target.flavour === "default") {
    if (state.driverOverride !== null) return `driver_override is still ${state.driverOverride}`;
    if (state.driver !== null && isVfioDriver(state.driver)) return `still bound to ${state.driver}`;
    if (state.driver === null && plan.target.modules.length > 0) return "no driver bound the device";
    return undefined;
  }
  if (state.driver !== driver) return `bound to ${state.driver ?? "no driver"}, expected ${driver}`;
  if (plan.target.vfio) {
    if (!state.vfioDevice) return `${driver} holds the device but vfio-dev/ is missing`;
    if (state.iommuGroup !== null && !host.vfioGroupNode(state.iommuGroup))
      return `/dev/vfio/${state.iommuGroup} is missing`;
  }
  return undefined;
}

/** Puts the device back: its starting override, and its starting driver (or none). */
export function rollback(host: HostControl, start: DeviceState, log: string[]): boolean {
  const address = start.address;
  try {
    const now = host.device(address);
    if (now.driver !== null && now.driver !== start.driver) {
      host.unbind(address, now.driver);
      log.push(`rollback: unbound from ${now.driver}`);
    }
    host.writeOverride(address, start.driverOverride);
    log.push(`rollback: driver_override restored to ${start.driverOverride ?? "(none)"}`);
    if (start.driver !== null && host.device(address).driver !== start.driver) {
      let how = `bind to ${start.driver}`;
      try {
        host.bind(address, start.driver);
      } catch (error) {
        // drivers_probe reports success even when nothing bound: what bound is read below.
        host.probe(address);
        how += ` failed (${messageOf(error)}), then drivers_probe`;
      }
      const now = host.device(address).driver;
      log.push(
        now === start.driver
          ? `rollback: rebound to ${start.driver}`
          : `rollback: ${how}: ${now === null ? "no driver bound it" : `bound to ${now}`}`,
      );
    }
  } catch (error) {
    log.push(`rollback failed: ${messageOf(error)}`);
  }
  const end = host.device(address);
  const restored = end.driver === start.driver && end.driverOverride === start.driverOverride;
  log.push(
    restored
      ? `rolled back: ${address} is on ${start.driver ?? "no driver"} again`
      : `NOT rolled back: ${address} is on ${end.driver ?? "no driver"} (override ${end.driverOverride ?? "none"}), it started on ${start.driver ?? "no driver"}`,
  );
  return restored;
}
