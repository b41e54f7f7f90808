// flavourctl's version: package.json's, put into the bundle by scripts/build.mjs; read from
// package.json when running from the sources (tests, tsx).
import { readFileSync } from "node:fs";

declare const FLAVOURCTL_VERSION: string;

export function version(): string {
  return typeof FLAVOURCTL_VERSION !== "undefined"
    ? FLAVOURCTL_VERSION
    : JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version;
}
