import assert from "node:assert/strict";
import { test } from "node:test";
import { chunked, writeJson } from "./streamed.ts";

test("chunked: small pieces are joined up to a megabyte; a piece that large goes on alone, after what was pending", () => {
  const flushed: string[] = [];
  const output = chunked((text) => flushed.push(text));
  const big = "x".repeat(1 << 20);
  output.write("a");
  output.write("b");
  assert.deepEqual(flushed, []);
  output.write(big);
  assert.deepEqual(flushed, ["ab", big]);
  output.write("c");
  output.end();
  assert.deepEqual(flushed, ["ab", big, "c"]);
});

test("writeJson: batches of a megabyte and more give JSON.stringify's text, byte for byte", () => {
  const object = {
    items: Array.from({ length: 2500 }, (_, i) => ({ n: i, text: "y".repeat(1000) })),
    count: 2500,
  };
  let text = "";
  const output = chunked((piece) => {
    text += piece;
  });
  writeJson(object, output.write);
  output.end();
  assert.equal(text, JSON.stringify(object, null, 2));
});
