// The captured sysfs fixtures (test/fixtures/sysfs/NAME.tar.gz, byte-identical copies of the
// real captures), unpacked once per test process. The tarballs are the reference: git cannot
// hold the empty directories of a tree (a driver with no device bound, an empty
// kernel/iommu_groups), so the extracted copies beside them lack those.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { tempDir } from "./tmp.ts";

export const SYSFS_FIXTURES = {
  /** A real Linux 6.12 (Debian) under QEMU q35: 25 devices, IOMMU groups, an NVMe PF with 2 VFs, a PCIe switch. */
  q35: "q35-linux6.12-sriov",
  /**
   * The real-kernel bench's guest (test/kernel/run.sh, Debian 6.12 under QEMU q35), captured
   * inside it by `flavourctl snapshot` (test/kernel/guest/7-snapshot.test.ts): 26 devices, two
   * e1000e, an NVMe PF with SR-IOV, virtio-net/blk/rng, a PCIe switch, a PCIe-to-PCI bridge.
   * Read with the guest's modules (BENCH_MODULES), which add the vfio-pci variants' aliases.
   */
  bench: "q35-linux6.12-bench",
  /** A Firecracker microVM on Linux 6.18: virtio devices, no IOMMU. */
  firecracker: "firecracker-linux6.18",
} as const;

const fixtures = new URL("../fixtures/sysfs/", import.meta.url).pathname;
const unpacked = new Map<string, string>();

/** The unpacked tree of a fixture: the directory to pass as --sysfs. */
export function sysfsTree(name: string): string {
  const known = unpacked.get(name);
  if (known) return known;
  const dir = tempDir(`sysfs-${name}`);
  execFileSync("tar", ["-xzf", join(fixtures, `${name}.tar.gz`), "-C", dir]);
  const tree = join(dir, name);
  unpacked.set(name, tree);
  return tree;
}
