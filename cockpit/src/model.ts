// The page's picture of the machine, made from flavourctl's own JSON (list --json, rules
// --json): the PCI tree (devices under the bridge above them, VFs folded under their PF), the
// IOMMU group boxes, and the filters. Pure: no DOM and no cockpit, so that node:test runs it on
// the JSON the real command prints (test/cockpit/model.test.ts). Every verdict shown here —
// the vfio flavour, a refusal and its reason, the group's blockers, which rules decide a
// device — is a field flavourctl wrote; nothing is decided again in the page.

/** The part of `flavourctl list --json`'s object the page reads (README "list --json"). */
export interface Device {
  address: string;
  vendor: string;
  device: string;
  class: string;
  driver: string | null;
  driverOverride: string | null;
  vfio: {
    driver: string | null;
    module: string | null;
    candidates: string[];
    tie: string[] | null;
    reason: string;
    refused: string | null;
  } | null;
  iommuGroup: number | null;
  iommuGroupBlockers: string[];
  headerType: number | null;
  vfioBound: boolean;
  physfn: string | null;
  virtfns: string[];
  parents: string[];
  names?: { class: string | null; vendor: string | null; device: string | null };
}

/** One rule of `flavourctl rules --json`. */
export interface Rule {
  name: string;
  match: string;
  flavour: string;
  driver: string | null;
  group: boolean;
  devices: string[];
}

export interface TreeNode {
  device: Device;
  /** Devices whose nearest bridge is this one, in bus order (VFs excepted). */
  children: TreeNode[];
  /** The VFs of a PF, in virtfn order: folded under it. */
  vfs: TreeNode[];
}

export interface Tree {
  roots: TreeNode[];
  byAddress: Map<string, TreeNode>;
  /** How many devices each IOMMU group has in all. */
  groupSizes: Map<number, number>;
}

/** The tree of list's `parents` (root first) and `physfn`; list gives devices in bus order. */
export function buildTree(devices: readonly Device[]): Tree {
  const byAddress = new Map<string, TreeNode>();
  for (const device of devices) byAddress.set(device.address, { device, children: [], vfs: [] });
  const roots: TreeNode[] = [];
  const groupSizes = new Map<number, number>();
  for (const node of byAddress.values()) {
    const { device } = node;
    if (device.iommuGroup !== null)
      groupSizes.set(device.iommuGroup, (groupSizes.get(device.iommuGroup) ?? 0) + 1);
    const pf = device.physfn === null ? undefined : byAddress.get(device.physfn);
    const bridge = byAddress.get(device.parents[device.parents.length - 1] ?? "");
    if (pf) pf.vfs.push(node);
    else if (bridge) bridge.children.push(node);
    else roots.push(node); // on a root bus, or its bridge is not listed
  }
  for (const node of byAddress.values()) {
    const order = new Map(node.device.virtfns.map((vf, i) => [vf, i]));
    node.vfs.sort((a, b) => (order.get(a.device.address) ?? 0) - (order.get(b.device.address) ?? 0));
  }
  return { roots, byAddress, groupSizes };
}

export interface GroupBox {
  /** null: the devices have no IOMMU group (no IOMMU), or share the enclosing box's group. */
  group: number | null;
  members: TreeNode[];
}

/**
 * Siblings boxed by IOMMU group, in order of first appearance: one box per group among them.
 * Members of the group of the box that encloses them (a bridge and what is behind it, in one
 * group without ACS) are not boxed again.
 */
export function groupBoxes(siblings: readonly TreeNode[], enclosing: number | null): GroupBox[] {
  const boxes: GroupBox[] = [];
  const byGroup = new Map<number, GroupBox>();
  for (const node of siblings) {
    const group = node.device.iommuGroup;
    if (group === null || group === enclosing) {
      const last = boxes[boxes.length - 1];
      if (last && last.group === null) last.members.push(node);
      else boxes.push({ group: null, members: [node] });
      continue;
    }
    let box = byGroup.get(group);
    if (!box) {
      box = { group, members: [] };
      byGroup.set(group, box);
      boxes.push(box);
    }
    box.members.push(node);
  }
  return boxes;
}

export type FlavourKind = "variant" | "generic" | "tie" | "refused" | "unknown";

/** What list's VFIO column says, as a badge: flavourctl's choice, tie or refusal, unchanged. */
export function vfioFlavour(device: Device): { kind: FlavourKind; text: string; title: string } {
  const vfio = device.vfio;
  if (vfio === null) return { kind: "unknown", text: "?", title: "modules unknown" };
  if (vfio.refused !== null) return { kind: "refused", text: "refused", title: vfio.refused };
  if (vfio.tie !== null) return { kind: "tie", text: `tie: ${vfio.tie.join(", ")}`, title: vfio.reason };
  if (vfio.module === null) return { kind: "generic", text: "vfio-pci (by name)", title: vfio.reason };
  return {
    kind: vfio.module === "vfio_pci" ? "generic" : "variant",
    text: vfio.module,
    title: vfio.reason,
  };
}

/**
 * "Can go to a VM as it is": list shows neither `(refused)` nor a tie in VFIO, nor `!` in
 * GROUP (no other member of its IOMMU group bound to a host driver).
 */
export function canGoToVm(device: Device): boolean {
  const vfio = device.vfio;
  return (
    vfio !== null && vfio.refused === null && vfio.tie === null && device.iommuGroupBlockers.length === 0
  );
}

/** The rules that decide each device (rules --json's `devices`). */
export function rulesByDevice(rules: readonly Rule[]): Map<string, Rule[]> {
  const map = new Map<string, Rule[]>();
  for (const rule of rules)
    for (const address of rule.devices) map.set(address, [...(map.get(address) ?? []), rule]);
  return map;
}

export function className(device: Device): string {
  return device.names?.class ?? `class ${device.class}`;
}

export function vendorName(device: Device): string {
  return device.names?.vendor ?? device.vendor;
}

export function deviceName(device: Device): string {
  const names = device.names;
  return `${names?.vendor ?? `vendor ${device.vendor}`} ${names?.device ?? `device ${device.device}`}`;
}

export interface Filter {
  className: string;
  vendor: string;
  vmReady: boolean;
  search: string;
}

export const NO_FILTER: Filter = { className: "", vendor: "", vmReady: false, search: "" };

export function isFiltering(filter: Filter): boolean {
  return filter.className !== "" || filter.vendor !== "" || filter.vmReady || filter.search.trim() !== "";
}

/** Whether a device passes every filter; the search looks in what its row shows. */
export function matches(device: Device, filter: Filter, rules: ReadonlyMap<string, Rule[]>): boolean {
  if (filter.className !== "" && className(device) !== filter.className) return false;
  if (filter.vendor !== "" && vendorName(device) !== filter.vendor) return false;
  if (filter.vmReady && !canGoToVm(device)) return false;
  const words = filter.search.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const text = [
    device.address,
    `${device.vendor}:${device.device}`,
    className(device),
    deviceName(device),
    device.driver ?? "",
    vfioFlavour(device).text,
    device.iommuGroup === null ? "" : `group ${device.iommuGroup}`,
    ...(rules.get(device.address) ?? []).map((rule) => `rule ${rule.name} ${rule.flavour}`),
  ]
    .join(" ")
    .toLowerCase();
  return words.every((word) => text.includes(word));
}

export interface Visible {
  /** Devices shown: those that match, and the bridges and PFs above them. */
  shown: Set<string>;
  /** Devices that match (the others in `shown` are context). */
  matching: Set<string>;
  /** PFs to unfold: one of their VFs matches while a filter is on. */
  unfold: Set<string>;
}

export function visibleDevices(tree: Tree, filter: Filter, rules: ReadonlyMap<string, Rule[]>): Visible {
  const shown = new Set<string>();
  const matching = new Set<string>();
  const unfold = new Set<string>();
  const filtering = isFiltering(filter);
  const visit = (node: TreeNode): boolean => {
    let any = matches(node.device, filter, rules);
    if (any) matching.add(node.device.address);
    for (const child of node.children) if (visit(child)) any = true;
    let vfMatches = false;
    for (const vf of node.vfs) if (visit(vf)) vfMatches = true;
    if (vfMatches && filtering) unfold.add(node.device.address);
    if (vfMatches) any = true;
    if (any) shown.add(node.device.address);
    return any;
  };
  for (const root of tree.roots) visit(root);
  return { shown, matching, unfold };
}

/** The choices of the class and vendor filters: each name once, sorted. */
export function filterChoices(devices: readonly Device[]): { classes: string[]; vendors: string[] } {
  const sorted = (values: Iterable<string>) => [...new Set(values)].sort((a, b) => a.localeCompare(b));
  return { classes: sorted(devices.map(className)), vendors: sorted(devices.map(vendorName)) };
}

/** A PF's folded line: how many VFs, and how many a vfio driver holds now. */
export function vfSummary(node: TreeNode): string {
  const onVfio = node.vfs.filter((vf) => vf.device.vfioBound).length;
  const count = `${node.vfs.length} VF${node.vfs.length === 1 ? "" : "s"}`;
  return onVfio === 0 ? count : `${count}, ${onVfio} on vfio`;
}
