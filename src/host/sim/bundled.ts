// The machines that ship inside flavourctl: JSON files bundled into dist/flavourctl.js (no
// file is read at run time), each imported only when asked for.
const machines: Record<string, () => Promise<unknown>> = {
  demo: () => import("./machines/demo.json", { with: { type: "json" } }).then((m) => m.default),
  thread: () => import("./machines/thread.json", { with: { type: "json" } }).then((m) => m.default),
};

export const BUNDLED_MACHINES = Object.keys(machines);

export function bundledMachine(name: string): Promise<unknown> | undefined {
  return Object.hasOwn(machines, name) ? machines[name]?.() : undefined;
}
