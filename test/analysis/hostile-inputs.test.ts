// The analysis commands on inputs made to make them run away (issue 15, defect 13): n lines
// whose patterns all overlap (n² pairs), a glob inclusion needing 2^k automaton states, a
// pattern longer than a page, a C table that doubles at every macro, macros and brackets nested
// thousands deep. Each is run through the bundled CLI with a 256 MB heap and a timeout: it ends
// in time, without a stack trace, either with its answer or with one line naming the input and
// the limit (src/analysis/limits.ts). Inputs just under the limits complete.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { LIMITS } from "../../src/analysis/limits.ts";
import { findOverlaps } from "../../src/analysis/overlaps.ts";
import { sourceAliases } from "../../src/analysis/source-aliases.ts";
import { recordingIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { tempDir } from "../support/tmp.ts";

const bundle = new URL("../../dist/flavourctl.js", import.meta.url).pathname;
/** Far above what the limits allow (a few seconds), far below the defects' minutes. */
const TIMEOUT_MS = 60_000;

function run(...args: string[]) {
  assert.ok(existsSync(bundle), `${bundle} is missing: run npm run build`);
  const started = Date.now();
  const result = spawnSync(process.execPath, ["--max-old-space-size=256", bundle, ...args], {
    encoding: "utf8",
    timeout: TIMEOUT_MS,
    maxBuffer: 1 << 30,
    env: { ...process.env, FLAVOURCTL_INDEX_CACHE: "off" },
  });
  const seconds = (Date.now() - started) / 1000;
  assert.equal(result.signal, null, `${args.join(" ")}: killed (${result.signal}) after ${seconds} s`);
  assert.doesNotMatch(result.stderr, /RangeError|Maximum call stack|heap out of memory|\n\s+at /);
  return result;
}

/** `lines` as an alias file in a temporary directory. */
function aliasFile(name: string, lines: string[]): string {
  const path = join(tempDir("hostile-alias"), name);
  writeFileSync(path, lines.map((l) => `${l}\n`).join(""));
  return path;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The run ended with exit 2 and one line naming the file and the limit, nothing on stdout. */
function refused(result: ReturnType<typeof run>, file: string, limit: RegExp): void {
  assert.equal(result.status, 2, result.stderr);
  assert.equal(result.stdout, "");
  const lines = result.stderr.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0] as string, new RegExp(`^flavourctl overlaps: ${file}:\\d+: `));
  assert.match(lines[0] as string, limit);
}

test("overlaps: 3000 lines acpi*:ABC1*:* (n² identical pairs) end with the module-pair limit, text and --json", () => {
  const file = aliasFile(
    "acpi.alias",
    range(3000).map((i) => `alias acpi*:ABC1*:* mod${i}`),
  );
  for (const json of [[], ["--json"]]) {
    refused(
      run("overlaps", "--alias", file, ...json),
      file,
      /more than 100000 module pairs overlap \(the limit\)/,
    );
  }
});

test("overlaps: 3000 of: lines, specific and generic, end with the module-pair limit", () => {
  const specific = aliasFile(
    "of.alias",
    range(3000).map((i) => `alias of:N*T*Cvendor,chip${i % 7}* mod${i}`),
  );
  refused(run("overlaps", "--alias", specific, "--json"), specific, /more than 100000 module pairs/);
  // a compatible `*`: generic pairs, only counted by the text report (they were 4.5 million)
  const generic = aliasFile(
    "of-generic.alias",
    range(3000).map((i) => `alias of:N*T*C* mod${i}`),
  );
  refused(run("overlaps", "--alias", generic), generic, /more than 100000 module pairs/);
  // usb's generic patterns are counted by shapes (countGenericPairs): the same limit
  const usb = aliasFile(
    "usb.alias",
    range(3000).map(
      (i) => `alias usb:v*p*d*dc*dsc*dp*ic${(i % 2).toString(16).padStart(2, "0")}isc*ip*in* m${i}`,
    ),
  );
  refused(run("overlaps", "--alias", usb), usb, /more than 100000 module pairs/);
});

test("overlaps: two modules with 400 identical patterns each end with the pattern-pair limit", () => {
  const file = aliasFile("two.alias", [
    ...range(400).map(() => "alias acpi*:ABC1*:* moda"),
    ...range(400).map(() => "alias acpi*:ABC1*:* modb"),
  ]);
  refused(
    run("overlaps", "--alias", file, "--json"),
    file,
    /more than 100000 pattern pairs overlap \(the limit\)/,
  );
});

test("overlaps: 10,000 candidate patterns that never meet end with the step limit", () => {
  // one key (foo), every tail different: 50 million candidate pairs
  const file = aliasFile(
    "nomeet.alias",
    range(10000).map((i) => `alias of:N*T*Cfoo*X${i} mod${i}`),
  );
  refused(run("overlaps", "--alias", file), file, /takes more than 10000000 steps \(the limit\)/);
});

test("overlaps: an inclusion needing 2^22 automaton states ends with the state limit", () => {
  // `*a` + 22 `?` contains `*[ab]` + 22 `?`? A counterexample needs the last 23 bytes tracked
  const q = "?".repeat(22);
  const file = aliasFile("inclusion.alias", [`alias zz:Q*a${q} moda`, `alias zz:Q*[ab]${q} modb`]);
  refused(run("overlaps", "--alias", file), file, /needs more than 5000 automaton states \(the limit\)/);
});

test("overlaps: a pattern longer than a page is refused, naming its line", () => {
  const file = aliasFile("long.alias", ["alias zz:Q1 a", `alias zz:Q${"?".repeat(5000)} b`]);
  const result = run("overlaps", "--alias", file);
  refused(result, file, /a pattern of 5004 bytes \(the limit is 4096/);
  assert.match(result.stderr, /long\.alias:2: /);
  // patterns of 4000 bytes are compared (their product automaton is 16 million cells)
  const wide = aliasFile("wide.alias", [
    `alias zz:Q*${"[ab]".repeat(1000)} a`,
    `alias zz:Q${"?".repeat(3990)} b`,
  ]);
  const ok = run("overlaps", "--alias", wide);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /partial {11}a b \[zz\]/);
});

test("overlaps: just under the module-pair limit the whole --json report is written (447 modules, 99,681 pairs)", () => {
  const n = 447;
  assert.ok((n * (n - 1)) / 2 <= LIMITS.modulePairs && ((n + 1) * n) / 2 > LIMITS.modulePairs);
  const file = aliasFile(
    "under.alias",
    range(n).map((i) => `alias acpi*:ABC1*:* mod${i}`),
  );
  const result = run("overlaps", "--alias", file, "--json");
  assert.equal(result.status, 0, result.stderr);
  // 100 MB: counted, not parsed, in this process
  assert.equal(result.stdout.match(/^ {6}"modules": \[$/gm)?.length, (n * (n - 1)) / 2);
  assert.match(result.stdout, /"counts": \{\n {4}"identical": 99681,/);
  assert.ok(result.stdout.endsWith('  "patterns": 447\n}\n'));
  const over = aliasFile(
    "over.alias",
    range(n + 1).map((i) => `alias acpi*:ABC1*:* mod${i}`),
  );
  refused(run("overlaps", "--alias", over, "--json"), over, /more than 100000 module pairs/);
});

test("overlaps --json: written in batches as it is made, byte for byte JSON.stringify's report", async () => {
  const lines = [
    "alias acpi*:ABC1*:* a",
    "alias acpi*:ABC1*:* b",
    "alias platform:acp-pdm-mach c",
    "alias platform:acp_pdm_mach d",
    "alias usb:v1234p5678d*dc*dsc*dp*ic*isc*ip*in* e",
    "alias usb:v*p*d*dc*dsc*dp*ic03isc01ip01in* f",
    "alias pci:v00008086d00001234sv*sd*bc*sc*i* g",
    "alias vfio_pci:v00008086d00001234sv*sd*bc*sc*i* h",
  ];
  const file = aliasFile("small.alias", lines);
  const { io, recorded } = recordingIo();
  assert.equal(await main(["overlaps", "--alias", file, "--json"], io), 0);
  const inputs = lines.map((l, k) => {
    const [, pattern, module] = l.split(" ") as [string, string, string];
    const key = pattern.replaceAll("-", "_");
    return {
      pattern: key,
      module,
      origin: `${file}:${k + 1}`,
      ...(key !== pattern ? { written: pattern } : {}),
    };
  });
  assert.equal(recorded.stdout, `${JSON.stringify(findOverlaps(inputs, undefined, true, true), null, 2)}\n`);
  const empty = recordingIo();
  assert.equal(
    await main(["overlaps", "--alias", aliasFile("none.alias", ["alias pci:v1 x"]), "--json"], empty.io),
    0,
  );
  assert.equal(empty.recorded.stdout, `${JSON.stringify(JSON.parse(empty.recorded.stdout), null, 2)}\n`);
});

/** A kernel tree of one C file, `body` (with linux/pci.h's PCI_DEVICE), and `more` files. */
function sourceTree(body: string, more: Record<string, string> = {}): string {
  const tree = tempDir("hostile-tree");
  const files: Record<string, string> = {
    "include/linux/pci_ids.h": "#define PCI_VENDOR_ID_TEST 0x1234\n",
    "include/linux/pci.h":
      "#define PCI_ANY_ID (~0)\n#define PCI_DEVICE(vend,dev) .vendor = (vend), .device = (dev), .subvendor = PCI_ANY_ID, .subdevice = PCI_ANY_ID\n",
    "include/linux/mod_devicetable.h": "",
    "drivers/big.c": `#include <linux/pci.h>\n${body}`,
    ...more,
  };
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(tree, name, ".."), { recursive: true });
    writeFileSync(join(tree, name), text);
  }
  return tree;
}

const TABLE_END = "\t{ 0, }\n};\nMODULE_DEVICE_TABLE(pci, big_ids);\n";

/** `#define NAME` as `times` copies of `of`. */
const times = (name: string, of: string, n: number) => `#define ${name} ${Array(n).fill(of).join(" ")}\n`;

test("aliases --source: a table that expands to 10,000 entries is read whole (it overflowed the stack)", () => {
  const tree = sourceTree(
    "#define E1 { PCI_DEVICE(PCI_VENDOR_ID_TEST, 0x0001) },\n" +
      times("E10", "E1", 10) +
      times("E100", "E10", 10) +
      times("E1000", "E100", 10) +
      times("E10000", "E1000", 10) +
      `static const struct pci_device_id big_ids[] = {\n\tE10000\n${TABLE_END}`,
  );
  const result = run("aliases", "--source", tree);
  assert.equal(result.status, 0, result.stderr);
  const lines = result.stdout.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 10000);
  assert.ok(lines.every((l) => l === "alias pci:v00001234d00000001sv*sd*bc*sc*i* big"));
});

test("aliases --source --json: written in batches, byte for byte JSON.stringify's", async () => {
  const tree = sourceTree(
    "#define E1 { PCI_DEVICE(PCI_VENDOR_ID_TEST, 0x0001) },\n" +
      times("E10", "E1", 10) +
      times("E2500", "E10", 250) +
      `static const struct pci_device_id big_ids[] = {\n\tE2500\n\t{ PCI_DEVICE(PCI_VENDOR_ID_TEST, 0x0007), .override_only = 2 },\n${TABLE_END}`,
  );
  const { io, recorded } = recordingIo();
  assert.equal(await main(["aliases", "--source", tree, "--json"], io), 0);
  const result = await sourceAliases(tree);
  const lines = result.lines.filter((l) => !l.builtIn);
  assert.equal(lines.length, 2500);
  assert.equal(result.problems.length, 1);
  const whole = { lines, builtIn: [], problems: result.problems, notes: result.notes };
  assert.equal(recorded.stdout, `${JSON.stringify(whole, null, 2)}\n`);
});

test("aliases --source: a table doubling at each of 40 macros is reported at the token limit, the rest read", () => {
  let doubling = "#define D0 { PCI_DEVICE(PCI_VENDOR_ID_TEST, 0x0002) },\n";
  for (let k = 1; k <= 40; k++) doubling += `#define D${k} D${k - 1} D${k - 1}\n`;
  const tree = sourceTree(
    `${doubling}static const struct pci_device_id big_ids[] = {\n\tD40\n${TABLE_END}` +
      `static const struct pci_device_id ok_ids[] = {\n\t{ PCI_DEVICE(PCI_VENDOR_ID_TEST, 0x0003) },\n\t{ 0, }\n};\nMODULE_DEVICE_TABLE(pci, ok_ids);\n`,
  );
  const result = run("aliases", "--source", tree);
  assert.equal(result.status, 0, result.stderr);
  assert.match(
    result.stderr,
    /^flavourctl aliases: unresolved: drivers\/big\.c:\d+: big_ids: expands to more than 2000000 tokens \(the limit\)$/m,
  );
  assert.equal(result.stdout, "alias pci:v00001234d00000003sv*sd*bc*sc*i* big\n");
});

test("aliases --source: macros nested 100,000 deep, and brackets 100,000 deep, are reported at their limits", () => {
  let chain = "#define M0 PCI_VENDOR_ID_TEST\n";
  for (let k = 1; k <= 100_000; k++) chain += `#define M${k} M${k - 1}\n`;
  const deep = `${"(".repeat(100_000)}0x0005${")".repeat(100_000)}`;
  const tree = sourceTree(
    `${chain}static const struct pci_device_id chain_ids[] = {\n\t{ PCI_DEVICE(M100000, 0x0004) },\n\t{ 0, }\n};\nMODULE_DEVICE_TABLE(pci, chain_ids);\n` +
      `static const struct pci_device_id big_ids[] = {\n\t{ PCI_DEVICE(PCI_VENDOR_ID_TEST, ${deep}) },\n\t{ PCI_DEVICE(PCI_VENDOR_ID_TEST, 0x0006) },\n${TABLE_END}` +
      `#if ${"-".repeat(100_000)}1\n#endif\n`,
  );
  const result = run("aliases", "--source", tree);
  assert.equal(result.status, 0, result.stderr);
  assert.match(
    result.stderr,
    /drivers\/big\.c:\d+: chain_ids: macros nested more than 200 deep \(the limit\)\n/,
  );
  // the entry's expression is shortened in the message: one line of a reasonable length
  assert.match(
    result.stderr,
    /drivers\/big\.c:\d+: big_ids: \.device = (\( ){40}…: nested more than 100 deep \(the limit\)\n/,
  );
  assert.equal(result.stdout, "alias pci:v00001234d00000006sv*sd*bc*sc*i* big\n");
});

test("aliases --source --config: Makefiles whose variables double at each line, or nest 100,000 deep, end at a limit", () => {
  let doubling = "obj-m += big.o\nA := x\n";
  for (let k = 0; k < 40; k++) doubling += "A := $(A) $(A)\n";
  const nested = `obj-m += big.o\nB := ${"$(strip ".repeat(100_000)}x${")".repeat(100_000)}\n`;
  for (const [makefile, limit] of [
    [doubling, /a make variable expands to more than 1000000 bytes \(the limit\)/],
    [nested, /make references nested more than 50 deep \(the limit\)/],
  ] as const) {
    const tree = sourceTree("", {
      Kbuild: "obj-y += drivers/\n",
      "arch/x86/Makefile": "",
      "drivers/Makefile": makefile,
      config: "CONFIG_X86=y\n",
    });
    const result = run("aliases", "--source", tree, "--config", join(tree, "config"));
    assert.equal(result.status, 2, result.stderr);
    assert.equal(result.stdout, "");
    const lines = result.stderr.split("\n").filter((l) => l !== "");
    assert.equal(lines.length, 1, result.stderr);
    assert.match(
      lines[0] as string,
      new RegExp(`^flavourctl aliases: ${tree}/drivers/Makefile: ${limit.source}$`),
    );
  }
});

test("aliases --source: a file including itself a thousand times is read once (it was 1000^5 reads)", () => {
  const tree = sourceTree("", { "drivers/self.c": '#include "self.c"\n'.repeat(1000) });
  const result = run("aliases", "--source", tree);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, "");
});

test("aliases --source: an argument holding 300,000 `##` is pasted in one pass (it was quadratic: past 60 s)", () => {
  const pasted = `0x0 ${"## 0 ".repeat(300_000)}## 8`;
  const tree = sourceTree(
    `#define P(x) x\nstatic const struct pci_device_id big_ids[] = {\n\t{ PCI_DEVICE(PCI_VENDOR_ID_TEST, P(${pasted})) },\n${TABLE_END}`,
  );
  const result = run("aliases", "--source", tree);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, "alias pci:v00001234d00000008sv*sd*bc*sc*i* big\n");
});
