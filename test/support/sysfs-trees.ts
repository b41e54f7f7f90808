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
