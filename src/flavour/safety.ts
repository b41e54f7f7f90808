// The checks made before touching a device. Each failed check names the device or group
// member and the reason; --force bypasses them (DESIGN.md section 6).
import type { DeviceState, HostControl } from "../host/control.ts";
import { unbindsDevice } from "./plan.ts";
import type { Target } from "./target.ts";
import { groupBlocker, inVfioPciDenylist } from "./vfio-drivers.ts";

export interface Check {
  name: string;
  ok: boolean;
  message: string;
  /** A failed check --force does not bypass. */
  hard?: true;
}

/**
 * MOVING: the devices that get the flavour together with this one (its group's other non-bridge
 * members, with --group); a member outside it stays where it is and may keep the group from
 * being viable.
 */
export function safetyChecks(
  host: HostControl,
  device: DeviceState,
  target: Target,
  moving: ReadonlySet<string> = new Set([device.address]),
): Check[] {
  const checks: Check[] = [];
  if (target.refusal) {
    // no driver to go to (a tie between variants, a name nothing registers): nothing to force
    const nothing = target.module === null && target.driver === null;
    checks.push({ name: "target", ok: false, message: target.refusal, ...(nothing ? { hard: true } : {}) });
  }
  const uses = host.hostUses(device.address);
  checks.push({
    name: "host-use",
    ok: uses.length === 0,
    message:
      uses.length === 0
        ? "the host does not use this device"
        : `the host uses ${device.address}: ${uses.join("; ")}`,
  });
  const escaping = host.escapingWrites(device.address, device.driver === null ? [] : [device.driver]);
  if (escaping.length > 0) {
    checks.push({
      name: "tree",
      ok: false,
      hard: true, // a write that would leave the tree is never made
      message: `${escaping.join(", ")}: not inside ${host.description} (a planted link, or a driver name that is no file name); nothing is written there, even with --force`,
    });
  }
  const held = vfioHoldCheck(host, device, target);
  if (held) checks.push(held);
  checks.push(...vfChecks(host, device, target));
  if (!target.vfio) return checks;
  checks.push(groupCheck(host, device, moving));
  if (isBridge(device)) {
    checks.push({
      name: "bridge",
      ok: false,
      message: `${device.address} is a bridge (header type ${device.headerType}); vfio-pci drives only normal devices`,
    });
  }
  if (device.sriovNumVfs > 0 && !unbindsDevice(device, target)) {
    checks.push({
      name: "sriov",
      ok: false,
      message: `${device.address} is a PF with ${device.sriovNumVfs} VFs enabled; vfio-pci refuses it (EBUSY): remove the VFs first`,
    });
  }
  if ((target.driver === "vfio-pci" || target.module === "vfio_pci") && inVfioPciDenylist(device.ids)) {
    checks.push({
      name: "denylist",
      ok: false,
      message: `${device.address} is on vfio-pci's denylist (vfio_pci_dev_in_denylist); it refuses this device`,
    });
  }
  return checks;
}

/**
 * A device a vfio driver holds must not be unbound while a process (a VM) has it open:
 * vfio_unregister_group_dev calls the driver's ->request to ask userspace to let go and waits
 * until it does, forever if it never does, with flavourctl holding the host lock.
 */
function vfioHoldCheck(host: HostControl, device: DeviceState, target: Target): Check | undefined {
  if (!device.vfioDevice || !unbindsDevice(device, target)) return undefined;
  const open = host.vfioOpenNodes(device.address);
  return {
    name: "vfio-in-use",
    ok: open.length === 0,
    message:
      open.length === 0
        ? `no process holds ${device.address}'s vfio nodes open`
        : `${device.address} is in use: a process holds ${open.join(" and ")} open (a VM?); unbinding it would wait until that process lets go: stop it first`,
  };
}

/**
 * A PF with VFs enabled loses them when the plan unbinds it: the PF driver's remove disables
 * SR-IOV (mlx5's remove_one → mlx5_sriov_disable) or leaves them orphaned (pci_iov_remove only
 * warns), and vfio-pci refuses a PF with VFs (EBUSY). So the plan removes them itself, as a
 * step it shows (sriov_numvfs = 0), only with --force, and never under a VM: removing a VF a
 * process holds through vfio waits in vfio_unregister_group_dev until it lets go, and a VM's
 * device must not vanish — refused even with --force.
 */
function vfChecks(host: HostControl, device: DeviceState, target: Target): Check[] {
  if (device.sriovNumVfs === 0 || !unbindsDevice(device, target)) return [];
  const vfs = host.virtfns(device.address);
  const described = vfs.map((vf) => {
    const uses = host.hostUses(vf);
    return `${vf} (${host.device(vf).driver ?? "no driver"}${uses.length > 0 ? `; the host uses it: ${uses.join("; ")}` : ""})`;
  });
  const checks: Check[] = [
    {
      name: "vfs",
      ok: false,
      message: `${device.address} is a PF with ${vfs.length} VFs enabled, and unbinding it removes them: ${described.join(", ")}; --force removes them first (sriov_numvfs = 0)`,
    },
  ];
  for (const vf of vfs) {
    const open = host.vfioOpenNodes(vf);
    if (open.length > 0)
      checks.push({
        name: "vf-in-use",
        ok: false,
        hard: true,
        message: `VF ${vf} of ${device.address} is in use: a process holds ${open.join(" and ")} open (a VM?); removing it would pull the device from under it: stop it first (refused even with --force)`,
      });
  }
  return checks;
}

function groupCheck(host: HostControl, device: DeviceState, moving: ReadonlySet<string>): Check {
  if (device.iommuGroup === null) {
    return {
      name: "iommu-group",
      ok: false,
      message: `${device.address} has no IOMMU group: is the IOMMU enabled?`,
    };
  }
  const blockers = host
    .groupMembers(device.iommuGroup)
    .filter((member) => !moving.has(member.address))
    .map((member) => ({ member, why: groupBlocker(member) }))
    .filter((b) => b.why !== undefined);
  if (blockers.length === 0)
    return { name: "iommu-group", ok: true, message: `IOMMU group ${device.iommuGroup} stays viable` };
  // --group moves every member but the bridges (vfio-pci refuses them): a bridge on a driver
  // that does not manage its own DMA (shpchp) keeps the group from being viable all the same.
  const bridges = blockers.filter((b) => isBridge(b.member)).map((b) => b.member.address);
  const hints = [
    ...(bridges.length < blockers.length ? ["use --group to move the whole group"] : []),
    ...(bridges.length > 0
      ? [`a bridge is not moved, not even by --group: unbind ${bridges.join(" and ")} from its driver first`]
      : []),
  ];
  return {
    name: "iommu-group",
    ok: false,
    message:
      `IOMMU group ${device.iommuGroup} would not be viable for vfio: ` +
      `${blockers.map((b) => `${b.member.address} is ${b.why}`).join("; ")} (${hints.join("; ")})`,
  };
}

function isBridge(device: { headerType: number | null }): boolean {
  return device.headerType !== null && device.headerType !== 0;
}
