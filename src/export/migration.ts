// Which vfio-pci variant drivers implement live migration: those that set a vfio_device's
// mig_ops and migration_flags (VFIO_MIGRATION_STOP_COPY at least), which VFIO_DEVICE_FEATURE_
// MIGRATION reports to QEMU (vfio_ioctl_device_feature_migration, drivers/vfio/vfio_main.c).
// No sysfs file says it: the driver's source does. Read in linux-source-6.12 (Debian
// 6.12.117) unless said otherwise. A driver sets them only for the devices its firmware lets
// migrate (mlx5: VFs with the migration capabilities; hisi_acc: the VFs of a migration-capable
// PF), so "implements" is what the driver can do, not a promise for every device.
import { isVfioDriver } from "../flavour/vfio-drivers.ts";

export interface MigratingVariant {
  /** The driver's name (pci_driver.name), `-` and `_` alike. */
  driver: string;
  /** The first kernel whose driver implements migration (major.minor). */
  since: string;
  /** Where in the kernel source the driver sets mig_ops. */
  source: string;
}

export const MIGRATING_VARIANTS: readonly MigratingVariant[] = [
  {
    driver: "mlx5_vfio_pci",
    since: "5.18",
    source: "drivers/vfio/pci/mlx5/main.c mlx5vf_pci_mig_ops, set by mlx5vf_cmd_set_migratable (mlx5/cmd.c)",
  },
  {
    driver: "hisi_acc_vfio_pci",
    since: "5.19",
    source:
      "drivers/vfio/pci/hisilicon/hisi_acc_vfio_pci.c hisi_acc_vfio_pci_migrn_state_ops, set by hisi_acc_vfio_pci_migrn_init_dev",
  },
  {
    driver: "pds_vfio_pci",
    since: "6.5",
    source: "drivers/vfio/pci/pds/vfio_dev.c pds_vfio_lm_ops, set by pds_vfio_init_device",
  },
  {
    driver: "qat_vfio_pci",
    since: "6.10",
    source: "drivers/vfio/pci/qat/main.c qat_vf_pci_mig_ops, set by qat_vf_pci_init_dev",
  },
  {
    // 6.12's virtio_vfio_pci has legacy I/O only (virtio/main.c sets no mig_ops)
    driver: "virtio_vfio_pci",
    since: "6.13",
    source: "drivers/vfio/pci/virtio/migrate.c virtvdev_pci_mig_ops, set by virtiovf_set_migratable",
  },
  {
    driver: "xe_vfio_pci",
    since: "6.19",
    source: "drivers/vfio/pci/xe/main.c xe_vfio_pci_migration_ops, set by xe_vfio_pci_migration_init",
  },
];
// Not listed: vfio-pci itself and nvgrace_gpu_vfio_pci (drivers/vfio/pci/nvgrace-gpu/main.c),
// which set no mig_ops in 6.12; a variant not in the table (ism_vfio_pci, unread) counts as not
// migrating.

/** The "major.minor" of a kernel release ("6.12.117+deb12-amd64" → [6, 12]), or null. */
function majorMinor(release: string): [number, number] | null {
  const match = /^(\d+)\.(\d+)/.exec(release);
  return match ? [Number(match[1]), Number(match[2])] : null;
}

/**
 * Whether `driver` implements live migration on kernel `release`. False for any driver not in
 * the table, and for every driver when the release is unknown (null or not a version): saying
 * "yes" for a device that cannot migrate would let a scheduler plan a migration that fails.
 */
export function implementsMigration(driver: string, release: string | null): boolean {
  if (!isVfioDriver(driver) || release === null) return false;
  const kernel = majorMinor(release);
  const name = driver.replaceAll("-", "_");
  const entry = MIGRATING_VARIANTS.find((v) => v.driver === name);
  if (!kernel || !entry) return false;
  const since = majorMinor(entry.since) as [number, number];
  return kernel[0] > since[0] || (kernel[0] === since[0] && kernel[1] >= since[1]);
}
