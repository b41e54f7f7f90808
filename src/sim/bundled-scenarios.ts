// The scenarios that ship inside flavourctl (README "sim run"), bundled like the machines.
const scenarios: Record<string, () => Promise<unknown>> = {
  "device-added": () =>
    import("./scenarios/device-added.json", { with: { type: "json" } }).then((m) => m.default),
  "flavour-variant-absent": () =>
    import("./scenarios/flavour-variant-absent.json", { with: { type: "json" } }).then((m) => m.default),
  "flavour-variant-present": () =>
    import("./scenarios/flavour-variant-present.json", { with: { type: "json" } }).then((m) => m.default),
  "group-ownership": () =>
    import("./scenarios/group-ownership.json", { with: { type: "json" } }).then((m) => m.default),
  "module-faults": () =>
    import("./scenarios/module-faults.json", { with: { type: "json" } }).then((m) => m.default),
  "overlap-override-only": () =>
    import("./scenarios/overlap-override-only.json", { with: { type: "json" } }).then((m) => m.default),
  "overlap-v1-coldplug": () =>
    import("./scenarios/overlap-v1-coldplug.json", { with: { type: "json" } }).then((m) => m.default),
  "overlap-v1-preloaded": () =>
    import("./scenarios/overlap-v1-preloaded.json", { with: { type: "json" } }).then((m) => m.default),
  "rollback-probe-fails": () =>
    import("./scenarios/rollback-probe-fails.json", { with: { type: "json" } }).then((m) => m.default),
  "sriov-vfs": () => import("./scenarios/sriov-vfs.json", { with: { type: "json" } }).then((m) => m.default),
  "vm-holds-device": () =>
    import("./scenarios/vm-holds-device.json", { with: { type: "json" } }).then((m) => m.default),
  "xe-driver-name": () =>
    import("./scenarios/xe-driver-name.json", { with: { type: "json" } }).then((m) => m.default),
};

export const BUNDLED_SCENARIOS = Object.keys(scenarios);

export function bundledScenario(name: string): Promise<unknown> | undefined {
  return Object.hasOwn(scenarios, name) ? scenarios[name]?.() : undefined;
}
