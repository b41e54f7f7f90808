// Node built-ins that only some commands use, loaded on first use. An import at the top of a
// bundled module is a require() when the bundle starts, and every command pays for it:
// node:child_process alone loads net, dgram and the streams (about 1 ms of start-up), which
// `list`, `show` and the udev hook's common case never use.
//
// In the bundle (scripts/build.mjs defines FLAVOURCTL_BUNDLED) the loader is the CommonJS
// wrapper's own require, and esbuild drops the unused node:module import (loading it costs
// 0.2 ms, 0.7 ms in the hook's --jitless node); from the sources (tsx, tests, ES modules), one
// made by createRequire.
import { createRequire } from "node:module";

declare const FLAVOURCTL_BUNDLED: boolean;
const load: NodeJS.Require =
  typeof FLAVOURCTL_BUNDLED !== "undefined" ? require : createRequire(import.meta.url);

/** node:child_process, for running modprobe. */
export function childProcess(): typeof import("node:child_process") {
  return load("node:child_process");
}

/** node:zlib, for the `.gz` files of a modules directory or a kernel tree. */
export function zlib(): typeof import("node:zlib") {
  return load("node:zlib");
}

/** node:tty, to ask whether a character device is a terminal (cli/io.ts). */
export function tty(): typeof import("node:tty") {
  return load("node:tty");
}

/** node:os, for the running kernel's release (the default modules directory). */
export function os(): typeof import("node:os") {
  return load("node:os");
}

/** node:v8, to set a V8 flag for the rest of the process (cli/late-optimisation.ts). */
export function v8(): typeof import("node:v8") {
  return load("node:v8");
}
