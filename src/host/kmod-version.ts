// The release of this machine's kmod, for the few answers where libkmod's releases differ
// (modules/kmod-version.ts). Asked only when such an answer is needed — a `*.alias` file in
// modprobe.d — never at start-up: `kmod --version` costs a process (about 2 ms), and the udev
// hook runs at every PCI add event.
import { UsageError } from "../errors.ts";
import { childProcess } from "../lazy-builtins.ts";
import { parseKmodVersion } from "../modules/kmod-version.ts";
import { SBIN_PATH } from "./sysfs-control.ts";

let known: number | null | undefined;

/**
 * `kmod --version`'s release (34 for "kmod version 34.2"); undefined when kmod cannot be run
 * or says something else — the modules directory then tells (depmodRelease).
 * FLAVOURCTL_KMOD_RELEASE=N says it instead (a captured tree judged as another host would).
 */
export function hostKmodRelease(env: Record<string, string | undefined> = process.env): number | undefined {
  const given = env.FLAVOURCTL_KMOD_RELEASE;
  if (given !== undefined) {
    if (!/^[1-9]\d{0,3}$/.test(given))
      throw new UsageError(
        `FLAVOURCTL_KMOD_RELEASE='${given.slice(0, 40)}': not a kmod release (a number: 30, 34)`,
      );
    return Number(given);
  }
  if (known === undefined) {
    const result = childProcess().spawnSync("kmod", ["--version"], {
      encoding: "utf8",
      env: env.PATH ? env : { ...env, PATH: SBIN_PATH },
    });
    known = (result.status === 0 ? parseKmodVersion(result.stdout) : undefined) ?? null;
  }
  return known ?? undefined;
}
