// The one way to read a file (safe-read.ts), on real things: a FIFO with no writer, a link to
// /dev/zero, a directory, sparse files one byte over a limit, /dev/zero's descriptor read to
// its limit, gzip bombs. Every refusal names the path and says what the file is.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { tempDir } from "../test/support/tmp.ts";
import {
  gunzipBounded,
  openRegular,
  READ_LIMITS,
  RefusedFile,
  readOpened,
  readRegularFile,
  readRegularText,
  whyUnreadable,
} from "./safe-read.ts";

function hostileDir(): string {
  const dir = tempDir("safe-read");
  execFileSync("mkfifo", [join(dir, "fifo")]);
  symlinkSync("/dev/zero", join(dir, "zero"));
  mkdirSync(join(dir, "dir"));
  writeFileSync(join(dir, "plain"), "0x8086\n");
  return dir;
}

const refused = (path: string, why: RegExp) => (error: unknown) =>
  error instanceof RefusedFile &&
  error.path === path &&
  why.test(error.why) &&
  error.message.startsWith(path);

test("safe-read: a FIFO and a link to /dev/zero are refused at once, named; /dev/null reads empty", () => {
  const dir = hostileDir();
  for (const read of [
    (p: string) => readRegularText(p, "attribute"),
    (p: string) => readRegularFile(p, "modules"),
    (p: string) => closeSync(openRegular(p, "rule").fd),
  ]) {
    const started = Date.now();
    assert.throws(() => read(join(dir, "fifo")), refused(join(dir, "fifo"), /^a FIFO, not a regular file$/));
    assert.throws(
      () => read(join(dir, "zero")),
      refused(join(dir, "zero"), /^a character device, not a regular file$/),
    );
    assert.ok(Date.now() - started < 1000, "no wait for a writer");
  }
  // the null device is read (empty): a link to it masks a file, `--config /dev/null` is documented
  assert.equal(readRegularText("/dev/null", "rule"), "");
  symlinkSync("/dev/null", join(dir, "masked"));
  assert.equal(readRegularFile(join(dir, "masked"), "config").length, 0);
  assert.throws(() => readRegularText("/dev/full", "rule"), refused("/dev/full", /^a character device/));
});

test("safe-read: a directory still reads as EISDIR; a missing file as ENOENT (callers tell them apart)", () => {
  const dir = hostileDir();
  assert.throws(() => readRegularText(join(dir, "dir"), "rule"), { code: "EISDIR" });
  assert.throws(() => readRegularText(join(dir, "none"), "rule"), { code: "ENOENT" });
  assert.equal(whyUnreadable(Object.assign(new Error("x"), { code: "EACCES" })), "cannot read (EACCES)");
  assert.equal(readRegularText(join(dir, "plain"), "attribute"), "0x8086\n");
  assert.deepEqual(readRegularFile(join(dir, "plain"), "attribute"), Buffer.from("0x8086\n"));
});

test("safe-read: each kind reads up to its limit and refuses one byte more, without reading it", () => {
  const dir = tempDir("safe-read-limits");
  for (const [kind, { limit, what }] of Object.entries(READ_LIMITS) as [
    keyof typeof READ_LIMITS,
    (typeof READ_LIMITS)[keyof typeof READ_LIMITS],
  ][]) {
    const at = join(dir, `${kind}-at`);
    const over = join(dir, `${kind}-over`);
    // sparse: a 256 MiB limit costs no disk
    writeFileSync(at, "");
    truncateSync(at, limit);
    writeFileSync(over, "");
    truncateSync(over, limit + 1);
    if (limit <= 64 * 1024 * 1024) assert.equal(readRegularFile(at, kind).length, limit, kind);
    assert.throws(
      () => readRegularFile(over, kind),
      refused(over, new RegExp(`^larger than \\d+ [KM]iB, the limit for ${what}$`)),
      kind,
    );
    assert.throws(() => openRegular(over, kind), RefusedFile);
  }
  assert.equal(whyUnreadable(new RefusedFile("p", "larger than 64 KiB")), "larger than 64 KiB");
});

test("safe-read: a descriptor whose size says nothing (/dev/zero, a pipe, /proc) is read to the limit, not on", () => {
  const fd = openSync("/dev/zero", "r");
  try {
    const started = process.memoryUsage().arrayBuffers;
    assert.throws(() => readOpened(fd, "/dev/zero", "rule"), refused("/dev/zero", /^larger than 64 KiB/));
    assert.throws(() => readOpened(fd, "/dev/zero", "lock"), refused("/dev/zero", /^larger than 4 KiB/));
    assert.throws(() => readOpened(fd, "/dev/zero", "machine"), refused("/dev/zero", /^larger than 16 MiB/));
    assert.ok(process.memoryUsage().arrayBuffers - started < 64 * 1024 * 1024);
  } finally {
    closeSync(fd);
  }
});

test("safe-read: gzip is inflated up to the kind's limit; a bomb is refused naming the file; damage is zlib's error", () => {
  const limit = READ_LIMITS.rule.limit;
  assert.equal(gunzipBounded(gzipSync(Buffer.alloc(limit)), "r.gz", "rule").length, limit);
  assert.throws(
    () => gunzipBounded(gzipSync(Buffer.alloc(limit + 1)), "r.gz", "rule"),
    refused("r.gz", /^inflates to more than 64 KiB, the limit for a rule file$/),
  );
  // 16 MiB of zeros is 16 KiB of gzip; 512 members of it would inflate to 8 GiB, more than any
  // Buffer can hold: inflated whole, it fails with node's own RangeError, not the refusal —
  // only inflating no further than the limit gives the message below
  const member = gzipSync(Buffer.alloc(16 * 1024 * 1024));
  const bomb = Buffer.concat(Array.from({ length: 512 }, () => member));
  assert.throws(
    () => gunzipBounded(bomb, "modules.alias.gz", "modules"),
    refused("modules.alias.gz", /^inflates to more than 64 MiB, the limit for a modules directory file$/),
  );
  assert.throws(
    () => gunzipBounded(Buffer.from("not gzip"), "x.gz", "modules"),
    (error: unknown) => !(error instanceof RefusedFile) && error instanceof Error,
  );
});
