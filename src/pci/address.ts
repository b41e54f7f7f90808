// PCI addresses. An address is the only way a user names a device, and it ends up in sysfs
// paths, so it is validated strictly: nothing but hex digits, colons and one dot get through.
import { UsageError } from "../errors.ts";

/** A normalised address: `dddd:bb:dd.f`, lower-case hex, as sysfs names devices. */
export type PciAddress = string & { readonly __brand: "PciAddress" };

const FULL = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/;
const SHORT = /^([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/;

/** Parses `DDDD:BB:DD.F` or `BB:DD.F` (domain 0000); device 00-1f, function 0-7. */
export function parseAddress(text: string): PciAddress {
  const full = FULL.exec(text);
  const short = full ? undefined : SHORT.exec(text);
  const parts = full ? full.slice(1) : short ? ["0000", ...short.slice(1)] : undefined;
  if (!parts) {
    throw new UsageError(
      `invalid PCI address '${printable(text)}': expected DDDD:BB:DD.F or BB:DD.F (hex), e.g. 0000:3b:00.2`,
    );
  }
  const [domain, bus, device, fn] = parts as [string, string, string, string];
  if (Number.parseInt(device, 16) > 0x1f) {
    throw new UsageError(`invalid PCI address '${text}': device number ${device} is above 1f`);
  }
  return `${domain}:${bus}:${device}.${fn}`.toLowerCase() as PciAddress;
}

/** True when `text` is already a normalised address (as sysfs directory names are). */
export function isAddress(text: string): text is PciAddress {
  return FULL.test(text) && text === text.toLowerCase() && Number.parseInt(text.slice(8, 10), 16) <= 0x1f;
}

/** Compares addresses in bus order (domain, bus, device, function), as the PCI core enumerates. */
export function compareAddresses(a: PciAddress, b: PciAddress): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Shows user text in a message without control characters or unbounded length. */
export function printable(text: string, max = 80): string {
  const cleaned = text.replace(/[^\x20-\x7e]/g, "?");
  return cleaned.length > max ? `${cleaned.slice(0, max)}…` : cleaned;
}
