// Values from a crafted tree, modules.alias or pci.ids that would steer a terminal (issue 15,
// defect 14): OSC (retitle), CSI (clear screen), CR (overwrite a line), BEL, C1 controls and bidi
// overrides are printed as \uXXXX escapes in every text output, tables and fields kept one line;
// --json keeps every value exact.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { listTable } from "../src/cli/commands/list.ts";
import { type Io, recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { painter } from "../src/cli/style.ts";
import { safeBytes, safeText, safeValue } from "../src/cli/terminal-safe.ts";
import { DeviceView } from "../src/flavour/device-view.ts";
import { PciNames } from "../src/host/pci-names.ts";
import { SysfsHost } from "../src/host/sysfs.ts";
import { DEBIAN_612, debianModules } from "./support/modules.ts";
import { buildTree } from "./support/sysfs-builder.ts";
import { tempDir } from "./support/tmp.ts";

const OSC = "\u001b]0;owned\u0007";
const CLEAR = "\u001b[2J\u001b[H";
const C1 = "\u009b31m\u009d0;x\u009c";
const BIDI = "\u202eevil\u202c\u2066\u2069\u200f";
const HOSTILE = `e1000e${OSC}${CLEAR}\r${C1}${BIDI}\u0008\u007f\u2028x`;

/** Anything that steers a terminal: C0 but tab and newline, DEL, C1, bidi controls, separators. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is sought
const STEERING = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

const NIC = "0000:00:03.0";

function hostileTree(): string {
  const root = join(tempDir("escapes"), "sys");
  buildTree(root, [
    {
      address: NIC,
      vendor: 0x8086,
      device: 0x10d3,
      classCode: 0x020000,
      driver: HOSTILE,
      group: 3,
    },
  ]);
  // as UTF-8 (the builder writes its files as latin1)
  writeFileSync(join(root, "devices/pci0000:00", NIC, "driver_override"), `${CLEAR}vfio-pci\r${BIDI}\n`);
  return root;
}

async function cli(args: string[], io = recordingIo()) {
  const code = await main(args, io.io);
  return { code, ...io.recorded };
}

function clean(what: string, text: string) {
  assert.doesNotMatch(text, STEERING, `${what}: ${JSON.stringify(text.match(STEERING))}`);
}

test("list, show and set --dry-run on a tree whose driver name and driver_override steer the terminal: escaped, one line each", async () => {
  const root = hostileTree();
  const tree = ["--sysfs", root, "--modules", debianModules(DEBIAN_612)];
  const outputs = [
    await cli(["list", ...tree]),
    await cli(["show", NIC, ...tree]),
    await cli(["set", NIC, "vfio", "--dry-run", "--config", tempDir("rules"), ...tree]),
  ];
  for (const [i, { stdout, stderr }] of outputs.entries()) {
    clean(`output ${i} stdout`, stdout);
    clean(`output ${i} stderr`, stderr);
    assert.match(stdout, /e1000e\\u001b\]0;owned\\u0007\\u001b\[2J/, `output ${i}`);
  }
  const [list, show, set] = outputs.map((o) => o.stdout) as [string, string, string];
  // the row stays one row, the field one line
  assert.equal(list.trimEnd().split("\n").length, 2);
  assert.match(show, /^ {2}driver +e1000e\\u001b.*\\u202eevil\\u202c.*\\u2028x/m);
  assert.match(show, /^ {2}override +\\u001b\[2J\\u001b\[Hvfio-pci\\u000d\\u202e/m);
  assert.match(set, /^ {2}from {3}e1000e\\u001b.* \(override \\u001b\[2J/m);
  // --json: the same values, exact
  const json = await cli(["list", "--json", ...tree]);
  clean("list --json", json.stdout);
  const [device] = JSON.parse(json.stdout);
  assert.equal(device.driver, HOSTILE);
  assert.equal(device.driverOverride, `${CLEAR}vfio-pci\r${BIDI}`);
});

test("on a terminal with colour: our colours stay, the tree's sequences do not", async () => {
  const root = hostileTree();
  const recorded = recordingIo();
  const tty: Io = { ...recorded.io, stdoutIsTty: true };
  const tree = ["--sysfs", root, "--modules", debianModules(DEBIAN_612)];
  for (const args of [
    ["list", ...tree],
    ["show", NIC, ...tree],
  ]) {
    recorded.recorded.stdout = "";
    assert.equal(await main(args, tty), 0);
    const out = recorded.recorded.stdout;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is sought
    assert.match(out, /\u001b\[\d+m/, "painted");
    // every ESC left starts a colour (SGR); nothing else steers
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is sought
    assert.doesNotMatch(out, /\u001b(?!\[[0-9;]+m)/, args[0]);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is sought
    assert.doesNotMatch(out, /[\r\u0007\u0008\u007f-\u009f\u202e\u2066\u2069\u200f\u2028]/, args[0]);
    assert.match(out, /\\u001b\]0;owned\\u0007/);
  }
});

test("pci.ids names with escapes: the table escapes them and keeps its columns", () => {
  const root = hostileTree();
  const ids = join(tempDir("pci-ids"), "pci.ids");
  writeFileSync(ids, `8086  Intel${OSC}\r${BIDI}\n\t10d3  82574L${CLEAR}${C1}\n`);
  const view = new DeviceView(new SysfsHost(root, () => {}), null, () => {});
  const infos = view.host
    .devices()
    .map((a) => view.info(a))
    .filter((i) => i !== null);
  const text = listTable(view, infos, painter(recordingIo().io), new PciNames([ids]));
  clean("list table", text);
  assert.match(text, /8086:10d3 Intel\\u001b\]0;owned\\u0007\\u000d\\u202eevil.* 82574L\\u001b\[2J/);
  const [head, row] = text.split("\n") as [string, string];
  assert.equal(head.indexOf("DEVICE"), row.indexOf("8086:10d3"), "columns aligned on the escaped text");
});

// (modules.alias refuses such module names, so the byte outputs — resolve, overlaps, upgrade —
// meet them only through safeBytes' own test here)
test("safeText keeps lines and tabs, safeValue makes one line, safeBytes finds the same characters in UTF-8 bytes", () => {
  assert.equal(safeText("a\tb\nc\rd\u001be\u009bf\u202eg"), "a\tb\nc\\u000dd\\u001be\\u009bf\\u202eg");
  assert.equal(
    safeText("\u001b[31mred\u001b[39m \u001b]0;x\u0007", true),
    "\u001b[31mred\u001b[39m \\u001b]0;x\\u0007",
  );
  assert.equal(safeValue("a\tb\nc"), "a\\u0009b\\u000ac");
  assert.equal(safeValue("Intel® Ü 한"), "Intel® Ü 한", "printable non-ASCII stays");
  const bytes = Buffer.from("é\u202e\u009b\u061c\u2066x\u001b", "utf8").toString("latin1");
  assert.equal(
    Buffer.from(safeBytes(bytes), "latin1").toString("utf8"),
    "é\\u202e\\u009b\\u061c\\u2066x\\u001b",
  );
});
