// The Cockpit page "PCI devices" (issue 20): the machine as flavourctl sees it, and its actions.
// Everything shown comes from `flavourctl … --json` run through cockpit.spawn (run.ts); the
// page draws it (model.ts, tree-view.ts, details.ts) and asks before it acts (plan-dialog.ts).
import {
  type Action,
  actionArgs,
  DEMO,
  HOST,
  type Machine,
  machineArgs,
  machineLabel,
  parseJson,
} from "./commands.ts";
import { renderDetails } from "./details.ts";
import { byId, h, idOf } from "./dom.ts";
import {
  buildTree,
  type Device,
  type Filter,
  filterChoices,
  NO_FILTER,
  type Rule,
  rulesByDevice,
  visibleDevices,
} from "./model.ts";
import { planDialog } from "./plan-dialog.ts";
import { flavourctl, read } from "./run.ts";
import { renderTree, type TreeState, wireTree } from "./tree-view.ts";

const STORED_MACHINE = "flavourctl-machine";
/** How often a simulated machine is listed again (its changes make no uevent on this host). */
const SIMULATED_POLL_MS = 3000;

let machine: Machine = HOST;
let filter: Filter = { ...NO_FILTER };
let devices: Device[] = [];
let rules: Rule[] = [];
let lastListing = "";
let state: TreeState = {
  tree: buildTree([]),
  visible: { shown: new Set(), matching: new Set(), unfold: new Set() },
  rules: new Map(),
  open: new Map(),
  selected: null,
  focused: null,
};
let stopWatching: () => void = () => {};

const treeElement = () => byId("tree");
const status = (text: string, error = false) => {
  const element = byId("status");
  element.textContent = text;
  element.classList.toggle("error", error);
};

function draw(): void {
  state.visible = visibleDevices(state.tree, filter, state.rules);
  const hadFocus = treeElement().contains(document.activeElement);
  renderTree(treeElement(), state);
  if (hadFocus) treeElement().querySelector<HTMLElement>('[role="treeitem"][tabindex="0"]')?.focus();
  const groups = new Set(devices.map((d) => d.iommuGroup).filter((g) => g !== null)).size;
  const onVfio = devices.filter((d) => d.vfioBound).length;
  byId("summary").textContent =
    `${devices.length} devices, ${groups} IOMMU groups, ${onVfio} on vfio; ${state.visible.matching.size} match the filters`;
}

function fillChoices(select: HTMLSelectElement, all: string, values: string[], current: string): void {
  select.replaceChildren(
    h("option", { value: "" }, all),
    ...values.map((value) => h("option", { value }, value)),
  );
  select.value = values.includes(current) ? current : "";
}

let refreshing: Promise<void> | null = null;
let again = false;

/**
 * list --json and rules --json again; redraws only when something changed. One at a time: a
 * call while one runs asks for one more run after it (a slow host never piles listings up).
 */
function refresh(): Promise<void> {
  if (refreshing) {
    again = true;
    return refreshing;
  }
  refreshing = (async () => {
    do {
      again = false;
      await listAgain();
    } while (again);
    refreshing = null;
  })();
  return refreshing;
}

async function listAgain(): Promise<void> {
  const listed = machine;
  const [listing, ruleListing] = await Promise.all([
    read(["list", "--json"], listed),
    read(["rules", "--json"], listed),
  ]);
  if (listed !== machine) return; // the switch moved meanwhile: its own listing follows
  const parsed = parseJson<Device[]>(listing.stdout);
  if (parsed === null) {
    status(
      `flavourctl list failed on ${machineLabel(machine)}: ${listing.stderr.trim() || `exit ${listing.exitCode}`}`,
      true,
    );
    return;
  }
  const ruleDocument = parseJson<{ rules: Rule[] }>(ruleListing.stdout);
  const changed = listing.stdout + ruleListing.stdout !== lastListing;
  lastListing = listing.stdout + ruleListing.stdout;
  status(`${machineLabel(machine)}, listed at ${new Date().toLocaleTimeString()}`);
  if (!changed) return;
  devices = parsed;
  rules = ruleDocument?.rules ?? [];
  state.tree = buildTree(devices);
  state.rules = rulesByDevice(rules);
  const choices = filterChoices(devices);
  fillChoices(byId("class-filter"), "All classes", choices.classes, filter.className);
  fillChoices(byId("vendor-filter"), "All vendors", choices.vendors, filter.vendor);
  draw();
  if (state.selected !== null) {
    if (state.tree.byAddress.has(state.selected)) void showDetails(state.selected);
    else {
      byId("details-body").replaceChildren(h("p", {}, `${state.selected} has left.`));
      state.selected = null;
    }
  }
}

async function showDetails(address: string): Promise<void> {
  const body = byId("details-body");
  body.setAttribute("aria-busy", "true");
  const [show, vfioPlan] = await Promise.all([
    read(["show", address, "--json"], machine),
    read(["set", address, "vfio", "--dry-run", "--json"], machine),
  ]);
  if (state.selected !== address) return; // another device was chosen meanwhile
  body.replaceChildren(...renderDetails(show, vfioPlan, state.rules.get(address) ?? [], act));
  body.removeAttribute("aria-busy");
}

/** Dry run, the plan in a dialog, then the run once confirmed; the tree follows. */
async function act(action: Action, opener: HTMLElement): Promise<void> {
  const onHost = machine.kind === "host";
  const dryRun = await flavourctl(actionArgs(action, machine, true), onHost);
  planDialog(
    action,
    machineLabel(machine),
    dryRun,
    () => flavourctl(actionArgs(action, machine, false), onHost),
    opener,
    () => {
      lastListing = "";
      void refresh();
    },
  );
}

/**
 * Devices that appear or leave: on the host, each PCI uevent (`udevadm monitor`) lists again;
 * a simulated machine changes only through flavourctl, so it is listed every few seconds
 * while the page is visible.
 */
function watch(): () => void {
  if (machine.kind === "host") {
    let timer: number | undefined;
    const monitor = cockpit
      .spawn(["udevadm", "monitor", "--udev", "--subsystem-match=pci"], { err: "ignore" })
      .stream(() => {
        window.clearTimeout(timer);
        timer = window.setTimeout(() => void refresh(), 500);
      });
    return () => monitor.close();
  }
  // the next listing is asked for once this one is drawn: never two at once
  let timer: number | undefined;
  let stopped = false;
  const poll = () => {
    timer = window.setTimeout(async () => {
      if (!cockpit.hidden) await refresh();
      if (!stopped) poll();
    }, SIMULATED_POLL_MS);
  };
  poll();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}

/** The machine: the page's switch, or `#/?machine=NAME|FILE` (any machine flavourctl opens). */
function chooseMachine(value: string): void {
  machine = value === "host" ? HOST : value === "demo" ? DEMO : { kind: "simulated", name: value };
  try {
    window.localStorage.setItem(STORED_MACHINE, value);
  } catch {
    // storage refused (a private window): the choice lasts for this page only
  }
  stopWatching();
  lastListing = "";
  state = { ...state, open: new Map(), selected: null, focused: null };
  byId("details-body").replaceChildren(h("p", {}, "Select a device to see what flavourctl says of it."));
  byId("machine-args").textContent = machineArgs(machine).join(" ") || "(the host's /sys)";
  void refresh();
  stopWatching = watch();
}

function init(): void {
  const machineSelect = byId<HTMLSelectElement>("machine");
  const fromLocation = cockpit.location.options.machine;
  let stored: string | null = null;
  try {
    stored = window.localStorage.getItem(STORED_MACHINE);
  } catch {
    stored = null;
  }
  const initial = typeof fromLocation === "string" ? fromLocation : (stored ?? "host");
  if (![...machineSelect.options].some((option) => option.value === initial))
    machineSelect.append(h("option", { value: initial }, `Simulated: ${initial}`));
  machineSelect.value = initial;
  machineSelect.addEventListener("change", () => chooseMachine(machineSelect.value));

  const classSelect = byId<HTMLSelectElement>("class-filter");
  const vendorSelect = byId<HTMLSelectElement>("vendor-filter");
  const vmReady = byId<HTMLInputElement>("vm-ready");
  const search = byId<HTMLInputElement>("search");
  const onFilter = () => {
    filter = {
      className: classSelect.value,
      vendor: vendorSelect.value,
      vmReady: vmReady.checked,
      search: search.value,
    };
    draw();
  };
  for (const control of [classSelect, vendorSelect, vmReady]) control.addEventListener("change", onFilter);
  search.addEventListener("input", onFilter);
  byId("refresh").addEventListener("click", () => {
    lastListing = "";
    void refresh();
  });

  wireTree(treeElement(), () => state, {
    select(address) {
      state.selected = address;
      state.focused = address;
      for (const item of treeElement().querySelectorAll('[aria-selected="true"]'))
        item.setAttribute("aria-selected", "false");
      document.getElementById(idOf("dev", address))?.setAttribute("aria-selected", "true");
      void showDetails(address);
    },
    toggle(address) {
      const node = state.tree.byAddress.get(address);
      if (!node) return;
      const open =
        treeElement()
          .querySelector(`#${idOf("dev", address)}`)
          ?.getAttribute("aria-expanded") === "true";
      state.open.set(address, !open);
      state.focused = address;
      draw();
    },
  });
  chooseMachine(initial);
}

document.addEventListener("DOMContentLoaded", init);
