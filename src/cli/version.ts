// flavourctl's version: package.json's, put into the bundle by scripts/build.mjs; read from
// package.json when running from the sources (tests, tsx).
import { fileURLToPath } from "node:url";
import { readRegularText } from "../safe-read.ts";

declare const FLAVOURCTL_VERSION: string;

export function version(): string {
  return typeof FLAVOURCTL_VERSION !== "undefined"
    ? FLAVOURCTL_VERSION
    : JSON.parse(readRegularText(fileURLToPath(new URL("../../package.json", import.meta.url)), "source"))
        .version;
}
