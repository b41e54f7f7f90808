// The PCI tree as an ARIA tree (WAI-ARIA Authoring Practices, "Tree View"): one tab stop, the
// arrow keys move, Right and Left unfold and fold, Enter or Space selects. Each IOMMU group is
// a box (role "group", named) around its members; a PF's VFs are folded under it and drawn
// only when unfolded, so 1,000 VFs cost nothing until asked for.
import { h, idOf } from "./dom.ts";
import {
  canGoToVm,
  className,
  deviceName,
  groupBoxes,
  type Rule,
  type Tree,
  type TreeNode,
  type Visible,
  vfioFlavour,
  vfSummary,
} from "./model.ts";

export interface TreeState {
  tree: Tree;
  visible: Visible;
  rules: Map<string, Rule[]>;
  /** Devices the user unfolded (true) or folded (false); the others as defaultOpen says. */
  open: Map<string, boolean>;
  selected: string | null;
  /** The device that holds the tree's one tab stop. */
  focused: string | null;
}

export interface TreeEvents {
  select(address: string): void;
  toggle(address: string): void;
}

function hasChildren(node: TreeNode): boolean {
  return node.children.length > 0 || node.vfs.length > 0;
}

/**
 * Bridges start unfolded (the topology is the picture), PFs folded (VFs can be hundreds), and a
 * PF one of whose VFs matches a filter unfolded.
 */
export function isExpanded(state: TreeState, node: TreeNode): boolean {
  const address = node.device.address;
  return state.open.get(address) ?? (state.visible.unfold.has(address) || node.vfs.length === 0);
}

function badge(kind: string, text: string, title?: string): HTMLElement {
  return h("span", { class: `badge badge-${kind}`, title }, text);
}

function row(state: TreeState, node: TreeNode, level: number): HTMLElement {
  const { device } = node;
  const address = device.address;
  const flavour = vfioFlavour(device);
  const rules = state.rules.get(address) ?? [];
  const expandable = hasChildren(node);
  const expanded = expandable && isExpanded(state, node);
  const labelId = idOf("label", address);
  const line = h(
    "div",
    { class: `row${state.visible.matching.has(address) ? "" : " context"}`, id: labelId },
    h(
      "span",
      { class: `twisty${expandable ? "" : " leaf"}`, "aria-hidden": "true" },
      expandable ? (expanded ? "▾" : "▸") : "",
    ),
    h("span", { class: "address" }, address),
    h("span", { class: "name" }, deviceName(device)),
    h("span", { class: "class" }, className(device)),
    device.driver === null
      ? badge("none", "no driver")
      : badge(device.vfioBound ? "vfio" : "driver", device.driver),
    badge(
      `flavour-${flavour.kind}`,
      flavour.kind === "refused" ? "vfio refused" : `vfio: ${flavour.text}`,
      flavour.title,
    ),
    device.iommuGroupBlockers.length > 0
      ? badge(
          "blocked",
          "group shared",
          `not alone in IOMMU group ${device.iommuGroup}: ${device.iommuGroupBlockers.join(", ")} on host drivers`,
        )
      : null,
    canGoToVm(device) ? badge("ready", "can go to a VM") : null,
    ...rules.map((rule) =>
      badge(
        "rule",
        `rule ${rule.flavour}${rule.driver ? ` ${rule.driver}` : ""}`,
        `${rule.name}: ${rule.match}`,
      ),
    ),
    node.vfs.length > 0 ? h("span", { class: "vfs" }, vfSummary(node)) : null,
  );
  const item = h(
    "div",
    {
      role: "treeitem",
      id: idOf("dev", address),
      "data-address": address,
      "aria-labelledby": labelId,
      "aria-level": String(level),
      "aria-selected": state.selected === address ? "true" : "false",
      "aria-expanded": expandable ? String(expanded) : undefined,
      tabindex: state.focused === address ? "0" : "-1",
    },
    line,
  );
  if (expanded) {
    const children = boxes(state, node.children, level + 1, node.device.iommuGroup);
    const vfs = node.vfs.filter((vf) => state.visible.shown.has(vf.device.address));
    if (vfs.length > 0)
      children.push(
        h(
          "div",
          { role: "group", class: "vf-list", "aria-label": `virtual functions of ${address}` },
          ...boxes(state, vfs, level + 1, null),
        ),
      );
    item.append(h("div", { role: "group", class: "children" }, ...children));
  }
  return item;
}

function boxes(
  state: TreeState,
  siblings: TreeNode[],
  level: number,
  enclosing: number | null,
): HTMLElement[] {
  const shown = siblings.filter((node) => state.visible.shown.has(node.device.address));
  return groupBoxes(shown, enclosing).map((box) => {
    const items = box.members.map((member) => row(state, member, level));
    if (box.group === null) return h("div", { class: "plain" }, ...items);
    const total = state.tree.groupSizes.get(box.group) ?? box.members.length;
    const label = `IOMMU group ${box.group}: ${total} device${total === 1 ? "" : "s"}`;
    // a group of one is a light box with its number in the corner; a shared one stands out
    return h(
      "div",
      { role: "group", class: `iommu-box${total === 1 ? " single" : " shared"}`, "aria-label": label },
      h("div", { class: "box-label", "aria-hidden": "true" }, total === 1 ? `group ${box.group}` : label),
      ...items,
    );
  });
}

export function renderTree(container: HTMLElement, state: TreeState): void {
  const roots = boxes(state, state.tree.roots, 1, null);
  container.replaceChildren(...roots);
  if (roots.length === 0) container.append(h("p", { class: "empty" }, "No device matches the filters."));
  // the tab stop falls on the first device when the focused one is gone
  if (!container.querySelector('[role="treeitem"][tabindex="0"]'))
    container.querySelector('[role="treeitem"]')?.setAttribute("tabindex", "0");
}

function items(container: HTMLElement): HTMLElement[] {
  return [...container.querySelectorAll<HTMLElement>('[role="treeitem"]')];
}

function parentItem(item: HTMLElement): HTMLElement | null {
  return item.parentElement?.closest<HTMLElement>('[role="treeitem"]') ?? null;
}

/** Keyboard and mouse on the tree; `state` is read at each event (the page re-renders it). */
export function wireTree(container: HTMLElement, getState: () => TreeState, events: TreeEvents): void {
  const focus = (item: HTMLElement | null | undefined) => {
    if (!item) return;
    for (const other of container.querySelectorAll('[role="treeitem"][tabindex="0"]'))
      other.setAttribute("tabindex", "-1");
    item.setAttribute("tabindex", "0");
    getState().focused = item.dataset.address ?? null;
    item.focus();
  };
  container.addEventListener("click", (event) => {
    const item = (event.target as HTMLElement).closest<HTMLElement>('[role="treeitem"]');
    const address = item?.dataset.address;
    if (!item || !address) return;
    if ((event.target as HTMLElement).classList.contains("twisty")) events.toggle(address);
    else events.select(address);
    focus(container.querySelector<HTMLElement>(`#${idOf("dev", address)}`));
  });
  container.addEventListener("keydown", (event) => {
    const item = (event.target as HTMLElement).closest<HTMLElement>('[role="treeitem"]');
    const address = item?.dataset.address;
    if (!item || !address) return;
    const all = items(container);
    const index = all.indexOf(item);
    const expanded = item.getAttribute("aria-expanded");
    const refocus = () => focus(container.querySelector<HTMLElement>(`#${idOf("dev", address)}`));
    switch (event.key) {
      case "ArrowDown":
        focus(all[index + 1]);
        break;
      case "ArrowUp":
        focus(all[index - 1]);
        break;
      case "Home":
        focus(all[0]);
        break;
      case "End":
        focus(all[all.length - 1]);
        break;
      case "ArrowRight":
        if (expanded === "false") {
          events.toggle(address);
          refocus();
        } else if (expanded === "true") focus(item.querySelector<HTMLElement>('[role="treeitem"]'));
        break;
      case "ArrowLeft":
        if (expanded === "true") {
          events.toggle(address);
          refocus();
        } else focus(parentItem(item));
        break;
      case "Enter":
      case " ":
        events.select(address);
        refocus();
        break;
      default:
        return;
    }
    event.preventDefault();
  });
}
