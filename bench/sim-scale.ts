// How long a simulated machine takes to boot (every device added, matched and bound) as it
// grows: N devices and N/20 drivers (5,000 at 100,000), each driver in its own module with
// its own id, so every boot loads every module through udev's kmod load and binds every
// device. Medians of several runs per size.
//   node --import tsx bench/sim-scale.ts [RUNS]

import { SimMachine } from "../src/host/sim/machine.ts";
import { readMachine } from "../src/host/sim/machine-format.ts";
import { machineModules } from "../src/host/sim/modules-tree.ts";

function generated(devices: number, drivers: number) {
  const hex = (n: number, w: number) => n.toString(16).padStart(w, "0");
  const modules = Array.from({ length: drivers }, (_, i) => ({
    name: `drv${i}`,
    drivers: [{ name: `drv${i}`, ids: [{ vendor: hex(0x1000 + (i >> 12), 4), device: hex(i & 0xfff, 4) }] }],
  }));
  const list = Array.from({ length: devices }, (_, j) => {
    const i = j % drivers;
    return {
      address: `${hex(j >> 16, 4)}:${hex((j >> 8) & 0xff, 2)}:${hex((j >> 3) & 0x1f, 2)}.${j & 7}`,
      vendor: hex(0x1000 + (i >> 12), 4),
      device: hex(i & 0xfff, 4),
      class: "020000",
      iommuGroup: j,
    };
  });
  return readMachine(
    { format: "flavourctl-machine/1", name: `scale-${devices}`, modules, devices: list },
    "generated",
  );
}

const runs = Number(process.argv[2] ?? 5);
console.log("devices  drivers  boot ms (median of runs)  per device µs");
for (const size of (process.argv[3] ?? "1000,10000,30000,100000").split(",").map(Number)) {
  const drivers = Math.max(50, size / 20);
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const spec = generated(size, drivers);
    const start = performance.now();
    const machine = new SimMachine(spec, machineModules(spec));
    machine.kernel.trace.enabled = false;
    machine.boot();
    const ms = performance.now() - start;
    let bound = 0;
    for (const d of machine.kernel.devices.values()) if (d.driver) bound++;
    if (bound !== size) throw new Error(`${size}: only ${bound} bound`);
    times.push(ms);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] as number;
  console.log(
    `${String(size).padStart(7)}  ${String(drivers).padStart(7)}  ${median.toFixed(0).padStart(10)}  (${times.map((t) => t.toFixed(0)).join(" ")})  ${((median * 1000) / size).toFixed(1)}`,
  );
}
