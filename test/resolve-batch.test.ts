// resolve's batch on standard input (src/modules/pci-batch.ts) against lookup(), on modules
// directories made to hold what file2alias never writes: patterns with `?` and `[`, a pattern
// with no wildcard, patterns without a bus that a modalias can reach, the raw `vfio-pci` bus,
// several lines of one pattern, a line ending in \r, built-in aliases (one of a module whose
// name holds an ESC), a module name too long for libkmod, and modprobe.d aliases and install
// commands. lookup() is libkmod's answer (test/oracle/); the batch must give it for every name,
// with the PCI tables made or read from the cache, and answer the canonical names itself.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { safeBytes } from "../src/cli/terminal-safe.ts";
import { lookup } from "../src/modules/lookup.ts";
import { ModulesDir } from "../src/modules/modules-dir.ts";
import { ByteOutput, PciBatch } from "../src/modules/pci-batch.ts";
import { tempDir } from "./support/tmp.ts";

const CANONICAL = [
  "alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e",
  "alias pci:v00008086d*sv*sd*bc02sc00i* intel_network",
  "alias pci:v*d*sv*sd*bc0Csc03i30* xhci_pci",
  "alias pci:v00001AF4d00001042sv*sd*bc*sc*i* virtio_blk_first",
  "alias pci:v00001AF4d00001042sv*sd*bc*sc*i* virtio_blk_second",
  "alias pci:v*d00001042sv*sd*bc01sc*i* any_vendor_1042",
  `alias pci:v0000CAFEd*sv*sd*bc*sc*i* ${"m".repeat(4040)}`,
  "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci",
  "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci",
  "alias usb:v*p*d*dc*dsc*dp*ic09isc*ip*in* usbcore",
];
/** Lines file2alias never writes: each sends the batch to reading every line as lookup() does. */
const ODD = [
  "alias pci:v000015B3d0000101?sv*sd*bc*sc*i* mlx_question",
  "alias pci:v000010DEd*sv*sd*bc03sc[02]0i* nvidia_display",
  "alias pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00 exact_name",
  "alias pci?v000010DE* busless_nvidia",
  "alias *d00001533* busless_1533",
  "alias vfio-pci:v000010DEd00002941sv*sd*bc*sc*i* nvgrace_gpu_vfio_pci",
];
const BUILTIN_MODINFO = [
  "builtin_drv.alias=pci:v0000ABCDd*sv*sd*bc*sc*i*",
  // a second pattern for the same device: libkmod lists built-in patterns in reverse walk order
  "builtin_exact.alias=pci:v0000ABCDd00000001sv*sd*bc*sc*i*",
  "bad\x1bname.alias=pci:v0000BEEFd*sv*sd*bc*sc*i*",
  "virtio_pci.alias=pci:v00001AF4d*sv*sd*bc*sc*i*",
  "virtio_pci.description=not an alias",
].join("\0");

const NAMES = [
  "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00",
  "pci:v00008086d000010D3sv00008086sd0000A01Fbc02sc00i00",
  "pci:v00008086d00001533sv00008086sd00000000bc02sc00i00",
  "pci:v00001B21d00001242sv00001B21sd00001242bc0Csc03i30",
  "pci:v00001AF4d00001042sv00001AF4sd00001100bc01sc00i00",
  "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00",
  "pci:v000015B3d0000101Dsv000015B3sd00000001bc02sc00i00",
  "pci:v000010DEd00002941sv000010DEsd00000000bc03sc02i00",
  "pci:v000010DEd00002941sv000010DEsd00000000bc03sc00i00",
  "pci:v0000CAFEd00000001sv00000000sd00000000bc00sc00i00",
  "pci:v0000ABCDd00000001sv00000000sd00000000bcFFscFFiFF",
  "pci:v0000BEEFd00000001sv00000000sd00000000bcFFscFFiFF",
  "pci:vFFFFFFFFdFFFFFFFFsvFFFFFFFFsdFFFFFFFFbcFFscFFiFF",
  "vfio_pci:v000015B3d0000101Esv000015B3sd00000001bc02sc00i00",
  "vfio_pci:v000010DEd00002941sv000010DEsd00000000bc03sc02i00",
  "vfio_pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00",
  "pci:v00008086d000010d3sv00008086sd00000000bc02sc00i00",
  "vfio-pci:v000015B3d0000101Esv000015B3sd00000001bc02sc00i00",
  "usb:v1D6Bp0002d0606dc09dsc00dp01ic09isc00ip00in00",
  "e1000e",
  "",
];

/** A modules directory of these alias lines and the built-in aliases. */
function modulesDir(aliasLines: string[], lineEnd = "\n"): string {
  const dir = tempDir("resolve-batch");
  writeFileSync(
    join(dir, "modules.alias"),
    `# Aliases extracted from modules themselves.${lineEnd}${aliasLines.join(lineEnd)}\n`,
    "latin1",
  );
  writeFileSync(join(dir, "modules.builtin.modinfo"), `${BUILTIN_MODINFO}\0`, "latin1");
  return dir;
}

/** What resolve prints for NAMES, line by line, from lookup(). */
function expectedLines(dir: string, configPaths: string[]): string[] {
  const modules = new ModulesDir(dir, { configPaths });
  return NAMES.map((name) =>
    safeBytes(
      `${name}\t${lookup(modules, name)
        .matches.map((m) => m.module)
        .join(" ")}`,
    ),
  );
}

async function resolveStdin(dir: string, config: string, cache: string): Promise<string[]> {
  const { io, recorded } = recordingIo(`${NAMES.join("\n")}\n`, { FLAVOURCTL_INDEX_CACHE: cache });
  assert.equal(await main(["resolve", "--modules", dir, "--config", config], io), 0, recorded.stderr);
  const lines = recorded.stdout.split("\n");
  assert.equal(lines.pop(), "");
  return lines;
}

/** How many of NAMES the batch answers itself (the rest it leaves to lookup()). */
function answeredByBatch(dir: string, configPaths: string[]): number {
  const batch = new PciBatch(new ModulesDir(dir, { configPaths }), safeBytes);
  return NAMES.filter((name) => {
    const input = Buffer.from(name, "latin1");
    return batch.resolve(input, 0, input.length, new ByteOutput(16));
  }).length;
}

const trees: [string, string[], string?][] = [
  ["file2alias's lines only", CANONICAL],
  ["with lines file2alias never writes", [...CANONICAL.slice(0, 6), ...ODD, ...CANONICAL.slice(6)]],
  ["with \\r line ends", CANONICAL, "\r\n"],
];

for (const [what, lines, lineEnd] of trees) {
  test(`resolve on stdin answers as lookup(), ${what}: no config, modprobe.d aliases, an install command named like a modalias`, async () => {
    const dir = modulesDir(lines, lineEnd);
    const configDir = tempDir("resolve-batch-config");
    const aliases = join(configDir, "aliases.conf");
    writeFileSync(
      aliases,
      "alias pci:v00008086d000010D3* local_e1000e\nalias vfio?pci:v*bc03* local_display\nalias char-major-10-229 fuse\n",
    );
    const install = join(configDir, "install.conf");
    writeFileSync(install, "install pci:v00001AF4d00001042sv00001AF4sd00001100bc01sc00i00 /bin/true\n");
    for (const config of ["/dev/null", aliases, install]) {
      const expected = expectedLines(dir, [config]);
      const cache = tempDir("resolve-batch-cache");
      for (const cacheDir of ["off", cache, cache]) {
        assert.deepEqual(await resolveStdin(dir, config, cacheDir), expected, `${config}, cache ${cacheDir}`);
      }
      // the canonical names are the batch's own; with an install command named like a pci: name
      // lookup() answers every pci: name, the batch the three vfio_pci: ones
      const own = answeredByBatch(dir, [config]);
      if (config === install) assert.equal(own, 3);
      else assert.ok(own >= 15, `the batch answered ${own} names itself`);
    }
    // what the cases must reach: a line of each kind answers some name
    const answers = expectedLines(dir, ["/dev/null"]).join("\n");
    for (const module of [
      "e1000e",
      "intel_network",
      "xhci_pci",
      "vfio_pci",
      "virtio_blk_second",
      "builtin_exact builtin_drv",
      "bad\\u001bname",
    ]) {
      assert.ok(answers.includes(module), `${module} answers no name`);
    }
    if (lines.includes(ODD[0] as string)) {
      for (const module of [
        "mlx_question",
        "nvidia_display",
        "exact_name",
        "busless_nvidia",
        "busless_1533",
        "nvgrace_gpu_vfio_pci",
      ]) {
        assert.ok(answers.includes(module), `${module} answers no name`);
      }
    }
  });
}

test("resolve on stdin: a line over 16 MiB stops it with exit 2, after the answers to the lines before it", async () => {
  const dir = modulesDir(CANONICAL);
  const before = NAMES.slice(0, 3);
  const { io, recorded } = recordingIo(`${before.join("\n")}\n${"x".repeat((16 << 20) + 1)}\n${NAMES[0]}\n`, {
    FLAVOURCTL_INDEX_CACHE: "off",
  });
  assert.equal(await main(["resolve", "--modules", dir, "--config", "/dev/null"], io), 2);
  assert.equal(recorded.stdout, `${expectedLines(dir, ["/dev/null"]).slice(0, 3).join("\n")}\n`);
  assert.match(
    recorded.stderr,
    /^flavourctl resolve: <stdin>: line 4: larger than 16 MiB, the limit for a line of standard input\n$/,
  );
});
