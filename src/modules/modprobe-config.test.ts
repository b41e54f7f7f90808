// modprobe.d's logical lines as libkmod reads them (libkmod-util.c getline_wrapped): a
// backslash-newline joins two lines, any other backslash is dropped and keeps the character
// after it; a comment goes on past a join. (flavourctl numbers a joined line by its first line.)
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { tempDir } from "../../test/support/tmp.ts";
import { emptyConfig, listConfigFiles, parseConfigText } from "./modprobe-config.ts";

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

test("as libkmod 30 reads them: a NUL ends the line, a backslash at the end of the file keeps EOF as 0xff", () => {
  const config = emptyConfig();
  parseConfigText("alias cut\0 mod_one\nalias whole mod_two\nalias tail mod_three\\", "t.conf", config);
  // getline_wrapped's line is parsed as a C string: `alias cut` has no module, a bad line
  assert.deepEqual(
    config.aliases.map((a) => [a.pattern, a.module]),
    [
      ["whole", "mod_two"],
      ["tail", "mod_three\xff"],
    ],
  );
  assert.deepEqual(config.warnings, ["t.conf:1: ignoring bad line starting with 'alias'"]);
});

test("files: a directory named *.conf is left out and takes no name; a path that is no file nor directory is skipped", () => {
  const root = tempDir("modprobe-files");
  for (const dir of ["etc", "lib", "etc/dir.conf"]) mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, "lib/dir.conf"), "alias from-lib e1000e\n");
  writeFileSync(join(root, "etc/a.conf"), "blacklist nouveau\n");
  const warnings: string[] = [];
  const files = listConfigFiles(
    join(root, "modules"),
    ["/dev/null", join(root, "etc"), join(root, "lib")],
    warnings,
  );
  assert.deepEqual(files, [
    join(root, "etc/a.conf"),
    join(root, "lib/dir.conf"),
    join(root, "modules/modules.softdep"),
  ]);
  assert.deepEqual(warnings, [
    `${join(root, "etc/dir.conf")}: a directory inside a configuration directory, ignored`,
  ]);
});
