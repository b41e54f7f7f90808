import assert from "node:assert/strict";
import { test } from "node:test";
import { fnmatch } from "./fnmatch.ts";

// Each answer was given by glibc 2.36's fnmatch(pattern, text, 0) through test/oracle's
// fnmatch-ref; test/oracle/fnmatch.test.ts compares on tens of thousands of pairs.
const glibc: [pattern: string, text: string, matches: boolean][] = [
  ["pci:v*d*", "pci:v00001AF4d00001042", true],
  ["a/*", "a/b/c", true], // no FNM_PATHNAME: `*` crosses `/`
  ["*", ".hidden", true], // no FNM_PERIOD
  ["\\*", "*", true],
  ["a\\", "a\\", false], // a trailing backslash never matches
  ["[!a]", "b", true],
  ["[!a]", "a", false],
  ["[^a]", "b", true],
  ["[]a]", "]", true], // `]` first in a set is a member
  ["[!]]", "a", true],
  ["[a-]", "-", true],
  ["[z-a]", "m", false],
  ["[[:digit:]]", "7", true],
  ["[[:nope:]]", "a", false], // an unknown class fails the match
  ["[[=a=]]", "a", true],
  ["[[.a.]-c]", "b", true],
  ["[a", "[a", true], // a set never closed is a literal `[`
  ["[a", "a", false],
  ["x[ab", "x[ab", true],
  ["[\\\\[", "[\\[", true], // even when a member matched before the end (glibc 2.36)
  ["[\\[", "[[", true],
  ["[\xe9]", "\xe9", true], // bytes, C locale
  ["[a-\xff]", "\xe9", true],
];

test("fnmatch gives glibc's answers on the rules that matter", () => {
  for (const [pattern, text, matches] of glibc) {
    assert.equal(
      fnmatch(pattern, text),
      matches,
      `fnmatch(${JSON.stringify(pattern)}, ${JSON.stringify(text)})`,
    );
  }
});
