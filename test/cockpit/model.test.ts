// The Cockpit page's own logic (cockpit/src/model.ts, commands.ts) on the JSON flavourctl
// really prints: the tree from list --json (bridges, VFs folded under their PF), the IOMMU
// group boxes, the filters — "can go to a VM" against list's own table —, and the command lines
// the page runs, each accepted by the real command.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import {
  type Action,
  actionArgs,
  commandLine,
  DEMO,
  members,
  type PlanDocument,
} from "../../cockpit/src/commands.ts";
import {
  buildTree,
  canGoToVm,
  type Device,
  filterChoices,
  groupBoxes,
  NO_FILTER,
  type Rule,
  rulesByDevice,
  type TreeNode,
  vfioFlavour,
  vfSummary,
  visibleDevices,
} from "../../cockpit/src/model.ts";
import { recordingIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { tempDir } from "../support/tmp.ts";

const root = new URL("../..", import.meta.url).pathname;
const LARGE = join(root, "test/fixtures/machines/connectx-1000.json");

async function flavourctl(state: string, ...args: string[]) {
  const { io, recorded } = recordingIo("", { XDG_STATE_HOME: state });
  const code = await main(args, io);
  return { code, ...recorded };
}

async function listed(state: string, machine: string): Promise<Device[]> {
  const run = await flavourctl(state, "--machine", machine, "list", "--json");
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as Device[];
}

const addresses = (nodes: readonly TreeNode[]) => nodes.map((node) => node.device.address);
const none = new Map<string, Rule[]>();

test("the demo machine's tree: devices under the bridge above them, VFs under their PF, never beside it", async () => {
  const devices = await listed(tempDir("cockpit-model"), "demo");
  const tree = buildTree(devices);
  assert.equal(tree.byAddress.size, devices.length);
  assert.deepEqual(addresses(tree.roots), [
    "0000:00:00.0",
    "0000:00:01.0",
    "0000:00:02.0",
    "0000:00:03.0",
    "0000:00:04.0",
    "0000:00:05.0",
    "0000:00:06.0",
    "0000:00:07.0",
    "0000:00:08.0",
    // the ports of the devices the demo gained with 7.2's variants (B60, GB200, GB300, QAT 6xxx)
    "0000:00:0b.0",
    "0000:00:0c.0",
    "0000:00:0d.0",
    "0000:00:0e.0",
  ]);
  const port = tree.byAddress.get("0000:00:01.0") as TreeNode;
  assert.deepEqual(addresses(port.children), ["0000:01:00.0"], "the VFs are not the port's children");
  assert.deepEqual(addresses(port.children[0]?.vfs ?? []), ["0000:01:00.1", "0000:01:00.2"]);
  assert.equal(vfSummary(port.children[0] as TreeNode), "2 VFs");
  // the switch: root port → upstream port → downstream port → the GPU and its audio function
  const downstream = tree.byAddress.get("0000:00:08.0")?.children[0]?.children[0] as TreeNode;
  assert.equal(downstream.device.address, "0000:09:08.0");
  assert.deepEqual(addresses(downstream.children), ["0000:0a:00.0", "0000:0a:00.1"]);
  // every device is in the tree once
  const seen: string[] = [];
  const walk = (node: TreeNode) => {
    seen.push(node.device.address);
    for (const child of [...node.children, ...node.vfs]) walk(child);
  };
  for (const rootNode of tree.roots) walk(rootNode);
  assert.deepEqual(seen.sort(), devices.map((d) => d.address).sort());
});

test("IOMMU group boxes: one box per group among siblings; members of the enclosing box's group are not boxed again", async () => {
  const tree = buildTree(await listed(tempDir("cockpit-model"), "demo"));
  const downstream = tree.byAddress.get("0000:09:08.0") as TreeNode;
  const boxes = groupBoxes(downstream.children, downstream.device.iommuGroup);
  assert.deepEqual(
    boxes.map((box) => [box.group, addresses(box.members)]),
    [[90, ["0000:0a:00.0", "0000:0a:00.1"]]],
  );
  assert.equal(tree.groupSizes.get(90), 2);
  assert.deepEqual(
    groupBoxes(tree.roots.slice(0, 3), null).map((box) => box.group),
    [0, 1, 2],
  );
  // a bridge and the device behind it in one group (no ACS): the device is inside the bridge's box
  assert.deepEqual(
    groupBoxes(downstream.children, 90).map((box) => [box.group, addresses(box.members)]),
    [[null, ["0000:0a:00.0", "0000:0a:00.1"]]],
  );
  // interleaved siblings: each group keeps one box, in order of first appearance
  const [a, b] = downstream.children as [TreeNode, TreeNode];
  const other = { ...b, device: { ...b.device, iommuGroup: 91 } };
  assert.deepEqual(
    groupBoxes([a, other, { ...a, device: { ...a.device, address: "0000:0a:00.2" } }], null).map((box) => [
      box.group,
      addresses(box.members),
    ]),
    [
      [90, ["0000:0a:00.0", "0000:0a:00.2"]],
      [91, ["0000:0a:00.1"]],
    ],
  );
});

test("'can go to a VM' is list's own verdict: VFIO neither (refused) nor a tie, GROUP without '!'", async () => {
  const state = tempDir("cockpit-model");
  const devices = await listed(state, "demo");
  const table = (await flavourctl(state, "--machine", "demo", "list")).stdout.trimEnd().split("\n").slice(1);
  const fromTable = new Map(
    table.map((line) => {
      const cells = line.split(/\s{2,}/);
      const [address, , , , vfio, group] = cells as string[];
      return [address, vfio !== "(refused)" && !vfio?.startsWith("tie:") && !group?.endsWith("!")];
    }),
  );
  assert.equal(fromTable.size, devices.length);
  for (const device of devices)
    assert.equal(canGoToVm(device), fromTable.get(device.address), device.address);
  assert.equal(
    canGoToVm(devices.find((d) => d.address === "0000:0a:00.0") as Device),
    false,
    "its group is shared",
  );
  assert.ok(devices.filter(canGoToVm).length > 5);
});

test("the vfio badge says what list --json says: variant, generic, refused with its reason, tie", async () => {
  const devices = await listed(tempDir("cockpit-model"), "demo");
  const of = (address: string) => vfioFlavour(devices.find((d) => d.address === address) as Device);
  assert.deepEqual(of("0000:01:00.1"), {
    kind: "variant",
    text: "mlx5_vfio_pci",
    title: "variant mlx5_vfio_pci matches with 5 wildcard fields, fewer than vfio_pci (7)",
  });
  assert.equal(of("0000:04:00.0").kind, "generic");
  assert.deepEqual(of("0000:00:01.0"), {
    kind: "refused",
    text: "refused",
    title: "vfio-pci refuses bridges (header type 1): the device stays with the host",
  });
  const nvme = devices.find((d) => d.address === "0000:04:00.0") as Device;
  const tie = {
    ...nvme,
    vfio: { ...(nvme.vfio as NonNullable<Device["vfio"]>), module: null, tie: ["a_vfio_pci", "b_vfio_pci"] },
  };
  assert.equal(vfioFlavour(tie).text, "tie: a_vfio_pci, b_vfio_pci");
  assert.equal(vfioFlavour({ ...nvme, vfio: null }).kind, "unknown");
});

test("filters: vendor, class, 'can go to a VM' and search; context bridges shown, nothing else", async () => {
  const devices = await listed(tempDir("cockpit-model"), "demo");
  const tree = buildTree(devices);
  const all = visibleDevices(tree, NO_FILTER, none);
  assert.equal(all.shown.size, devices.length);
  assert.equal(all.unfold.size, 0, "no filter: the PFs stay folded");
  const nvidia = visibleDevices(tree, { ...NO_FILTER, vendor: "NVIDIA Corporation" }, none);
  // the GeForce behind the switch, and the GB200 and GB300 (7.2's nvgrace-gpu ids) on their ports
  assert.deepEqual([...nvidia.matching].sort(), [
    "0000:0a:00.0",
    "0000:0a:00.1",
    "0000:0c:00.0",
    "0000:0d:00.0",
  ]);
  assert.deepEqual([...nvidia.shown].sort(), [
    "0000:00:08.0",
    "0000:00:0c.0",
    "0000:00:0d.0",
    "0000:08:00.0",
    "0000:09:08.0",
    "0000:0a:00.0",
    "0000:0a:00.1",
    "0000:0c:00.0",
    "0000:0d:00.0",
  ]);
  const bridges = visibleDevices(tree, { ...NO_FILTER, className: "PCI bridge" }, none);
  assert.equal(bridges.matching.size, 14);
  const ready = visibleDevices(tree, { ...NO_FILTER, vmReady: true }, none);
  assert.deepEqual(
    [...ready.matching].sort(),
    devices.filter(canGoToVm).map((d) => d.address),
  );
  const search = visibleDevices(tree, { ...NO_FILTER, search: "  MLX5_VFIO  01:00.2 " }, none);
  assert.deepEqual([...search.matching], ["0000:01:00.2"], "every word, any case");
  assert.deepEqual([...search.unfold], ["0000:01:00.0"], "the PF of a matching VF unfolds");
  const choices = filterChoices(devices);
  assert.ok(choices.vendors.includes("Mellanox Technologies"));
  assert.ok(choices.classes.includes("Non-Volatile memory controller"));
  assert.equal(new Set(choices.classes).size, choices.classes.length);
});

test("1,032 devices: 8 roots, each PF folding its 127 VFs in virtfn order; a search finds one VF and unfolds only its PF", async () => {
  const devices = await listed(tempDir("cockpit-model"), LARGE);
  assert.equal(devices.length, 1032);
  const tree = buildTree(devices);
  assert.equal(tree.roots.length, 8);
  for (const port of tree.roots) {
    assert.equal(port.children.length, 1);
    const pf = port.children[0] as TreeNode;
    assert.deepEqual(addresses(pf.vfs), pf.device.virtfns);
    assert.equal(pf.vfs.length, 127);
  }
  const found = visibleDevices(tree, { ...NO_FILTER, search: "80:0f.7" }, none);
  assert.deepEqual([...found.matching], ["0000:80:0f.7"]);
  assert.deepEqual([...found.shown].sort(), ["0000:00:08.0", "0000:80:00.0", "0000:80:0f.7"]);
  assert.deepEqual([...found.unfold], ["0000:80:00.0"]);
});

test("rules: each device's rules from rules --json, and a search finds a device by its rule", async () => {
  const state = tempDir("cockpit-model");
  const set = await flavourctl(state, "--machine", "demo", "set", "0000:01:00.1", "vfio", "--json");
  assert.equal(set.code, 0, set.stderr);
  const rules = (
    JSON.parse((await flavourctl(state, "--machine", "demo", "rules", "--json")).stdout) as { rules: Rule[] }
  ).rules;
  const byDevice = rulesByDevice(rules);
  assert.deepEqual([...byDevice.keys()], ["0000:01:00.1"]);
  assert.equal(byDevice.get("0000:01:00.1")?.[0]?.flavour, "vfio");
  const tree = buildTree(await listed(state, "demo"));
  assert.deepEqual(
    [...visibleDevices(tree, { ...NO_FILTER, search: "rule" }, byDevice).matching],
    ["0000:01:00.1"],
  );
});

const action = (change: Partial<Action>): Action => ({
  address: "0000:01:00.1",
  flavour: "vfio",
  driver: "",
  group: false,
  save: true,
  ...change,
});

test("the command lines the page runs", () => {
  assert.deepEqual(actionArgs(action({}), DEMO, true), [
    "set",
    "0000:01:00.1",
    "vfio",
    "--machine",
    "demo",
    "--dry-run",
    "--json",
  ]);
  assert.deepEqual(
    actionArgs(action({ driver: " mlx5_vfio_pci ", group: true, save: false }), { kind: "host" }, false),
    ["set", "0000:01:00.1", "vfio", "--driver", "mlx5_vfio_pci", "--group", "--no-save", "--json"],
  );
  assert.deepEqual(actionArgs(action({ flavour: "driver", driver: "pci-stub" }), DEMO, false), [
    "set",
    "0000:01:00.1",
    "--driver",
    "pci-stub",
    "--machine",
    "demo",
    "--json",
  ]);
  assert.deepEqual(actionArgs(action({ flavour: "default", driver: "x", group: true }), DEMO, false), [
    "set",
    "0000:01:00.1",
    "default",
    "--machine",
    "demo",
    "--json",
  ]);
  assert.deepEqual(actionArgs(action({ flavour: "unset", group: true, save: false }), DEMO, true), [
    "unset",
    "0000:01:00.1",
    "--machine",
    "demo",
    "--dry-run",
    "--json",
  ]);
  assert.equal(
    commandLine(["set", "0000:01:00.1", "--driver", "i6300ESB timer"]),
    "flavourctl set 0000:01:00.1 --driver 'i6300ESB timer'",
  );
});

test("every command line the page makes is one flavourctl takes: its dry run prints a plan, one or the group's", async () => {
  const state = tempDir("cockpit-model");
  const forms: Partial<Action>[] = [
    {},
    { driver: "mlx5_vfio_pci" },
    { save: false },
    { flavour: "default" },
    { flavour: "driver", driver: "pci-stub" },
    { flavour: "unset" },
    { address: "0000:0a:00.0", group: true },
  ];
  for (const form of forms) {
    const args = actionArgs(action(form), DEMO, true);
    const run = await flavourctl(state, ...args);
    assert.ok(run.code === 0 || run.code === 3, `${commandLine(args)}: exit ${run.code} ${run.stderr}`);
    const document = JSON.parse(run.stdout) as PlanDocument;
    const plans = members(document).map((member) => member.plan?.address);
    assert.deepEqual(
      plans,
      form.group ? ["0000:0a:00.0", "0000:0a:00.1"] : [form.address ?? "0000:01:00.1"],
      commandLine(args),
    );
  }
});
