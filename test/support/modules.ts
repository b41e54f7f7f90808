// The real Debian modules fixtures (test/fixtures/modules/<version>/*.gz), unpacked once per
// test process into a temporary directory laid out like /lib/modules/<version>.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { tempDir } from "./tmp.ts";

export const DEBIAN_612 = "6.12.117+deb12-amd64";
export const DEBIAN_61 = "6.1.0-56-amd64";
/** Debian sid's 7.2.13 (linux-base + linux-modules), depmod'd by sid's kmod 34 (test/oracle/fetch-trees.sh). */
export const DEBIAN_72 = "7.2.13+deb14-amd64";
/** The bench guest's modules (Debian 6.12 plus the vfio-pci variants test/kernel/build-variants.sh installs under updates/). */
export const BENCH_MODULES = "6.12.117+deb12-amd64+bench";

const fixtures = new URL("../fixtures/modules/", import.meta.url).pathname;
const unpacked = new Map<string, string>();

export function debianModules(version: string): string {
  const known = unpacked.get(version);
  if (known) return known;
  const dir = tempDir(`modules-${version}`);
  for (const name of readdirSync(join(fixtures, version))) {
    const bytes = readFileSync(join(fixtures, version, name));
    writeFileSync(join(dir, name.replace(/\.gz$/, "")), name.endsWith(".gz") ? gunzipSync(bytes) : bytes);
  }
  unpacked.set(version, dir);
  return dir;
}
