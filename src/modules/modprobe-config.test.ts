// modprobe.d's logical lines as libkmod reads them (libkmod-util.c getline_wrapped): a
// backslash-newline joins two lines, any other backslash is dropped and keeps the character
// after it; a comment goes on past a join. (flavourctl numbers a joined line by its first line.)
import assert from "node:assert/strict";
import { test } from "node:test";
import { emptyConfig, parseConfigText } from "./modprobe-config.ts";

test("backslashes: joined lines, escaped characters, a comment that goes on", () => {
  const config = emptyConfig();
  const text = [
    "alias a\\", // 1: joined with line 2
    "b mod_one",
    "# a comment \\", // 3: goes on into line 4
    "alias hidden mod_hidden",
    "alias c\\d mod_two", // 5
    "alias e\\\\f mod_three", // 6: an escaped backslash
    "",
    "alias g\\", // 8: three lines joined
    "h\\",
    "i mod_four",
    "blacklist nouveau",
    "alias last mod_five", // 12: no newline at the end of the file
  ].join("\n");
  parseConfigText(text, "t.conf", config);
  assert.deepEqual(
    config.aliases.map((a) => [a.pattern, a.module, a.line]),
    [
      ["ab", "mod_one", 1],
      ["cd", "mod_two", 5],
      ["e\\f", "mod_three", 6],
      ["ghi", "mod_four", 8],
      ["last", "mod_five", 12],
    ],
  );
  assert.deepEqual([...config.blacklist], ["nouveau"]);
  assert.deepEqual(config.warnings, []);
});
