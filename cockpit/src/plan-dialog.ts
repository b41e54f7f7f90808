// The dialog of an action: first the plan of `--dry-run` (target and why, the checks, the
// steps), then, confirmed, the run and its result. A refusal shows flavourctl's own reason
// (its standard error) and offers no confirm: the page has no --force.
import {
  type Action,
  commandLine,
  exitMeaning,
  type MemberDocument,
  members,
  type PlanDocument,
  parseJson,
  stepText,
} from "./commands.ts";
import { byId, h } from "./dom.ts";
import type { Run } from "./run.ts";

function title(action: Action, machine: string): string {
  const what =
    action.flavour === "unset"
      ? "Unset"
      : action.flavour === "driver"
        ? `Set to driver ${action.driver.trim()}`
        : `Set to ${action.flavour}${action.driver.trim() ? ` (${action.driver.trim()})` : ""}`;
  return `${what}: ${action.address}${action.group ? " and its IOMMU group" : ""}, on ${machine}`;
}

function memberSection(member: MemberDocument, showResult: boolean): HTMLElement {
  const plan = member.plan;
  if (plan === null) return h("p", {}, "no plan");
  const target = plan.target;
  return h(
    "section",
    { class: "member" },
    h("h3", {}, plan.address),
    h(
      "p",
      {},
      `now: ${plan.from.driver ?? "no driver"}; target: `,
      target === null ? "none" : h("strong", {}, target.module ?? target.driver ?? target.flavour),
      target === null ? "" : ` (${target.reason})`,
    ),
    h(
      "ul",
      { class: "plain-list checks" },
      ...plan.checks.map((check) =>
        h(
          "li",
          { class: check.ok ? "check-ok" : "check-failed" },
          `${check.ok ? "✓" : "✗"} ${check.name}: ${check.message}`,
        ),
      ),
    ),
    plan.steps.length === 0
      ? h("p", {}, "nothing to do")
      : h(
          "ol",
          { class: "steps", "aria-label": "steps" },
          ...plan.steps.map((step) => h("li", {}, stepText(step))),
        ),
    showResult && member.result
      ? h(
          "div",
          { class: "result" },
          h("p", {}, h("strong", {}, `result: ${member.result.outcome}`)),
          h("ul", { class: "plain-list" }, ...member.result.log.map((line) => h("li", {}, line))),
        )
      : null,
  );
}

function outcome(run: Run, showResult: boolean): HTMLElement[] {
  const document = parseJson<PlanDocument>(run.stdout);
  const parts: HTMLElement[] = [h("p", { class: "command" }, h("code", {}, commandLine(run.args)))];
  if (document !== null) parts.push(...members(document).map((member) => memberSection(member, showResult)));
  if (run.exitCode !== 0)
    parts.push(
      h(
        "div",
        { class: "refusal", role: "alert" },
        h(
          "p",
          {},
          h(
            "strong",
            {},
            run.exitCode === null
              ? "flavourctl did not run"
              : `flavourctl: ${exitMeaning(run.exitCode)} (exit ${run.exitCode})`,
          ),
        ),
        run.stderr.trim() === "" ? null : h("pre", { class: "reason" }, run.stderr.trim()),
      ),
    );
  else if (showResult) {
    // "done" only when flavourctl says so of every device (verified), else what it said
    const outcomes =
      document === null ? [] : members(document).map((member) => member.result?.outcome ?? "no result");
    const verified = outcomes.length > 0 && outcomes.every((o) => o === "done" || o === "nothing-to-do");
    parts.push(
      h(
        "p",
        { class: verified ? "done" : "refusal", role: "status" },
        verified
          ? "Done: verified by flavourctl."
          : `flavourctl exited 0, outcome: ${outcomes.join(", ") || "none"}`,
      ),
    );
  }
  return parts;
}

/**
 * Shows the dry run's plan and asks to confirm. `execute` runs the action for real; the dialog
 * then shows its result. Focus goes back to `opener` when the dialog closes.
 */
export function planDialog(
  action: Action,
  machine: string,
  dryRun: Run,
  execute: () => Promise<Run>,
  opener: HTMLElement,
  done: () => void,
): void {
  const dialog = byId<HTMLDialogElement>("plan-dialog");
  const body = byId("plan-body");
  const confirm = byId<HTMLButtonElement>("plan-confirm");
  const close = byId<HTMLButtonElement>("plan-close");
  byId("plan-title").textContent = title(action, machine);
  body.replaceChildren(
    h("p", {}, "The plan, from a dry run: nothing is changed until you confirm."),
    ...outcome(dryRun, false),
  );
  const refused = dryRun.exitCode !== 0;
  confirm.hidden = refused;
  confirm.disabled = false;
  close.textContent = refused ? "Close" : "Cancel";
  const onConfirm = async () => {
    confirm.disabled = true;
    close.disabled = true;
    body.setAttribute("aria-busy", "true");
    const run = await execute();
    body.removeAttribute("aria-busy");
    byId("plan-title").textContent = `${title(action, machine)}: ${run.exitCode === 0 ? "done" : "not done"}`;
    body.replaceChildren(...outcome(run, true));
    confirm.hidden = true;
    close.disabled = false;
    close.textContent = "Close";
    close.focus();
    done();
  };
  const onClose = () => dialog.close();
  confirm.addEventListener("click", onConfirm);
  close.addEventListener("click", onClose);
  dialog.addEventListener(
    "close",
    () => {
      confirm.removeEventListener("click", onConfirm);
      close.removeEventListener("click", onClose);
      // the details pane is drawn again after an action: then the device's tree item
      const back = opener.isConnected
        ? opener
        : document.querySelector<HTMLElement>('[role="treeitem"][tabindex="0"]');
      back?.focus();
    },
    { once: true },
  );
  dialog.showModal();
  (refused ? close : confirm).focus();
}
