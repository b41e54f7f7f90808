// SR-IOV VFs born with their flavour: with sriov_drivers_autoprobe off while they are created,
// no driver probes the new VFs, so each can be given its flavour before anything binds it;
// then autoprobe is put back as it was, and the VFs without a flavour get the kernel's own
// driver (the default flavour: loaded, probed and verified like `unset`).
import { ExitCode, FlavourError, messageOf, SystemCallError, UsageError } from "../errors.ts";
import type { PciAddress } from "../pci/address.ts";
import { type RuleOutcome, requestOf, subjectOf } from "./apply-rules.ts";
import { giveFlavour, type Machine } from "./give.ts";
import { type Rule, ruleFor } from "./rules.ts";
import type { TargetRequest } from "./target.ts";
import { isVfioDriver } from "./vfio-drivers.ts";

export interface VfsResult {
  vfs: PciAddress[];
  outcomes: RuleOutcome[];
  log: string[];
}

export function createVfs(
  machine: Machine,
  pf: PciAddress,
  count: number,
  flavour: TargetRequest | undefined,
  rules: readonly Rule[],
  options: { force?: boolean } = {},
): VfsResult {
  const host = machine.host;
  const log: string[] = [];
  const total = host.sriovTotalVfs(pf);
  if (total === null) throw new UsageError(`${pf} is not an SR-IOV PF (it has no sriov_totalvfs)`);
  // sriov_numvfs_store (drivers/pci/iov.c) returns ERANGE for more than sriov_totalvfs
  if (count > total)
    throw new UsageError(`${pf} can have at most ${total} VFs (sriov_totalvfs), not ${count}`);
  const existing = host.device(pf).sriovNumVfs;
  if (count === 0) return { vfs: removeVfs(machine, pf, options.force === true, log), outcomes: [], log };
  if (existing !== 0) {
    throw new FlavourError(
      `${pf} already has ${existing} VFs: remove them first with 'vfs ${pf} 0'`,
      ExitCode.refused,
    );
  }
  // refused for every VF alike (chooseTarget): refused before any VF exists
  if (flavour?.flavour === "vfio" && flavour.driver !== undefined && !isVfioDriver(flavour.driver)) {
    throw new FlavourError(`${flavour.driver} is not a vfio driver (no VF was created)`, ExitCode.refused);
  }
  const autoprobe = host.sriovAutoprobe(pf);
  sriovWrite(() => host.setSriovAutoprobe(pf, false), "nothing was changed");
  log.push(`sriov_drivers_autoprobe = 0 (was ${autoprobe ? 1 : 0})`);
  const outcomes: RuleOutcome[] = [];
  const unflavoured: PciAddress[] = [];
  let vfs: PciAddress[] = [];
  let failure: unknown;
  try {
    sriovWrite(() => host.setNumVfs(pf, count), "no VF was created, sriov_drivers_autoprobe put back");
    log.push(`sriov_numvfs = ${count}`);
    vfs = host.virtfns(pf);
    for (let waited = 0; vfs.length < count && waited < 3000; waited += 50) {
      host.pause(50);
      vfs = host.virtfns(pf);
    }
    if (vfs.length < count)
      throw new FlavourError(`${pf}: only ${vfs.length} of ${count} VFs appeared`, ExitCode.failedRolledBack);
    for (const vf of vfs) {
      const rule = flavour ? undefined : ruleFor(rules, subjectOf(machine, vf));
      const request = flavour ?? (rule ? requestOf(rule) : undefined);
      if (!request) {
        unflavoured.push(vf);
        continue;
      }
      outcomes.push({
        address: vf,
        rule: rule?.name ?? "--flavour",
        give: giveFlavour(machine, vf, request, options),
      });
    }
  } catch (error) {
    failure = error;
  }
  try {
    host.setSriovAutoprobe(pf, autoprobe);
  } catch (error) {
    if (!(error instanceof SystemCallError)) throw error;
    const before = failure === undefined ? "" : `${messageOf(failure)}; then `;
    throw new FlavourError(
      `${before}${error.message}${hint(error.code)}: sriov_drivers_autoprobe of ${pf} stays 0, so no driver probes its new VFs`,
      ExitCode.failedNotRolledBack,
    );
  }
  log.push(`sriov_drivers_autoprobe = ${autoprobe ? 1 : 0} again`);
  if (failure !== undefined) throw failure;
  // Only now: pci_device_can_probe (drivers/pci/pci-driver.c) refuses a VF with no
  // driver_override while its PF's sriov_drivers_autoprobe is off, so a probe made earlier
  // bound nothing. With autoprobe still off (it was off before), they stay unbound: say so.
  for (const vf of unflavoured) {
    if (!autoprobe) {
      log.push(`${vf}: no flavour; sriov_drivers_autoprobe is 0, so no driver may probe it`);
      continue;
    }
    outcomes.push({
      address: vf,
      rule: "(none)",
      give: giveFlavour(machine, vf, { flavour: "default" }, options),
    });
  }
  return { vfs, outcomes, log };
}

/** sriov_numvfs = 0, refusing while a VM holds one of the VFs' vfio nodes. */
function removeVfs(machine: Machine, pf: PciAddress, force: boolean, log: string[]): PciAddress[] {
  const host = machine.host;
  const vfs = host.virtfns(pf);
  for (const vf of vfs) {
    const open = host.vfioOpenNodes(vf);
    if (open.length > 0 && !force) {
      throw new FlavourError(
        `${vf} is in use: a process holds ${open.join(" and ")} (a VM?); stop it first or use --force`,
        ExitCode.refused,
      );
    }
  }
  sriovWrite(() => host.setNumVfs(pf, 0), "the VFs are still there");
  log.push(`sriov_numvfs = 0 (${vfs.length} VFs removed)`);
  return vfs;
}

/**
 * What sriov_numvfs_store and sriov_drivers_autoprobe_store (drivers/pci/iov.c) mean by an
 * errno, for the one-line message.
 */
function hint(code: string): string {
  switch (code) {
    case "ENOENT":
      return " (the PF's driver cannot configure SR-IOV, or no driver is bound to it)";
    case "ERANGE":
      return " (more VFs than sriov_totalvfs)";
    case "EBUSY":
      return " (VFs are already enabled)";
    case "ENOMEM":
      return " (the kernel could not create the VFs: no bus number or memory left)";
    default:
      return "";
  }
}

/** A write to the PF's SR-IOV attributes: a refused one (an errno) fails the command, exit 1. */
function sriovWrite(write: () => void, after: string): void {
  try {
    write();
  } catch (error) {
    if (!(error instanceof SystemCallError)) throw error;
    throw new FlavourError(`${error.message}${hint(error.code)}; ${after}`, ExitCode.failedRolledBack);
  }
}
