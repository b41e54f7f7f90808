// The executable's own stdout and stderr (src/cli/io.ts), on the built dist/flavourctl.js: when
// the reader of stdout goes away, a command still runs to its end and exits with its own code,
// quietly — a `set` piped into a reader that quits binds the device all the same.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { builtBundle } from "./support/bundle.ts";
import { tempDir } from "./support/tmp.ts";

/** `flavourctl ARGS | true`: the reader has quit before the command writes (EPIPE). */
function intoClosedPipe(args: string[], env: Record<string, string>) {
  const quoted = args.map((arg) => `'${arg}'`).join(" ");
  const result = spawnSync(
    "bash",
    ["-c", `"$0" "$1" ${quoted} | true; exit "\${PIPESTATUS[0]}"`, process.execPath, builtBundle()],
    {
      encoding: "utf8",
      env: { ...process.env, FLAVOURCTL_INDEX_CACHE: "off", NO_COLOR: "1", ...env },
    },
  );
  return { code: result.status, stderr: result.stderr };
}

test("a closed stdout ends nothing early: set still binds, exit codes and stderr are the command's own", () => {
  const env = { XDG_STATE_HOME: tempDir("closed-stdout-state") };
  const machine = ["--machine", "demo", "--no-save"];
  assert.deepEqual(intoClosedPipe(["list", "--machine", "demo"], env), { code: 0, stderr: "" });
  assert.deepEqual(intoClosedPipe(["set", "0000:03:00.0", "vfio", ...machine], env), { code: 0, stderr: "" });
  const devices = spawnSync(process.execPath, [builtBundle(), "sim", "devices", "demo"], {
    encoding: "utf8",
    env: { ...process.env, FLAVOURCTL_INDEX_CACHE: "off", ...env },
  });
  assert.match(devices.stdout, /0000:03:00\.0 .* virtio_vfio_pci/);
  // an error still says so on stderr, with its exit code
  const refused = intoClosedPipe(["show", "0000:99:00.0", "--machine", "demo"], env);
  assert.equal(refused.code, 64);
  assert.match(refused.stderr, /0000:99:00\.0/);
});

test("an output that cannot be written (a full disk) ends nothing early either, and is said once, exit 2", () => {
  const env = {
    ...process.env,
    FLAVOURCTL_INDEX_CACHE: "off",
    NO_COLOR: "1",
    XDG_STATE_HOME: tempDir("full-state"),
  };
  const intoFull = (args: string[]) =>
    spawnSync("bash", ["-c", 'exec "$@" >/dev/full', "bash", process.execPath, builtBundle(), ...args], {
      encoding: "utf8",
      env,
    });
  const set = intoFull(["set", "0000:03:00.0", "vfio", "--machine", "demo"]);
  assert.equal(set.status, 2);
  assert.equal(
    set.stderr,
    "flavourctl: standard output: cannot write (ENOSPC); the command ran to its end\n",
  );
  const run = (args: string[]) =>
    spawnSync(process.execPath, [builtBundle(), ...args], { encoding: "utf8", env }).stdout;
  assert.match(run(["sim", "devices", "demo"]), /0000:03:00\.0 .* virtio_vfio_pci/);
  assert.match(run(["rules", "--machine", "demo"]), /0000:03:00\.0/, "its rule is saved");
  const help = intoFull(["--help"]);
  assert.equal(help.status, 2);
  assert.match(help.stderr, /^flavourctl: standard output: cannot write \(ENOSPC\)/);
});
