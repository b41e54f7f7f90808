// The details pane: what `flavourctl show ADDRESS --json` says of the selected device, the
// checks `set ADDRESS vfio --dry-run --json` makes now (the host's use of it among them), the
// rules that decide it, and the form that sets or unsets its flavour.
import { type Action, members, type PlanDocument, parseJson } from "./commands.ts";
import { h } from "./dom.ts";
import { type Device, deviceName, type Rule, vfioFlavour } from "./model.ts";
import type { Run } from "./run.ts";

/** show --json: list's object with `explain` (README "show"). */
export interface ShowDocument extends Device {
  modalias: string | null;
  driverModule: string | null;
  subsystemVendor: string | null;
  subsystemDevice: string | null;
  revision: string | null;
  numaNode: number | null;
  sriov: { totalVfs: number; numVfs: number; driversAutoprobe: boolean } | null;
  explain: {
    modules: {
      stage: string;
      matches: { module: string; pattern: string | null; file: string | null; line: number | null }[];
    } | null;
    vfio: {
      reason: string;
      candidates: {
        module: string;
        pattern: string;
        wildcards: number;
        file: string | null;
        line: number | null;
      }[];
    } | null;
    iommuGroup: {
      address: string;
      driver: string | null;
      headerType: number | null;
      blocks: string | null;
    }[];
    driverOverride: string;
  };
}

function field(term: string, ...value: (Node | string | null)[]): HTMLElement[] {
  return [h("dt", {}, term), h("dd", {}, ...value)];
}

function list(lines: (Node | string)[]): HTMLElement {
  return h("ul", { class: "plain-list" }, ...lines.map((line) => h("li", {}, line)));
}

const where = (file: string | null, line: number | null) =>
  file === null ? "" : ` (${file}${line === null ? "" : `:${line}`})`;

export function renderDetails(
  show: Run,
  vfioPlan: Run,
  rules: Rule[],
  submit: (action: Action, button: HTMLElement) => void,
): HTMLElement[] {
  const device = parseJson<ShowDocument>(show.stdout);
  if (show.exitCode !== 0 || device === null)
    return [
      h(
        "p",
        { class: "error", role: "alert" },
        `flavourctl show failed: ${show.stderr.trim() || `exit ${show.exitCode}`}`,
      ),
    ];
  const { explain } = device;
  const flavour = vfioFlavour(device);
  const ids =
    `${device.vendor}:${device.device}` +
    (device.subsystemVendor === null
      ? ""
      : `, subsystem ${device.subsystemVendor}:${device.subsystemDevice}`);
  const dl = h(
    "dl",
    { class: "fields" },
    ...field("Class", device.names?.class ?? device.class),
    ...field("Ids", ids, device.revision === null ? "" : `, revision ${device.revision}`),
    ...field("Modalias", h("code", {}, device.modalias ?? "unknown")),
    ...field(
      "Driver",
      device.driver === null
        ? "none"
        : `${device.driver}${device.driverModule ? ` (module ${device.driverModule})` : ""}`,
      device.vfioBound ? ", held by vfio (vfio-dev)" : "",
    ),
    ...field("driver_override", explain.driverOverride),
    ...field(
      "Kernel modules",
      explain.modules === null
        ? "unknown"
        : explain.modules.matches.length === 0
          ? "none: no alias line matches"
          : list(
              explain.modules.matches.map((m) => `${m.module}: ${m.pattern ?? ""}${where(m.file, m.line)}`),
            ),
    ),
    ...field(
      "vfio flavour",
      h("span", { class: `badge badge-flavour-${flavour.kind}` }, flavour.text),
      ` ${device.vfio?.refused ?? device.vfio?.reason ?? ""}`,
      explain.vfio === null
        ? null
        : list(
            explain.vfio.candidates.map(
              (c, i) =>
                `${i + 1}. ${c.module}: ${c.wildcards} wildcard fields, ${c.pattern}${where(c.file, c.line)}`,
            ),
          ),
    ),
    ...field(
      "IOMMU group",
      device.iommuGroup === null ? "none (no IOMMU)" : String(device.iommuGroup),
      list(
        explain.iommuGroup.map(
          (m) =>
            `${m.address} ${m.driver ?? "no driver"}${m.address === device.address ? " (this device)" : ""}${m.blocks ? `: blocks, ${m.blocks}` : ""}`,
        ),
      ),
    ),
    ...field(
      "Bridges above",
      device.parents.length === 0 ? "none (on a root bus)" : device.parents.join(" → "),
    ),
    ...(device.physfn === null ? [] : field("PF", device.physfn)),
    ...(device.sriov === null
      ? []
      : field("SR-IOV", `${device.sriov.numVfs} of ${device.sriov.totalVfs} VFs enabled`)),
    ...field("NUMA node", device.numaNode === null ? "none" : String(device.numaNode)),
    ...field(
      "Rules",
      rules.length === 0
        ? "none names it"
        : list(
            rules.map(
              (r) =>
                `${r.name}: ${r.match} → ${r.flavour}${r.driver ? ` (driver ${r.driver})` : ""}${r.group ? ", whole group" : ""}`,
            ),
          ),
    ),
  );
  return [
    h("h3", { id: "details-device" }, `${device.address} ${deviceName(device)}`),
    dl,
    checksSection(vfioPlan),
    actionForm(device, submit),
  ];
}

/** The checks a set to vfio would make now: host use, group, bridge, SR-IOV… */
function checksSection(run: Run): HTMLElement {
  const document = parseJson<PlanDocument>(run.stdout);
  const plan = document === null ? null : (members(document)[0]?.plan ?? null);
  const body =
    plan === null
      ? h("p", { class: "error" }, run.stderr.trim() || `exit ${run.exitCode}`)
      : list(
          plan.checks.map((check) =>
            h(
              "span",
              { class: check.ok ? "check-ok" : "check-failed" },
              `${check.ok ? "✓" : "✗"} ${check.name}: ${check.message}`,
            ),
          ),
        );
  return h(
    "section",
    { "aria-labelledby": "checks-title" },
    h("h4", { id: "checks-title" }, "Checks for vfio now (dry run)"),
    body,
  );
}

function actionForm(
  device: ShowDocument,
  submit: (action: Action, button: HTMLElement) => void,
): HTMLElement {
  const radio = (value: string, label: string, checked = false) =>
    h(
      "label",
      { class: "choice" },
      h("input", { type: "radio", name: "flavour", value, checked }),
      ` ${label}`,
    );
  const driver = h("input", {
    type: "text",
    id: "action-driver",
    name: "driver",
    autocomplete: "off",
    spellcheck: "false",
  });
  const group = h("input", { type: "checkbox", id: "action-group", name: "group" });
  const save = h("input", { type: "checkbox", id: "action-save", name: "save", checked: true });
  const setButton = h("button", { type: "submit", class: "primary", id: "action-set" }, "Set flavour…");
  const unsetButton = h("button", { type: "button", id: "action-unset" }, "Unset…");
  const form = h(
    "form",
    { class: "actions", "aria-labelledby": "actions-title" },
    h("h4", { id: "actions-title" }, `Flavour of ${device.address}`),
    h(
      "fieldset",
      {},
      h("legend", {}, "Flavour"),
      radio("vfio", "vfio: the best vfio driver", true),
      radio("default", "default: the kernel's own driver"),
      radio("driver", "an explicit driver"),
    ),
    h(
      "label",
      { for: "action-driver" },
      "Driver name (with an explicit driver, or a vfio driver to insist on)",
    ),
    driver,
    h("label", { class: "choice" }, group, " Whole IOMMU group (--group)"),
    h(
      "label",
      { class: "choice" },
      save,
      " Save as a rule, so it comes back after a reboot (without: --no-save)",
    ),
    h("div", { class: "buttons" }, setButton, unsetButton),
  ) as HTMLFormElement;
  const action = (flavour: Action["flavour"]): Action => ({
    address: device.address,
    flavour,
    driver: (driver as HTMLInputElement).value,
    group: (group as HTMLInputElement).checked,
    save: (save as HTMLInputElement).checked,
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = (form.elements.namedItem("flavour") as RadioNodeList).value as Action["flavour"];
    submit(action(chosen), setButton);
  });
  unsetButton.addEventListener("click", () => submit(action("unset"), unsetButton));
  return form;
}
