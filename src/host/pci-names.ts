// Human names from the PCI ID database (pci.ids, as lspci shows them; pciutils lib/names*.c).
// The file is 1.3 MB and optional: it is read the first time a name is asked for, and names
// are found with native string searches, never by splitting it into lines.
//
// Format (pci.ids header): `vvvv  vendor`, then `\tdddd  device`, `\t\tssss ssss  subsystem`
// lines; classes at the end as `C cc  class`, `\tss  subclass`, `\t\tpp  prog-if`. `#` starts
// a comment line. Ids are lower-case hex.
import { readFileSync } from "node:fs";
import { hex } from "../pci/ids.ts";

export const PCI_IDS_PATHS = ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"];

/** A vendor's or a class's head line name and the lines under it (from the head line's newline on). */
type Block = { name: string; body: string };

/** The start of a line that begins a new vendor or class. */
const NEXT_TOP_LEVEL = /\n[^\t#\n]/g;

export class PciNames {
  private readonly paths: readonly string[];
  private text: string | null | undefined;
  private readonly blocks = new Map<string, Block | null>();

  constructor(paths: readonly string[] = PCI_IDS_PATHS) {
    this.paths = paths;
  }

  /** The database, read on first use; null when no file can be read (names are optional). */
  private data(): string | null {
    if (this.text === undefined) {
      this.text = null;
      for (const path of this.paths) {
        try {
          this.text = readFileSync(path, "latin1");
          break;
        } catch {
          // try the next place
        }
      }
    }
    return this.text;
  }

  /** The top-level line `key  name` and the one-tab lines under it. */
  private block(key: string): Block | null {
    const known = this.blocks.get(key);
    if (known !== undefined) return known;
    const found = this.readBlock(key);
    this.blocks.set(key, found);
    return found;
  }

  /**
   * Finds the block with native string searches only: its head line, and its end (the next
   * line that starts with neither a tab nor `#`). Children are found inside it on demand.
   */
  private readBlock(key: string): Block | null {
    const data = this.data();
    if (data === null) return null;
    const found = data.startsWith(`${key}  `) ? -1 : data.indexOf(`\n${key}  `);
    const head = found + 1;
    if (head === 0 && !data.startsWith(`${key}  `)) return null;
    let lineEnd = data.indexOf("\n", head);
    if (lineEnd < 0) lineEnd = data.length;
    NEXT_TOP_LEVEL.lastIndex = lineEnd;
    const next = NEXT_TOP_LEVEL.exec(data);
    return {
      name: data.slice(head + key.length + 2, lineEnd),
      body: data.slice(lineEnd, next ? next.index : data.length),
    };
  }

  private child(block: Block | null, id: string): string | undefined {
    if (block === null) return undefined;
    const at = block.body.indexOf(`\n\t${id}  `);
    if (at < 0) return undefined;
    const end = block.body.indexOf("\n", at + 1);
    return block.body.slice(at + id.length + 4, end < 0 ? block.body.length : end);
  }

  vendor(vendor: number): string | undefined {
    return this.block(hex(vendor, 4))?.name;
  }

  device(vendor: number, device: number): string | undefined {
    return this.child(this.block(hex(vendor, 4)), hex(device, 4));
  }

  /** The subclass's name (what lspci shows), else the base class's. */
  className(classCode: number): string | undefined {
    const block = this.block(`C ${hex(classCode >> 16, 2)}`);
    return this.child(block, hex((classCode >> 8) & 0xff, 2)) ?? block?.name;
  }
}
