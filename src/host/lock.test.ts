import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";
import { tempDir } from "../../test/support/tmp.ts";
import { ExitCode, FlavourError } from "../errors.ts";
import { takeLock } from "./lock.ts";

/** A pid that names no process (checked), for a lock whose owner died. */
function deadPid(): number {
  for (let pid = 4_000_000; ; pid--) {
    try {
      process.kill(pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ESRCH") return pid;
    }
  }
}

function runWorker(worker: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    spawn(process.execPath, [worker, ...args], { stdio: "inherit" }).on("close", (code) =>
      resolve(code ?? -1),
    );
  });
}

// A race, so a probabilistic check: the old takeover (read the pid, unlink) let two of six
// processes hold the lock together in about two runs of three here (5 rounds each).
test("processes racing to take over a dead owner's lock never hold it at the same time", async () => {
  const dir = tempDir("lock");
  const worker = join(dir, "worker.mjs");
  buildSync({
    stdin: {
      contents: `
        import { appendFileSync } from "node:fs";
        import { takeLock, sleep } from ${JSON.stringify(fileURLToPath(new URL("lock.ts", import.meta.url)))};
        const [lock, log, startAt] = process.argv.slice(2);
        while (Date.now() < Number(startAt)) {}
        const release = takeLock(lock, 20000);
        appendFileSync(log, "enter\\n");
        sleep(20);
        appendFileSync(log, "exit\\n");
        release();
      `,
      resolveDir: dir,
      loader: "ts",
    },
    bundle: true,
    platform: "node",
    format: "esm",
    outfile: worker,
    logLevel: "error",
  });
  const lock = join(dir, "flavourctl.lock");
  const log = join(dir, "log");
  for (let round = 0; round < 5; round++) {
    writeFileSync(lock, `${deadPid()}\n`);
    writeFileSync(log, "");
    const startAt = String(Date.now() + 250);
    const codes = await Promise.all(Array.from({ length: 6 }, () => runWorker(worker, [lock, log, startAt])));
    assert.deepEqual(codes, [0, 0, 0, 0, 0, 0]);
    const events = readFileSync(log, "utf8").trim().split("\n");
    assert.deepEqual(
      events,
      Array.from({ length: 6 }, () => ["enter", "exit"]).flat(),
      `round ${round}: ${events}`,
    );
  }
});

test("a FIFO or a directory where the lock goes is said at once (exit 2), never read or waited on", () => {
  const dir = tempDir("lock-kinds");
  const fifo = join(dir, "fifo.lock");
  execFileSync("mkfifo", [fifo]);
  const directory = join(dir, "directory.lock");
  mkdirSync(directory);
  for (const path of [fifo, directory]) {
    const started = Date.now();
    assert.throws(
      () => takeLock(path, 5000),
      (error: unknown) =>
        error instanceof FlavourError &&
        error.exitCode === ExitCode.badInput &&
        error.message === `${path}: is not a lock file (a directory, FIFO or device is there); remove it`,
    );
    assert.ok(Date.now() - started < 1000, "said at once, not after the wait");
  }
  assert.ok(statSync(fifo).isFIFO(), "left for root to look at");
});
