// This machine's kmod release, asked of `kmod --version`, or said by FLAVOURCTL_KMOD_RELEASE.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { UsageError } from "../errors.ts";
import { hostKmodRelease } from "./kmod-version.ts";

test("the host's kmod release is kmod --version's; FLAVOURCTL_KMOD_RELEASE says another; a bad value is a usage error naming it", () => {
  const said = execFileSync("kmod", ["--version"], { encoding: "utf8" });
  const release = Number(/^kmod version (\d+)/.exec(said)?.[1]);
  assert.ok(release >= 20, said);
  assert.equal(hostKmodRelease({ PATH: process.env.PATH }), release);
  assert.equal(hostKmodRelease({ FLAVOURCTL_KMOD_RELEASE: "34" }), 34);
  for (const bad of ["", "34.2", "abc", "0", "-1"])
    assert.throws(
      () => hostKmodRelease({ FLAVOURCTL_KMOD_RELEASE: bad }),
      (error: unknown) =>
        error instanceof UsageError && error.message.startsWith(`FLAVOURCTL_KMOD_RELEASE='${bad}'`),
    );
});
