// Where libkmod's answers depend on kmod's release, and how the release is known. flavourctl
// follows the kmod the host has: the host layer says which (host/kmod-version.ts runs
// `kmod --version`), and only when an answer depends on it; without that, the modules
// directory itself tells which depmod wrote it.
import { statSync } from "node:fs";
import { join } from "node:path";

/**
 * kmod 33 (libkmod-config.c conf_files_filter_out; kmod commit 29cc8c2) reads only `*.conf`
 * files in modprobe.d directories; kmod 32 and before also read `*.alias`.
 */
export const KMOD_WITHOUT_ALIAS_FILES = 33;

/**
 * kmod 34 (shared/util.c freadline_wrapped; kmod commit 7805c95): a backslash at the very end
 * of a modprobe.d file is dropped; before, getc's EOF after it was kept as a byte 0xff.
 */
export const KMOD_EOF_AFTER_BACKSLASH_DROPPED = 34;

/** The release in `kmod --version`'s first line ("kmod version 34.2" → 34), or undefined. */
export function parseKmodVersion(text: string): number | undefined {
  const match = /^kmod version (\d+)(?:\.\d+)*\s*$/m.exec(text.split("\n", 1)[0] ?? "");
  return match ? Number(match[1]) : undefined;
}

/**
 * The release of the depmod that wrote DIR, as far as it matters here: depmod 33 and later
 * always write modules.weakdep (depmod.c depfiles[], even when no module has a weak
 * dependency), older ones never do. 33 when the file is there, 32 when not.
 */
export function depmodRelease(dir: string): number {
  return statSync(join(dir, "modules.weakdep"), { throwIfNoEntry: false }) ? 33 : 32;
}
