// list and show on the real q35 capture and on small built trees: the JSON schema, the
// explanations show gives (alias lines with file and line, ranking, group blockers,
// driver_override), the vfio driver read from the host and never guessed from the module
// name, colour only on a terminal without NO_COLOR.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { DeviceReport } from "../src/cli/device-report.ts";
import { type Io, recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";
import { bisectChild, PCI_IDS_PATHS, PciNames } from "../src/host/pci-names.ts";
import { SysfsHost } from "../src/host/sysfs.ts";
import { hex } from "../src/pci/ids.ts";
import { lspci, oracleModules } from "./support/lspci.ts";
import { DEBIAN_612, debianModules } from "./support/modules.ts";
import { buildTree } from "./support/sysfs-builder.ts";
import { SYSFS_FIXTURES, sysfsTree } from "./support/sysfs-trees.ts";
import { tempDir } from "./support/tmp.ts";

async function run(args: string[], tweak: (io: Io) => void = () => {}) {
  const { io, recorded } = recordingIo();
  tweak(io);
  const code = await main(args, io);
  return { code, ...recorded };
}

const q35 = () => ["--sysfs", sysfsTree(SYSFS_FIXTURES.q35), "--modules", debianModules(DEBIAN_612)];

const ESC = "\x1b";

const KEYS = [
  "address",
  "vendor",
  "device",
  "subsystemVendor",
  "subsystemDevice",
  "class",
  "revision",
  "modalias",
  "driver",
  "driverModule",
  "driverOverride",
  "modules",
  "modulesBuiltIn",
  "vfio",
  "iommuGroup",
  "iommuGroupBlockers",
  "headerType",
  "vfioBound",
  "physfn",
  "virtfns",
  "sriov",
  "numaNode",
  "parents",
  "names",
];

test("list --json on the q35 capture: the documented keys and number format", async () => {
  const { code, stdout, stderr } = await run(["list", "--json", ...q35()]);
  assert.equal(code, 0);
  assert.equal(stderr, "");
  const devices = JSON.parse(stdout) as DeviceReport[];
  assert.equal(devices.length, 25);
  for (const device of devices) assert.deepEqual(Object.keys(device), KEYS);
  const nvme = devices.find((d) => d.address === "0000:02:00.0");
  assert.deepEqual(
    { ...nvme, vfio: undefined },
    {
      address: "0000:02:00.0",
      vendor: "1b36",
      device: "0010",
      subsystemVendor: "1af4",
      subsystemDevice: "1100",
      class: "010802",
      revision: "02",
      modalias: "pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02",
      driver: "nvme",
      driverModule: "nvme",
      driverOverride: null,
      modules: ["nvme"],
      modulesBuiltIn: false,
      vfio: undefined,
      iommuGroup: 14,
      iommuGroupBlockers: [],
      headerType: 0,
      vfioBound: false,
      physfn: null,
      virtfns: ["0000:02:00.1", "0000:02:00.2"],
      sriov: { totalVfs: 4, numVfs: 2, driversAutoprobe: false },
      numaNode: null,
      parents: ["0000:00:05.0"],
      names: {
        class: "Non-Volatile memory controller",
        vendor: "Red Hat, Inc.",
        device: "QEMU NVM Express Controller",
      },
    },
  );
  // vfio_pci is not loaded in the capture: its driver's name is unknown, not guessed
  assert.deepEqual(nvme?.vfio, {
    driver: null,
    module: "vfio_pci",
    candidates: ["vfio_pci"],
    tie: null,
    reason: "no variant driver matches; generic vfio-pci",
    builtIn: false,
    refused: null,
  });
  const vf = devices.find((d) => d.address === "0000:02:00.1");
  assert.equal(vf?.physfn, "0000:02:00.0");
  assert.equal(vf?.driver, null);
  // the PCIe switch: a downstream port shares group 17 with the virtio-blk behind it
  const port = devices.find((d) => d.address === "0000:05:00.0");
  assert.deepEqual(port?.iommuGroupBlockers, ["0000:06:00.0"]);
  assert.equal(port?.vfio?.refused?.startsWith("vfio-pci refuses bridges"), true);
  assert.deepEqual(devices.find((d) => d.address === "0000:06:00.0")?.parents, [
    "0000:00:07.0",
    "0000:04:00.0",
    "0000:05:00.0",
  ]);
  // driver and module names differ, both as the host recorded them
  const watchdog = devices.find((d) => d.address === "0000:00:0a.0");
  assert.equal(watchdog?.driver, "i6300ESB timer");
  assert.equal(watchdog?.driverModule, "i6300esb");
});

test("list: a table, no colour off a terminal or with NO_COLOR, colour on a terminal", async () => {
  const plain = await run(["list", ...q35()]);
  assert.equal(plain.code, 0);
  assert.match(plain.stdout, /^ADDRESS +CLASS +DRIVER +MODULES +VFIO +GROUP +DEVICE$/m);
  assert.match(plain.stdout, /^0000:05:00\.0 +PCI bridge +pcieport +- +\(refused\) +17! +104c:8233/m);
  assert.equal(plain.stdout.includes(ESC), false);
  const tty = await run(["list", ...q35()], (io) => {
    io.stdoutIsTty = true;
  });
  assert.ok(tty.stdout.includes(`${ESC}[32mnvme${ESC}[39m`), "the driver in green");
  const noColor = await run(["list", ...q35()], (io) => {
    io.stdoutIsTty = true;
    io.env.NO_COLOR = "1";
  });
  assert.equal(noColor.stdout, plain.stdout);
  const json = await run(["list", "--json", ...q35()], (io) => {
    io.stdoutIsTty = true;
  });
  assert.equal(json.stdout.includes(ESC), false);
});

test("show: the alias lines that matched, with their file and line", async () => {
  const modules = debianModules(DEBIAN_612);
  const { code, stdout } = await run(["show", "02:00.0", "--json", ...q35()]);
  assert.equal(code, 0);
  const shown = JSON.parse(stdout);
  assert.equal(shown.explain.modules.stage, "modules.alias");
  const lines = readFileSync(join(modules, "modules.alias"), "latin1").split("\n");
  assert.equal(shown.explain.modules.matches.length, 2, "nvme matches twice (class and id)");
  for (const match of shown.explain.modules.matches) {
    assert.equal(match.file, join(modules, "modules.alias"));
    assert.equal(lines[match.line - 1], `alias ${match.pattern} ${match.module}`);
  }
  const [catchAll] = shown.explain.vfio.candidates;
  assert.equal(lines[catchAll.line - 1], "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci");
  assert.equal(catchAll.wildcards, 7);
  const text = await run(["show", "0000:02:00.0", ...q35()]);
  assert.match(text.stdout, /modules\.alias:\d+ {2}pci:v\*d\*sv\*sd\*bc01sc08i02\* → nvme/);
  assert.match(text.stdout, /sr-iov +PF, 2 of 4 VFs enabled: 0000:02:00\.1 0000:02:00\.2/);
});

test("show: the group members that keep vfio out, and why", async () => {
  const { stdout } = await run(["show", "05:00.0", ...q35()]);
  assert.match(stdout, /iommu group +17: not viable for vfio while 0000:06:00\.0 stays on host drivers/);
  assert.match(stdout, /0000:06:00\.0 +virtio-pci +blocks: bound to host driver virtio-pci/);
  assert.match(stdout, /vfio-pci refuses bridges \(header type 1\)/);
  const lpc = await run(["show", "00:1f.0", "--json", ...q35()]);
  const group = JSON.parse(lpc.stdout).explain.iommuGroup;
  assert.deepEqual(
    group.map((m: { address: string; blocks: string | null }) => [m.address, m.blocks]),
    [
      ["0000:00:1f.0", "bound to host driver lpc_ich"],
      ["0000:00:1f.2", "bound to host driver ahci"],
      ["0000:00:1f.3", "bound to host driver i801_smbus"],
    ],
  );
});

/** A host with vfio_pci and virtio_vfio_pci loaded, and a modules directory naming them. */
function vfioMachine() {
  const root = join(tempDir("vfio-machine"), "sys");
  buildTree(
    root,
    [
      {
        address: "0000:00:03.0",
        vendor: 0x1af4,
        device: 0x1041,
        classCode: 0x020000,
        driver: "virtio_vfio_pci",
        group: 3,
      },
      {
        address: "0000:00:04.0",
        vendor: 0x8086,
        device: 0x10d3,
        classCode: 0x020000,
        group: 4,
        files: { driver_override: "vfio-pci\n" },
      },
      {
        address: "0000:00:05.0",
        vendor: 0x1af4,
        device: 0x1042,
        classCode: 0x010000,
        driver: "virtio-pci",
        group: 5,
      },
    ],
    { "vfio-pci": "vfio_pci", virtio_vfio_pci: "virtio_vfio_pci", "virtio-pci": "virtio_pci" },
  );
  const modules = tempDir("vfio-modules");
  writeFileSync(
    join(modules, "modules.alias"),
    [
      "alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e",
      "alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci",
      "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci",
      "alias vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_vfio_pci",
      "",
    ].join("\n"),
  );
  return ["--sysfs", root, "--modules", modules, "--config", "/dev/null"];
}

test("vfio driver names come from module/<m>/drivers, never from the module's name", async () => {
  const { code, stdout, stderr } = await run(["list", "--json", ...vfioMachine()]);
  assert.equal(code, 0, stderr);
  const [net, nic, blk] = JSON.parse(stdout) as DeviceReport[];
  assert.deepEqual(net?.vfio, {
    driver: "virtio_vfio_pci",
    module: "virtio_vfio_pci",
    candidates: ["virtio_vfio_pci", "vfio_pci"],
    tie: null,
    reason: "variant virtio_vfio_pci matches with 5 wildcard fields, fewer than vfio_pci (7)",
    builtIn: false,
    refused: null,
  });
  assert.equal(net?.driverModule, "virtio_vfio_pci");
  assert.equal(nic?.vfio?.module, "vfio_pci");
  assert.equal(nic?.vfio?.driver, "vfio-pci", "module vfio_pci registers the driver vfio-pci");
  assert.equal(nic?.driverOverride, "vfio-pci");
  assert.equal(blk?.driverModule, "virtio_pci");
});

test("show: what driver_override does", async () => {
  const { stdout } = await run(["show", "00:04.0", ...vfioMachine()]);
  assert.match(
    stdout,
    /override +vfio-pci: only vfio-pci may bind the device; the device is unbound; drivers_probe binds it to vfio-pci once that driver is registered; it is lost on remove\/rescan, VF re-creation and reboot/,
  );
  assert.match(
    stdout,
    /module vfio_pci registers driver vfio-pci \(module\/vfio_pci\/drivers\/pci:vfio-pci\)/,
  );
  const none = await run(["show", "00:05.0", ...vfioMachine()]);
  assert.match(none.stdout, /override +none \(reads "\(null\)"\)/);
});

test("a snapshot keeps which module registered which driver", async () => {
  const args = vfioMachine();
  const source = args[1] as string;
  const dest = join(tempDir("snapshot-modules"), "copy");
  const made = await run(["snapshot", dest, "--sysfs", source, "--json"]);
  assert.equal(made.code, 0, made.stderr);
  assert.deepEqual(JSON.parse(made.stdout), { devices: 3, drivers: 3, groups: 3, modules: 3 });
  const original = await run(["list", "--json", ...args]);
  const copy = await run(["list", "--json", ...args.map((a) => (a === source ? dest : a))]);
  assert.deepEqual(JSON.parse(copy.stdout), JSON.parse(original.stdout));
});

test("list without a modules directory: modules unknown, said once, the rest listed", async () => {
  const { io, recorded } = recordingIo();
  const code = await main(["list", "--sysfs", sysfsTree(SYSFS_FIXTURES.q35), "--kernel", "0.0-none"], io);
  assert.equal(code, 2, "a modules directory given on the command line must exist");
  assert.match(recorded.stderr, /\/lib\/modules\/0\.0-none\/modules\.alias/);
  const usage = await run(["list", "extra"]);
  assert.equal(usage.code, 64);
});

test("names from pci.ids are lspci's names (-mm: class, vendor, device), with or without the index cache", () => {
  const cacheDir = tempDir("pci-ids-cache");
  new PciNames(PCI_IDS_PATHS, cacheDir).vendor(0x8086); // writes the index
  assert.equal(readdirSync(cacheDir).filter((n) => n.endsWith(".pci-ids")).length, 1);
  for (const names of [new PciNames(), new PciNames(PCI_IDS_PATHS, cacheDir)])
    for (const name of Object.values(SYSFS_FIXTURES)) {
      const tree = sysfsTree(name);
      const host = new SysfsHost(tree, () => {});
      const theirs = lspci(tree, oracleModules(DEBIAN_612), ["-mm", "-D"])
        .trimEnd()
        .split("\n")
        .map((line) => [...line.matchAll(/"([^"]*)"/g)].slice(0, 3).map((m) => m[1]));
      const ours = host.devices().map((address) => {
        const info = host.device(address);
        return [
          names.className(info.classCode) ?? `Class ${hex(info.classCode >> 8, 4)}`,
          names.vendor(info.vendor) ?? `Vendor ${hex(info.vendor, 4)}`,
          names.device(info.vendor, info.device) ?? `Device ${hex(info.device, 4)}`,
        ];
      });
      assert.deepEqual(ours, theirs, name);
    }
});

test("list --json names each device as lspci -mm does (class, vendor, device), null where pci.ids has no name", async () => {
  const tree = sysfsTree(SYSFS_FIXTURES.q35);
  const { code, stdout } = await run(["list", "--json", ...q35()]);
  assert.equal(code, 0);
  const ours = (JSON.parse(stdout) as DeviceReport[]).map((d) => [
    d.names.class,
    d.names.vendor,
    d.names.device,
  ]);
  const theirs = lspci(tree, oracleModules(DEBIAN_612), ["-mm", "-D"])
    .trimEnd()
    .split("\n")
    .map((line) =>
      [...line.matchAll(/"([^"]*)"/g)]
        .slice(0, 3)
        .map((m) => (/^(Class|Vendor|Device) [0-9a-f]{4}$/.test(m[1] as string) ? null : m[1])),
    );
  assert.deepEqual(ours, theirs);
  assert.ok(
    ours.some(([, vendor]) => vendor === "Red Hat, Inc."),
    "names are filled in",
  );
});

test("names from pci.ids are UTF-8, as the file is (lspci prints its bytes); a wrong index is dropped", () => {
  // Hilscher's vendor line is pci.ids' own (with a ü); the lines around it are made up.
  const dir = tempDir("pci-ids");
  const path = join(dir, "pci.ids");
  writeFileSync(
    path,
    "# excerpt\n15cf  Hilscher Gesellschaft für Systemautomation mbH\n\t0000  CIFX PCI/PCIe\n\t0001  CIFX 50E-DP\n" +
      "15d1  Infineon Technologies AG\n\t0002  netX 100\n" +
      "C 02  Network controller\n\t00  Ethernet controller\nC 0c  Serial bus controller\n\t03  USB controller\n",
  );
  const cacheDir = tempDir("pci-ids-cache");
  const check = (names: PciNames) => {
    assert.equal(names.vendor(0x15cf), "Hilscher Gesellschaft für Systemautomation mbH");
    assert.equal(names.device(0x15cf, 0x0001), "CIFX 50E-DP");
    assert.equal(names.device(0x15cf, 0x0002), undefined, "another vendor's device is not Hilscher's");
    assert.equal(names.className(0x020000), "Ethernet controller");
    assert.equal(names.className(0x0c0330), "USB controller");
    assert.equal(names.vendor(0x1234), undefined);
  };
  check(new PciNames([path]));
  check(new PciNames([path], cacheDir)); // makes the index
  const [indexFile] = readdirSync(cacheDir);
  const index = readFileSync(join(cacheDir, indexFile as string), "latin1");
  check(new PciNames([path], cacheDir)); // reads it
  // Offsets off by one: each block read from the wrong place; the index is dropped and made again.
  writeFileSync(
    join(cacheDir, indexFile as string),
    index.replace(/\t(\d+)$/gm, (_m, offset: string) => `\t${Number(offset) + 1}`),
  );
  check(new PciNames([path], cacheDir));
  assert.deepEqual(readdirSync(cacheDir), [], "the wrong index is removed");
  check(new PciNames([path], cacheDir));
  assert.equal(readFileSync(join(cacheDir, indexFile as string), "latin1"), index, "and made again");
  // Cut after Hilscher's line: that block would run to the end of pci.ids, over other vendors'.
  writeFileSync(join(cacheDir, indexFile as string), index.slice(0, index.indexOf("\n15d1") + 1));
  check(new PciNames([path], cacheDir));
  assert.equal(
    readFileSync(join(cacheDir, indexFile as string), "latin1"),
    index,
    "a cut index is made again",
  );
  // pci.ids updated while a command runs (here a block grows, its start unchanged): blocks are
  // read only from the bytes the index was made of, never cut at the old block's end
  const running = new PciNames([path], cacheDir);
  assert.equal(running.vendor(0x15cf), "Hilscher Gesellschaft für Systemautomation mbH");
  writeFileSync(path, readFileSync(path, "utf8").replace("netX 100", "netX 100 (renamed)"));
  assert.equal(running.device(0x15d1, 0x0002), "netX 100 (renamed)");
});

test("pci.ids: every vendor's devices and every class's subclasses are found by bisection, as a walk of the file finds them", () => {
  const path = PCI_IDS_PATHS.find((candidate) => existsSync(candidate));
  assert.ok(path, "pci.ids is missing: apt-get install pciutils");
  const names = new PciNames([path]);
  const expected: { vendor: number; device: number; name: string }[] = [];
  const subclasses: { classCode: number; name: string }[] = [];
  let vendor: number | undefined;
  let baseClass: number | undefined;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const top = /^([0-9a-f]{4}) {2}/.exec(line);
    const cls = /^C ([0-9a-f]{2}) {2}/.exec(line);
    const child = /^\t([0-9a-f]+) {2}(.*)$/.exec(line);
    if (top) [vendor, baseClass] = [Number.parseInt(top[1] as string, 16), undefined];
    else if (cls) [vendor, baseClass] = [undefined, Number.parseInt(cls[1] as string, 16)];
    else if (child && vendor !== undefined)
      expected.push({ vendor, device: Number.parseInt(child[1] as string, 16), name: child[2] as string });
    else if (child && baseClass !== undefined)
      subclasses.push({
        classCode: (baseClass << 16) | (Number.parseInt(child[1] as string, 16) << 8),
        name: child[2] as string,
      });
  }
  assert.ok(expected.length > 15000 && subclasses.length > 100, `${expected.length} devices`);
  for (const [i, { vendor, device, name }] of expected.entries()) {
    if (i % 10 === 0) assert.equal(names.device(vendor, device), name, `${hex(vendor, 4)}:${hex(device, 4)}`);
  }
  for (const { classCode, name } of subclasses) assert.equal(names.className(classCode), name);
  // absent ids of Intel's: among its devices, and after the last
  const intel = new Set(expected.filter((e) => e.vendor === 0x8086).map((e) => e.device));
  const absent = [0x1000, 0x29c0, 0x8000, 0xfff0].map((from) => {
    let device = from;
    while (intel.has(device)) device++;
    return device;
  });
  for (const device of [...absent, 0xffff])
    assert.equal(names.device(0x8086, device), undefined, hex(device, 4));
  // through the index cache, Intel's block read in parts: each of its devices from its own part
  const cacheDir = tempDir("pci-ids-parts");
  new PciNames([path], cacheDir).vendor(0x8086);
  const [indexFile] = readdirSync(cacheDir);
  const index = readFileSync(join(cacheDir, indexFile as string), "latin1");
  assert.ok((index.match(/^8086\/[0-9a-f]{4}\t/gm) ?? []).length > 10, "Intel's block has parts");
  const cachedNames = new PciNames([path], cacheDir);
  for (const { device, name } of expected.filter((e) => e.vendor === 0x8086)) {
    assert.equal(cachedNames.device(0x8086, device), name, hex(device, 4));
  }
  // the bisection itself, not the plain search behind it, finds each of Intel's devices
  const file = readFileSync(path);
  const start = file.indexOf("\n8086  ") + 1;
  const nextVendor = /\n[0-9a-f]{4} {2}/g;
  nextVendor.lastIndex = start;
  const block = file.subarray(start, (nextVendor.exec(file.toString("latin1"))?.index ?? file.length) + 1);
  assert.ok(block.length > 100000, `Intel's block: ${block.length} bytes`);
  const blockText = block.toString("latin1");
  const lines = [...blockText.matchAll(/\n\t([0-9a-f]{4}) {2}/g)];
  assert.equal(lines.length, intel.size);
  for (const line of lines) assert.equal(bisectChild(blockText, line[1] as string), line.index, line[1]);
});
