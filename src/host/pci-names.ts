// Human names from the PCI ID database (pci.ids, as lspci shows them; pciutils lib/names*.c).
// The file is 1.3 MB and optional: it is read the first time a name is asked for, and names
// are found with native searches on the bytes (Buffer.indexOf), never by splitting it into lines.
//
// Format (pci.ids header): `vvvv  vendor`, then `\tdddd  device`, `\t\tssss ssss  subsystem`
// lines; classes at the end as `C cc  class`, `\tss  subclass`, `\t\tpp  prog-if`. `#` starts
// a comment line. Ids are lower-case hex. Names are UTF-8.
import { readFileSync } from "node:fs";
import { hex } from "../pci/ids.ts";

export const PCI_IDS_PATHS = ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"];

/** A vendor's or a class's name, and where the lines under it start and end. */
type Block = { name: string; start: number; end: number };

/** The start of a line that begins a new vendor or class. */
const NEXT_TOP_LEVEL = /\n[^\t#\n]/g;

export class PciNames {
  private readonly paths: readonly string[];
  private file: { bytes: Buffer; text: string } | null | undefined;
  private readonly blocks = new Map<string, Block | null>();

  constructor(paths: readonly string[] = PCI_IDS_PATHS) {
    this.paths = paths;
  }

  /** The database, read on first use; null when no file can be read (names are optional). */
  private data(): { bytes: Buffer; text: string } | null {
    if (this.file === undefined) {
      this.file = null;
      for (const path of this.paths) {
        try {
          const bytes = readFileSync(path);
          this.file = { bytes, text: bytes.toString("latin1") };
          break;
        } catch {
          // try the next place
        }
      }
    }
    return this.file;
  }

  /** The top-level line `key  name` and where the lines under it end. */
  private block(key: string): Block | null {
    const known = this.blocks.get(key);
    if (known !== undefined) return known;
    const found = this.readBlock(key);
    this.blocks.set(key, found);
    return found;
  }

  /**
   * Searches the bytes (Buffer.indexOf: about 3x faster than on the string) for the head line,
   * and the text, from there, for the next line that starts with neither a tab nor `#`.
   */
  private readBlock(key: string): Block | null {
    const file = this.data();
    if (file === null) return null;
    // Classes come last in the file: searched from its end.
    const at = file.text.startsWith(`${key}  `)
      ? -1
      : key.startsWith("C ")
        ? file.bytes.lastIndexOf(`\n${key}  `, file.bytes.length, "latin1")
        : file.bytes.indexOf(`\n${key}  `, 0, "latin1");
    if (at < 0 && !file.text.startsWith(`${key}  `)) return null;
    const head = at + 1;
    let lineEnd = file.text.indexOf("\n", head);
    if (lineEnd < 0) lineEnd = file.text.length;
    NEXT_TOP_LEVEL.lastIndex = lineEnd;
    const next = NEXT_TOP_LEVEL.exec(file.text);
    return {
      name: file.bytes.toString("utf8", head + key.length + 2, lineEnd),
      start: lineEnd,
      end: next ? next.index : file.text.length,
    };
  }

  /** The name on the one-tab line `id  name` of a block. */
  private child(block: Block | null, id: string): string | undefined {
    const file = this.file;
    if (block === null || !file) return undefined;
    // Searched within the block only: an id the vendor does not list costs nothing past it.
    const found = file.bytes.subarray(block.start, block.end).indexOf(`\n\t${id}  `, 0, "latin1");
    if (found < 0) return undefined;
    const at = block.start + found;
    const end = file.text.indexOf("\n", at + 1);
    return file.bytes.toString("utf8", at + id.length + 4, end < 0 ? file.text.length : end);
  }

  vendor(vendor: number): string | undefined {
    return this.block(hex(vendor, 4))?.name;
  }

  device(vendor: number, device: number): string | undefined {
    return this.child(this.block(hex(vendor, 4)), hex(device, 4));
  }

  /**
   * The subclass's name, else the base class's with the class number, as lspci names it
   * (pciutils lib/names.c, PCI_LOOKUP_CLASS: "Unclassified device [0002]").
   */
  className(classCode: number): string | undefined {
    const block = this.block(`C ${hex(classCode >> 16, 2)}`);
    const subclass = this.child(block, hex((classCode >> 8) & 0xff, 2));
    return subclass ?? (block ? `${block.name} [${hex(classCode >> 8, 4)}]` : undefined);
  }
}
