// Colour for people at a terminal, never in pipes or files, never with NO_COLOR
// (https://no-color.org: set and not empty). Decided from the command's Io, so tests and
// redirected output get plain text.
import { colourOn, type Io } from "./io.ts";
import { safeValue } from "./terminal-safe.ts";

// The SGR pairs util.inspect.colors has (and util.styleText writes), here because styleText
// came in Node 20.12: Debian 12's node 18 has none.
const SGR = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
} as const;

export type Style = keyof typeof SGR;
export type Paint = (style: Style, text: string) => string;

/** Paints a value: escaped first (terminal-safe.ts), so the only escape sequences are the colour's. */
export function painter(io: Io): Paint {
  return colourOn(io)
    ? (style, text) => `\u001b[${SGR[style][0]}m${safeValue(text)}\u001b[${SGR[style][1]}m`
    : (_style, text) => safeValue(text);
}

/**
 * Rows aligned in columns of the widest cell (measured before painting); the last
 * column is not padded. Each row is [cell, style?] pairs.
 */
export function table(rows: (readonly [string, Style?])[][], paint: Paint): string {
  // a cell is one line of plain text: anything that would steer the terminal is escaped first
  rows = rows.map((row) =>
    row.map((cell) => (cell[0] === safeValue(cell[0]) ? cell : [safeValue(cell[0]), cell[1]])),
  );
  const widths: number[] = [];
  // cells taken by index: destructuring a pair runs the iterator protocol (list's table is
  // built once per process, by code V8 has not optimised)
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell[0].length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => {
          const padding = i === row.length - 1 ? "" : " ".repeat((widths[i] as number) - cell[0].length);
          return (cell[1] ? paint(cell[1], cell[0]) : cell[0]) + padding;
        })
        .join("  ")
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join("");
}
