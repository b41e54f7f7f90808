// Standard input line by line through one buffer: lines across the buffer's refills, a long
// line that grows it, a last line without its newline, and the limit.
import assert from "node:assert/strict";
import { test } from "node:test";
import { RefusedFile } from "../safe-read.ts";
import { recordingIo } from "./io.ts";
import { LINE_LIMIT, StdinLines } from "./stdin-lines.ts";

function linesOf(stdin: string): string[] {
  const lines = new StdinLines(recordingIo(stdin).io);
  const found: string[] = [];
  while (lines.advance()) {
    found.push(Buffer.from(lines.bytes.subarray(lines.start, lines.end)).toString("latin1"));
    assert.equal(lines.number, found.length);
  }
  return found;
}

test("stdin lines: as split on newlines, across refills of the buffer and a line longer than it", () => {
  const lines: string[] = [];
  for (let n = 0; n < 20_000; n++) lines.push("x".repeat(n % 97) + String(n));
  lines.splice(5000, 0, "y".repeat(3 << 20)); // longer than the first buffer: it grows
  lines.splice(7000, 0, "", "", "\r", "a\0b");
  assert.deepEqual(linesOf(`${lines.join("\n")}\n`), lines);
  assert.deepEqual(linesOf(lines.join("\n")), lines, "a last line without its newline");
  assert.deepEqual(linesOf(""), []);
  assert.deepEqual(linesOf("\n\n"), ["", ""]);
});

test(`stdin lines: a line longer than ${LINE_LIMIT >> 20} MiB is refused, naming its number`, () => {
  const stdin = `short\n${"z".repeat(LINE_LIMIT + 1)}\n`;
  const lines = new StdinLines(recordingIo(stdin).io);
  assert.ok(lines.advance());
  assert.throws(
    () => lines.advance(),
    (error: unknown) =>
      error instanceof RefusedFile &&
      error.message === `<stdin>: line 2: larger than 16 MiB, the limit for a line of standard input`,
  );
  // a line of exactly the limit is read, with its newline or without
  for (const end of ["\n", ""]) {
    const exact = new StdinLines(recordingIo(`${"z".repeat(LINE_LIMIT)}${end}`).io);
    assert.ok(exact.advance());
    assert.equal(exact.end - exact.start, LINE_LIMIT);
    assert.equal(exact.advance(), false);
  }
  // one byte more, as the last line too
  assert.throws(() => new StdinLines(recordingIo("z".repeat(LINE_LIMIT + 1)).io).advance(), RefusedFile);
});
