// Reading the files of a modules directory. Text is read as latin1 so that every byte is one
// character: libkmod compares bytes, and so must we. A `.gz` twin is read when the plain file
// is absent (the fixtures ship gzipped).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { InputError } from "../errors.ts";

export interface TextFile {
  path: string;
  text: string;
}

/** The file or its .gz twin; undefined when neither exists; InputError when unreadable. */
export function readOptionalText(dir: string, name: string): TextFile | undefined {
  const plain = join(dir, name);
  const plainText = readIfPresent(plain, false);
  if (plainText !== undefined) return { path: plain, text: plainText };
  const zipped = `${plain}.gz`;
  const zippedText = readIfPresent(zipped, true);
  if (zippedText !== undefined) return { path: zipped, text: zippedText };
  return undefined;
}

/** Like readOptionalText, but a missing file is an error naming it. */
export function readRequiredText(dir: string, name: string): TextFile {
  const file = readOptionalText(dir, name);
  if (!file) throw new InputError(`${join(dir, name)}: no such file`);
  return file;
}

function readIfPresent(path: string, gzipped: boolean): string | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new InputError(`${path}: cannot read (${code ?? String(error)})`);
  }
  if (!gzipped) return bytes.toString("latin1");
  try {
    return gunzipSync(bytes).toString("latin1");
  } catch {
    throw new InputError(`${path}: not a valid gzip file`);
  }
}

/** Splits text into lines without the trailing empty piece after a final newline. */
export function lines(text: string): string[] {
  const all = text.split("\n");
  if (all.length > 0 && all[all.length - 1] === "") all.pop();
  return all;
}

/** A bounded, printable excerpt of a bad line for a warning. */
export function excerpt(line: string, max = 60): string {
  const cleaned = line.replace(/[^\x20-\x7e]/g, "?");
  return cleaned.length > max ? `${cleaned.slice(0, max)}… (${line.length} bytes)` : cleaned;
}
