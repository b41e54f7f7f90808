import assert from "node:assert/strict";
import { test } from "node:test";
import { inspect } from "node:util";
import type { Io } from "./io.ts";
import { painter, type Style } from "./style.ts";

const io = (stdoutIsTty: boolean, env: Record<string, string> = {}) => ({ stdoutIsTty, env }) as Io;
const styles: Style[] = ["bold", "dim", "red", "green", "yellow", "cyan"];

test("painter: each style is util.inspect's SGR pair on a terminal (no util.styleText: Node 18 has none)", () => {
  const paint = painter(io(true));
  for (const style of styles) {
    const [open, close] = inspect.colors[style] as [number, number];
    assert.equal(paint(style, "a\u001bb"), `\u001b[${open}ma\\u001bb\u001b[${close}m`);
  }
});

test("painter: plain text in a pipe and with NO_COLOR, escaped all the same", () => {
  for (const plain of [painter(io(false)), painter(io(true, { NO_COLOR: "1" }))]) {
    assert.equal(plain("red", "a\u001bb"), "a\\u001bb");
  }
});
