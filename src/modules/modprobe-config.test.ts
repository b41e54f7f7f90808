// modprobe.d's logical lines as libkmod reads them (libkmod-util.c getline_wrapped): a
// backslash-newline joins two lines, any other backslash is dropped and keeps the character
// after it; a comment goes on past a join. (flavourctl numbers a joined line by its first line.)
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
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
  parseConfigText(text, "t.conf", config, () => assert.fail("no line asks which kmod reads it"));
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

for (const [release, tail] of [
  [30, "mod_three\xff"],
  [33, "mod_three\xff"],
  [34, "mod_three"],
] as const)
  test(`as kmod ${release} reads them: a NUL ends the line; a backslash at the end of the file keeps EOF as 0xff before kmod 34, is dropped since`, () => {
    const config = emptyConfig();
    parseConfigText(
      "alias cut\0 mod_one\nalias whole mod_two\nalias tail mod_three\\",
      "t.conf",
      config,
      () => release,
    );
    // getline_wrapped's line is parsed as a C string: `alias cut` has no module, a bad line
    assert.deepEqual(
      config.aliases.map((a) => [a.pattern, a.module]),
      [
        ["whole", "mod_two"],
        ["tail", tail],
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
    () => 30,
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

test("files: *.alias is read as kmod 32 and before read it, and left out, said, as kmod 33 and later leave it", () => {
  const root = tempDir("modprobe-alias-files");
  mkdirSync(join(root, "etc"), { recursive: true });
  writeFileSync(join(root, "etc/old.alias"), "alias from-dot-alias e1000e\n");
  writeFileSync(join(root, "etc/new.conf"), "blacklist nouveau\n");
  let asked = 0;
  const list = (reads: boolean) => {
    const warnings: string[] = [];
    const files = listConfigFiles(join(root, "modules"), [join(root, "etc")], warnings, () => {
      asked++;
      return reads ? 32 : 33;
    });
    return { files: files.map((f) => f.slice(root.length + 1)), warnings };
  };
  // sorted by file name, as libkmod reads them
  assert.deepEqual(list(true), {
    files: ["modules/modules.softdep", "etc/new.conf", "etc/old.alias"],
    warnings: [],
  });
  assert.deepEqual(list(false), {
    files: ["modules/modules.softdep", "etc/new.conf"],
    warnings: [`${join(root, "etc/old.alias")}: not read: kmod 33 and later read only *.conf files`],
  });
  assert.equal(asked, 2, "asked once per listing, for the *.alias file");
  rmSync(join(root, "etc/old.alias"));
  asked = 0;
  list(false);
  assert.equal(asked, 0, "not asked when no *.alias file is there");
});
