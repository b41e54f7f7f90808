// The input flavourctl's users produce (issue 19): PCI devices asking for their driver (`pci:`)
// and for their vfio flavour (`vfio_pci:`). Half are instances of the tree's pci: and vfio_pci:
// patterns with their wildcards filled at random (the kernel's full-width form), half random
// devices; about a tenth of all carry the `vfio_pci:` prefix. Generated afresh from a seed.
import { canonicalInstance, createRng, type ModulesTree, type Rng } from "./generate.ts";

const HEX = "0123456789ABCDEF";

function hex(rng: Rng, digits: number): string {
  let out = "";
  for (let i = 0; i < digits; i++) out += HEX[rng.int(16)];
  return out;
}

/** A random device in the kernel's modalias form (pci_uevent's format, drivers/pci/pci-driver.c). */
function randomDevice(rng: Rng): string {
  return `pci:v0000${hex(rng, 4)}d0000${hex(rng, 4)}sv0000${hex(rng, 4)}sd0000${hex(rng, 4)}bc${hex(rng, 2)}sc${hex(rng, 2)}i${hex(rng, 2)}`;
}

export function generatePciNames(tree: ModulesTree, options: { count: number; seed: number }): string[] {
  const rng = createRng(options.seed);
  const patterns = tree.aliases.map((a) => a.pattern).filter((p) => /^(vfio_)?pci:/.test(p));
  if (patterns.length === 0) throw new Error("the tree has no pci: or vfio_pci: alias");
  const names: string[] = [];
  while (names.length < options.count) {
    let name: string | undefined;
    if (rng.chance(0.5)) name = canonicalInstance(rng.pick(patterns), rng);
    name ??= randomDevice(rng);
    const asVfio = rng.chance(0.1);
    names.push(asVfio ? name.replace(/^(vfio_)?pci:/, "vfio_pci:") : name.replace(/^vfio_pci:/, "pci:"));
  }
  return names;
}
