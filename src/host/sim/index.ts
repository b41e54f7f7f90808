// Indexes that make matching scale: the kernel walks every registered driver for a new device
// (bus_for_each_drv) and every device for a new driver (bus_for_each_dev), which is fine for
// a real machine's few hundred of each but not for 100,000 devices and 5,000 drivers. The
// walk's ORDER is what the kernel's rules depend on, so candidates come back in list order;
// whether a candidate matches is still decided by pci_match_device (src/pci/id-entry.ts).
import type { PciDeviceId } from "../../pci/id-entry.ts";
import { PCI_ANY_ID, type PciIds } from "../../pci/ids.ts";

const key = (vendor: number, device: number) => vendor * 0x10000 + device;

/** Items keyed by the vendor/device of id entries, each kept with its list position. */
export class IdIndex<T extends { order: number }> {
  private byId = new Map<number, Set<T>>();
  private byVendor = new Map<number, Set<T>>();
  private any = new Set<T>();

  add(item: T, ids: Iterable<PciDeviceId>): void {
    for (const id of ids) this.bucket(id).add(item);
  }

  remove(item: T, ids: Iterable<PciDeviceId>): void {
    for (const id of ids) this.bucket(id).delete(item);
  }

  private bucket(id: PciDeviceId): Set<T> {
    if (id.vendor === PCI_ANY_ID) return this.any;
    const [map, k] =
      id.device === PCI_ANY_ID ? [this.byVendor, id.vendor] : [this.byId, key(id.vendor, id.device)];
    let set = map.get(k);
    if (!set) {
      set = new Set();
      map.set(k, set);
    }
    return set;
  }

  /** Every item with an entry that could match these ids, in list order. */
  candidates(ids: PciIds): T[] {
    const found = new Set<T>(this.any);
    for (const item of this.byVendor.get(ids.vendor) ?? []) found.add(item);
    for (const item of this.byId.get(key(ids.vendor, ids.device)) ?? []) found.add(item);
    const list = [...found];
    if (list.length > 1) list.sort((a, b) => a.order - b.order);
    return list;
  }
}

/** Devices by vendor/device, for a driver's entries: the devices an entry could match, in bus order. */
export class DeviceIndex<T extends { order: number; ids: PciIds }> {
  private byId = new Map<number, Set<T>>();
  private byVendor = new Map<number, Set<T>>();
  readonly all = new Set<T>();

  add(item: T): void {
    this.all.add(item);
    insert(this.byId, key(item.ids.vendor, item.ids.device), item);
    insert(this.byVendor, item.ids.vendor, item);
  }

  remove(item: T): void {
    this.all.delete(item);
    this.byId.get(key(item.ids.vendor, item.ids.device))?.delete(item);
    this.byVendor.get(item.ids.vendor)?.delete(item);
  }

  candidates(ids: Iterable<PciDeviceId>): T[] {
    const found = new Set<T>();
    for (const id of ids) {
      const source =
        id.vendor === PCI_ANY_ID
          ? this.all
          : id.device === PCI_ANY_ID
            ? this.byVendor.get(id.vendor)
            : this.byId.get(key(id.vendor, id.device));
      if (source === this.all) return this.sorted(this.all);
      for (const item of source ?? []) found.add(item);
    }
    return this.sorted(found);
  }

  private sorted(set: Set<T>): T[] {
    const list = [...set];
    if (list.length > 1) list.sort((a, b) => a.order - b.order);
    return list;
  }
}

function insert<T>(map: Map<number, Set<T>>, k: number, item: T): void {
  const set = map.get(k);
  if (set) set.add(item);
  else map.set(k, new Set([item]));
}
