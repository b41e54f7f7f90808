// Node built-ins that only some commands use, loaded on first use. An import at the top of a
// bundled module is a require() when the bundle starts, and every command pays for it:
// node:child_process alone loads net, dgram and the streams (about 1 ms of start-up), which
// `list`, `show` and the udev hook's common case never use. createRequire works the same from
// the sources (tsx, tests) and from the bundle (scripts/build.mjs defines import.meta.url).
import { createRequire } from "node:module";

const load = createRequire(import.meta.url);

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
