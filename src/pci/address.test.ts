import assert from "node:assert/strict";
import { test } from "node:test";
import { ExitCode, FlavourError } from "../errors.ts";
import { isAddress, parseAddress } from "./address.ts";

test("parseAddress accepts the full and the short form and normalises case", () => {
  assert.equal(parseAddress("0000:3b:00.2"), "0000:3b:00.2");
  assert.equal(parseAddress("0000:3B:1F.7"), "0000:3b:1f.7");
  assert.equal(parseAddress("3b:00.2"), "0000:3b:00.2");
  assert.equal(parseAddress("abcd:ff:00.0"), "abcd:ff:00.0");
});

test("parseAddress rejects anything that could escape a sysfs path, with a usage error", () => {
  for (const bad of [
    "../../etc",
    "0000:3b:00.2/../..",
    "0000:3b:00.8",
    "0000:3b:20.0",
    "00000:3b:00.0",
    "0000:3b:00",
    " 0000:3b:00.0",
    "0000:3b:00.0\n",
    "",
    "0000:3g:00.0",
    "0000:3b:00.0 ",
  ]) {
    assert.throws(
      () => parseAddress(bad),
      (error: unknown) =>
        error instanceof FlavourError &&
        error.exitCode === ExitCode.usage &&
        /invalid PCI address/.test(error.message),
      `accepted ${JSON.stringify(bad)}`,
    );
  }
});

test("isAddress is true only for normalised addresses", () => {
  assert.equal(isAddress("0000:00:1f.2"), true);
  assert.equal(isAddress("0000:00:1F.2"), false);
  assert.equal(isAddress("00:1f.2"), false);
  assert.equal(isAddress(".."), false);
});
