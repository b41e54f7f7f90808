// The few attributes `upgrade` needs of each PCI device (address, modalias, bound driver),
// read from a sysfs tree (/sys or a captured copy). A stand-in until the Host's sysfs reader
// (host/sysfs.ts, Host.devices() + Host.device()) lands: the same fields, the same paths.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { basename, join } from "node:path";
import { InputError } from "../errors.ts";
import { compareAddresses, isAddress, type PciAddress } from "../pci/address.ts";

export interface PresentDevice {
  address: PciAddress;
  /** The `modalias` attribute (pci-sysfs.c modalias_show). */
  modalias: string;
  /** The bound driver's name (last component of the `driver` link); null when unbound. */
  driver: string | null;
}

/** Every device of ROOT/bus/pci/devices, in bus order; entries that are not addresses are skipped. */
export function presentDevices(root: string): PresentDevice[] {
  const dir = join(root, "bus/pci/devices");
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw new InputError(`${dir}: cannot read (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
  const addresses = names.filter(isAddress).sort(compareAddresses);
  return addresses.map((address) => {
    const path = join(dir, address);
    let modalias: string;
    try {
      modalias = readFileSync(join(path, "modalias"), "latin1").trim();
    } catch {
      throw new InputError(`${join(path, "modalias")}: cannot read`);
    }
    let driver: string | null = null;
    try {
      driver = basename(readlinkSync(join(path, "driver")));
    } catch {
      driver = null;
    }
    return { address, modalias, driver };
  });
}
