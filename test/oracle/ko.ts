// What modpost reads from a kernel module: the PCI id tables behind its
// `__mod_pci__<name>_device_table` symbols (`__mod_device_table__kmod_<modname>__pci__<name>`
// from Linux 6.16, when modpost began writing built-in modules' aliases) and the `.modinfo`
// strings it ends up with. A small
// reader of x86_64 relocatable ELF files (ELF64, little endian), enough for that and no more.
//
// modpost (scripts/mod/file2alias.c, handle_moddevtable) takes every STT_OBJECT symbol named
// __mod_<type>__<name>_device_table that lives in a section, reads st_size bytes of that section
// as they are in the file (no relocation applied: pointers in driver_data stay zero), and writes
// one alias per entry but the last, the terminator. The tables of a module are visited in
// symbol table order.
import type { PciDeviceId } from "../../src/pci/id-entry.ts";

/** sizeof(struct pci_device_id) on x86_64: 6 u32, a u64 driver_data, a u32 override_only, padding. */
export const PCI_DEVICE_ID_SIZE = 40;

const SHT_SYMTAB = 2;
const SHT_NOBITS = 8;
const STT_OBJECT = 1;
const SHN_UNDEF = 0;
const SHN_LORESERVE = 0xff00;

interface Section {
  name: string;
  type: number;
  offset: number;
  size: number;
  link: number;
}

export interface PciTable {
  /** The symbol, e.g. __mod_pci__mlx5vf_pci_table_device_table. */
  symbol: string;
  /** Every entry but the terminator, in table order. */
  entries: PciDeviceId[];
  /** override_only as stored (modpost drops entries whose value is neither 0 nor 1). */
  overrideOnly: number[];
  /** Whether the last entry, the terminator, is all zero bytes. */
  terminated: boolean;
}

export interface KernelModule {
  pciTables: PciTable[];
  /** The `.modinfo` strings (`key=value`), in section order. */
  modinfo: string[];
}

export class ElfError extends Error {}

function cString(bytes: Buffer, offset: number): string {
  const end = bytes.indexOf(0, offset);
  return bytes.toString("latin1", offset, end < 0 ? bytes.length : end);
}

function sections(file: Buffer, path: string): Section[] {
  if (file.length < 64 || file.readUInt32BE(0) !== 0x7f454c46) throw new ElfError(`${path}: not an ELF file`);
  if (file[4] !== 2 || file[5] !== 1) throw new ElfError(`${path}: not a 64-bit little-endian ELF file`);
  const shoff = Number(file.readBigUInt64LE(0x28));
  const shentsize = file.readUInt16LE(0x3a);
  const shnum = file.readUInt16LE(0x3c);
  const shstrndx = file.readUInt16LE(0x3e);
  if (shentsize !== 64 || shoff + shnum * 64 > file.length)
    throw new ElfError(`${path}: bad section header table`);
  const raw = Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * 64;
    return {
      nameOffset: file.readUInt32LE(at),
      type: file.readUInt32LE(at + 4),
      offset: Number(file.readBigUInt64LE(at + 24)),
      size: Number(file.readBigUInt64LE(at + 32)),
      link: file.readUInt32LE(at + 40),
    };
  });
  const names = raw[shstrndx];
  if (!names) throw new ElfError(`${path}: no section name table`);
  return raw.map((s) => ({ ...s, name: cString(file, names.offset + s.nameOffset) }));
}

function pciEntry(bytes: Buffer, at: number): { entry: PciDeviceId; overrideOnly: number } {
  const u32 = (field: number) => bytes.readUInt32LE(at + field * 4);
  const overrideOnly = bytes.readUInt32LE(at + 32);
  return {
    entry: {
      vendor: u32(0),
      device: u32(1),
      subvendor: u32(2),
      subdevice: u32(3),
      classCode: u32(4),
      classMask: u32(5),
      driverData: Number(bytes.readBigUInt64LE(at + 24)),
      overrideOnly: overrideOnly !== 0,
    },
    overrideOnly,
  };
}

/** Reads the PCI id tables and the .modinfo strings of a (decompressed) .ko file. */
export function readKernelModule(file: Buffer, path: string): KernelModule {
  const all = sections(file, path);
  const inFile = (s: Section, offset: number, size: number) => {
    if (offset < 0 || offset + size > s.size || s.offset + offset + size > file.length) {
      throw new ElfError(`${path}: ${s.name}: ${size} bytes at ${offset} lie outside the section`);
    }
    return s.offset + offset;
  };
  const symtab = all.find((s) => s.type === SHT_SYMTAB);
  if (!symtab) throw new ElfError(`${path}: no symbol table`);
  const strtab = all[symtab.link];
  if (!strtab) throw new ElfError(`${path}: the symbol table names no string table`);
  const pciTables: PciTable[] = [];
  for (let at = symtab.offset; at + 24 <= symtab.offset + symtab.size; at += 24) {
    const name = cString(file, strtab.offset + file.readUInt32LE(at));
    if (!isPciTableSymbol(name)) continue;
    const info = file[at + 4] as number;
    const shndx = file.readUInt16LE(at + 6);
    if ((info & 0xf) !== STT_OBJECT || shndx === SHN_UNDEF || shndx >= SHN_LORESERVE) continue;
    const section = all[shndx];
    if (!section) throw new ElfError(`${path}: ${name} lies in section ${shndx}, which does not exist`);
    const value = Number(file.readBigUInt64LE(at + 8));
    const size = Number(file.readBigUInt64LE(at + 16));
    if (size % PCI_DEVICE_ID_SIZE !== 0 || size === 0) {
      throw new ElfError(
        `${path}: ${name} is ${size} bytes, not a whole number of ${PCI_DEVICE_ID_SIZE}-byte entries`,
      );
    }
    // A table of zeros may sit in .bss (SHT_NOBITS): modpost reads it as zeros.
    const bytes =
      section.type === SHT_NOBITS
        ? Buffer.alloc(size)
        : file.subarray(inFile(section, value, size), inFile(section, value, size) + size);
    const table: PciTable = { symbol: name, entries: [], overrideOnly: [], terminated: false };
    for (let e = 0; e + PCI_DEVICE_ID_SIZE < size; e += PCI_DEVICE_ID_SIZE) {
      const { entry, overrideOnly } = pciEntry(bytes, e);
      table.entries.push(entry);
      table.overrideOnly.push(overrideOnly);
    }
    table.terminated = bytes.subarray(size - PCI_DEVICE_ID_SIZE).every((b) => b === 0);
    pciTables.push(table);
  }
  const modinfoSection = all.find((s) => s.name === ".modinfo");
  const modinfo = modinfoSection
    ? file
        .toString("latin1", modinfoSection.offset, modinfoSection.offset + modinfoSection.size)
        .split("\0")
        .filter((record) => record !== "")
    : [];
  return { pciTables, modinfo };
}

/**
 * A PCI MODULE_DEVICE_TABLE symbol, in either naming: `__mod_pci__<name>_device_table` (before
 * 6.16), `__mod_device_table__kmod_<modname>__pci__<name>` (since; file2alias.c
 * handle_moddevtable: the type is the word after the module name).
 */
export function isPciTableSymbol(name: string): boolean {
  if (name.startsWith("__mod_pci__")) return name.endsWith("_device_table");
  if (!name.startsWith("__mod_device_table__")) return false;
  const modname = name.indexOf("__kmod_");
  if (modname < 0) return false;
  const type = name.indexOf("__", modname + "__kmod_".length);
  return type >= 0 && name.startsWith("pci__", type + 2);
}
