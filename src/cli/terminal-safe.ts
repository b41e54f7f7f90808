// Text from trees, pci.ids, machine files and rules reaches a terminal: a driver name or a
// driver_override holding ESC ] (OSC), CSI 2J, a CR or a bidi override could retitle the window,
// clear the screen, overwrite a line or reorder what is read (CVE-2021-42574, "Trojan Source").
// Every character that steers a terminal is written as a \uXXXX escape instead: in text for
// people, and in JSON, where that escape is the same value (JSON.parse gives the character back).

/**
 * C0 controls but tab and newline, DEL, C1 controls, the bidirectional formatting characters
 * (ALM, LRM, RLM, LRE…RLO, LRI…PDI) and the Unicode line and paragraph separators.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is sought
const STEERING = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
/** The same, and tab and newline: a value shown on one line (a table cell, a field). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is sought
const STEERING_IN_VALUE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
/** The same characters as UTF-8 bytes in a byte string (one char per byte: io.out's latin1). */
const STEERING_BYTES =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is sought
  /[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]/g;
/** SGR, as util.styleText writes colour (ESC [ n ; … m): set colours, nothing else. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is sought
const COLOUR = /^\x1b\[[0-9;]{1,16}m/;

const escaped = (char: string) => `\\u${(char.codePointAt(0) as number).toString(16).padStart(4, "0")}`;

/**
 * Output text with its lines kept: what a command prints, as a whole. With `colour` (stdout a
 * terminal that takes colour: style.ts painter) an SGR sequence stays: our own colour, or at
 * worst a colour some value asked for — values are escaped before they are painted or put in
 * a table (safeValue), so only a value printed outside those could, and it can change nothing
 * but colour. `colour` may be a function: asked only when there is an SGR sequence to keep.
 */
export function safeText(text: string, colour: boolean | (() => boolean) = false): string {
  return text.replace(STEERING, (char, at: number) =>
    char === "\x1b" &&
    COLOUR.test(text.slice(at, at + 20)) &&
    (colour === true || (colour !== false && colour()))
      ? char
      : escaped(char),
  );
}

/** A value printed inside a line: a newline or tab in it is escaped too. */
export function safeValue(text: string): string {
  return text.replace(STEERING_IN_VALUE, escaped);
}

/** A line that may hold colour: its newlines and tabs escaped (the rest is safeText's). */
export function oneLine(text: string): string {
  return text.replace(/[\n\t]/g, escaped);
}

/** A byte string of UTF-8 (latin1 output): the same characters, found by their bytes. */
export function safeBytes(bytes: string): string {
  return bytes.replace(STEERING_BYTES, (found) => escaped(Buffer.from(found, "latin1").toString("utf8")));
}
