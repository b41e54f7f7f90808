// Machine files and snapshot machines written by someone else (issue 15, defect 15): names that
// are also Object.prototype's (`constructor`, `__proto__`), text that would end a line of a
// generated file, and PFs whose VFs would fall off bus ff. Each is a machine like another or
// refused with one line naming the file and the field — never a TypeError.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { recordingIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { InputError } from "../../src/errors.ts";
import { readMachine } from "../../src/host/sim/machine-format.ts";
import { modulesTreeFiles } from "../../src/host/sim/modules-tree.ts";
import { PCIEPORT, ROOT_PORT, VFIO_PCI } from "../support/sim.ts";
import { buildTree } from "../support/sysfs-builder.ts";
import { tempDir } from "../support/tmp.ts";

const HOSTILE = [
  "constructor",
  "__proto__",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "prototype",
  "__defineGetter__",
  "isPrototypeOf",
  "e1000e",
];
const EXIT_CODES = [0, 1, 2, 3, 4, 64];

const NIC = {
  address: "0000:01:00.0",
  vendor: "8086",
  device: "10d3",
  class: "020000",
  parent: "0000:00:01.0",
  iommuGroup: 10,
  sriov: { totalVfs: 2, vfDevice: "10ed" },
};

function machine(module: string, driver: string, variant: string, extra: Record<string, unknown> = {}) {
  return {
    format: "flavourctl-machine/1",
    name: "lab",
    modules: [
      PCIEPORT,
      ...VFIO_PCI,
      { name: module, drivers: [{ name: driver, sriov: true, ids: [{ vendor: "8086", device: "10d3" }] }] },
      {
        name: variant === module ? `${variant}_vfio` : variant,
        depends: ["vfio_pci_core"],
        drivers: [{ name: `${variant}-vfio`, vfio: true, ids: [{ vendor: "8086", overrideOnly: true }] }],
      },
    ],
    devices: [ROOT_PORT, NIC],
    ...extra,
  };
}

async function cli(args: string[], env: Record<string, string>) {
  const { io, recorded } = recordingIo("", env);
  const code = await main(args, io);
  return { code, ...recorded };
}

test("machine files whose module and driver names are Object.prototype's: every command runs, state survives a restart", async () => {
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...HOSTILE),
      fc.constantFrom(...HOSTILE),
      fc.constantFrom(...HOSTILE),
      async (module, driver, variant) => {
        const dir = tempDir("hostile-machine");
        const file = join(dir, "lab.json");
        writeFileSync(file, JSON.stringify(machine(module, driver, variant)));
        const env = { XDG_STATE_HOME: join(dir, "state") };
        const m = ["--machine", file];
        const steps = [
          ["list", "--json", ...m],
          ["show", "0000:01:00.0", ...m],
          // a dynamic id keyed by the hostile driver name, saved in state.json and read back
          ["sim", "write", file, `/sys/bus/pci/drivers/${driver}/new_id`, "8086 10d4"],
          ["set", "0000:01:00.0", "vfio", ...m],
          ["rules", ...m],
          ["vfs", "0000:01:00.0", "2", ...m],
          ["unset", "0000:01:00.0", ...m],
          ["apply", ...m],
          ["sim", "devices", file],
          ["sim", "reset", file],
          ["list", ...m],
        ];
        for (const args of steps) {
          const result = await cli(args, env);
          assert.ok(
            EXIT_CODES.includes(result.code),
            `${args.join(" ")}: exit ${result.code}\n${result.stderr}`,
          );
          assert.doesNotMatch(result.stderr, /TypeError|internal error/, args.join(" "));
        }
        const listed = JSON.parse((await cli(["list", "--json", ...m], env)).stdout);
        assert.equal(listed.find((d: { address: string }) => d.address === "0000:01:00.0")?.driver, driver);
        runs++;
      },
    ),
    { numRuns: 25 },
  );
  assert.equal(runs, 25);
});

test("a snapshot machine whose tree and modules name a driver `constructor` or `__proto__`", async () => {
  for (const name of ["constructor", "__proto__"]) {
    const root = join(tempDir("hostile-tree"), "sys");
    buildTree(
      root,
      [
        {
          address: "0000:00:03.0",
          vendor: 0x8086,
          device: 0x10d3,
          classCode: 0x020000,
          driver: name,
          group: 3,
        },
      ],
      { [name]: name },
    );
    const modules = tempDir("hostile-modules");
    writeFileSync(
      join(modules, "modules.alias"),
      `alias pci:v00008086d000010D3sv*sd*bc*sc*i* ${name}\nalias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\n`,
    );
    writeFileSync(join(modules, "modules.dep"), `kernel/${name}.ko:\nkernel/vfio_pci.ko:\n`);
    const env = { XDG_STATE_HOME: tempDir("hostile-state") };
    const m = ["--machine", `snapshot:${root},modules=${modules}`];
    const list = await cli(["list", "--json", ...m], env);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(JSON.parse(list.stdout)[0].driver, name);
    const set = await cli(["set", "0000:00:03.0", "vfio", ...m], env);
    assert.equal(set.code, 0, set.stderr);
    const unset = await cli(["unset", "0000:00:03.0", ...m], env);
    assert.equal(unset.code, 0, unset.stderr);
    assert.match(unset.stdout, new RegExp(`now on ${name.replace(/_/g, "_")}`));
  }
});

function refused(spec: Record<string, unknown>): string {
  try {
    readMachine(spec, "lab.json");
  } catch (error) {
    assert.ok(error instanceof InputError, String(error));
    assert.doesNotMatch(error.message, /\n/);
    return error.message;
  }
  assert.fail("accepted");
}

test("a field written into a generated file holds no newline or control character: refused naming the file and field", () => {
  const nic = (softdep: unknown) =>
    machine("e1000e", "e1000e", "igb", {}).modules.map((m) =>
      (m as { name: string }).name === "e1000e" ? { ...m, softdep } : m,
    );
  const injected = "pre: vfio_pci\nalias vfio_pci:v*d*sv*sd*bc*sc*i* e1000e";
  assert.match(
    refused({ ...machine("e1000e", "e1000e", "igb"), modules: nic(injected) }),
    /^lab\.json: \$\.modules\[3\]\.softdep: a control character \(newline, escape, …\) in "pre: vfio_pci\\nalias/,
  );
  assert.match(
    refused({ ...machine("e1000e", "e1000e", "igb"), modules: nic("pre: vfio_pci $(reboot)") }),
    /softdep: expected "pre: MODULE… post: MODULE…", not "\$\(reboot\)"/,
  );
  for (const [field, value] of [
    ["kernel", "6.12\nalias x y"],
    ["kernel", "../../etc"],
    ["description", "a\u001b]0;owned\u0007 machine"],
  ] as const) {
    assert.match(
      refused({ ...machine("e1000e", "e1000e", "igb"), [field]: value }),
      new RegExp(`^lab\\.json: \\$\\.${field}: `),
    );
  }
  assert.match(
    refused({
      ...machine("e1000e", "e1000e", "igb"),
      devices: [ROOT_PORT, { ...NIC, name: "NIC\r\u001b[2J" }],
    }),
    /^lab\.json: \$\.devices\[1\]\.name: a control character/,
  );
  // what is accepted is written as one line per softdep
  const ok = readMachine(
    { ...machine("e1000e", "e1000e", "igb"), modules: nic("pre:  vfio_pci post: igb") },
    "lab.json",
  );
  assert.equal(
    modulesTreeFiles(ok).get("modules.softdep"),
    "# Soft dependencies extracted from modules themselves.\nsoftdep e1000e pre: vfio_pci post: igb\n",
  );
});

test("a PF whose VFs would fall beyond bus ff: the machine is refused (file, field, why); the VFs that fit are made", async () => {
  const last = { ...ROOT_PORT, address: "0000:00:1c.0" };
  const pf = { ...NIC, address: "0000:ff:1f.7", parent: "0000:00:1c.0" };
  assert.match(
    refused({ ...machine("e1000e", "e1000e", "igb"), devices: [last, pf] }),
    /^lab\.json: \$\.devices\[1\]\.sriov: its VF 2 would be on a bus beyond ff \(offset 1, stride 1 from 0000:ff:1f\.7\): the kernel cannot create it$/,
  );
  // offset 0x7 from ff:1e.0 (devfn f0): VF 1 at ff:1f.7 fits, VF 2 would be 0000:100:00.0
  const edge = {
    ...NIC,
    address: "0000:ff:1e.0",
    parent: "0000:00:1c.0",
    sriov: { totalVfs: 1, vfDevice: "10ed", offset: 15 },
  };
  const dir = tempDir("edge-machine");
  const file = join(dir, "edge.json");
  writeFileSync(file, JSON.stringify({ ...machine("e1000e", "e1000e", "igb"), devices: [last, edge] }));
  const env = { XDG_STATE_HOME: join(dir, "state") };
  const made = await cli(["vfs", "0000:ff:1e.0", "1", "--machine", file], env);
  assert.equal(made.code, 0, made.stderr);
  const listed = await cli(["list", "--machine", file], env);
  assert.match(listed.stdout, /^0000:ff:1f\.7 /m);
  // a captured tree whose PF says the same: refused naming its sriov_totalvfs
  const root = join(tempDir("edge-tree"), "sys");
  const files = { sriov_totalvfs: "2\n", sriov_offset: "1\n", sriov_stride: "1\n", sriov_numvfs: "0\n" };
  buildTree(root, [{ address: "0000:ff:1f.7", vendor: 0x8086, device: 0x10d3, classCode: 0x020000, files }]);
  const modules = tempDir("edge-modules");
  writeFileSync(join(modules, "modules.alias"), "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\n");
  const snap = await cli(["list", "--machine", `snapshot:${root},modules=${modules}`], env);
  assert.equal(snap.code, 2);
  assert.match(
    snap.stderr,
    /^flavourctl list: .*0000:ff:1f\.7\/sriov_totalvfs: VF 2 of 0000:ff:1f\.7 would be on a bus beyond ff/,
  );
});

test("any text in a machine file's names, softdep and kernel: refused in one line naming the field, or every generated file keeps one line per entry", () => {
  const text = fc.oneof(
    fc.string({ unit: "binary", maxLength: 12 }),
    fc.constantFrom(
      "pre: vfio_pci",
      "post: a b",
      "pre:\nalias x y",
      "a\rb",
      "6.12.1+deb",
      "..",
      "x/y",
      ...HOSTILE,
    ),
  );
  let accepted = 0;
  let refusedCount = 0;
  fc.assert(
    fc.property(text, text, text, text, (module, driver, softdep, kernel) => {
      const spec = machine("e1000e", "e1000e", "igb", { kernel });
      spec.modules.push({
        name: module,
        softdep,
        drivers: [{ name: driver, ids: [{ vendor: "1234" }] }],
      } as never);
      let read: ReturnType<typeof readMachine>;
      try {
        read = readMachine(spec, "lab.json");
      } catch (error) {
        assert.ok(error instanceof InputError, String(error));
        assert.match(
          error.message,
          /^lab\.json: \$\.(kernel|modules\[5\]\.(name|softdep|drivers\[0\]\.name)): /,
        );
        assert.doesNotMatch(error.message, /\n/);
        refusedCount++;
        return;
      }
      accepted++;
      const files = modulesTreeFiles(read);
      const lines = (name: string) =>
        (files.get(name) ?? "").split("\n").filter((l) => l !== "" && !l.startsWith("#"));
      const loadable = read.modules.filter((m) => !m.builtin);
      assert.equal(lines("modules.dep").length, loadable.length);
      assert.equal(lines("modules.softdep").length, loadable.filter((m) => m.softdep).length);
      for (const line of lines("modules.softdep"))
        assert.match(line, /^softdep \S+( (pre:|post:|[A-Za-z0-9_-]+))+$/);
      for (const line of lines("modules.alias")) assert.match(line, /^alias \S+ [A-Za-z0-9_]+$/);
    }),
    { numRuns: 2000 },
  );
  assert.ok(accepted > 0 && refusedCount > 0, `${accepted} accepted, ${refusedCount} refused`);
});
