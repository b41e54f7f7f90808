// lspci (Debian pciutils) as an oracle over a sysfs tree: `lspci -A linux-sysfs -O
// sysfs.path=TREE/bus/pci`. lspci takes its "Kernel modules" from libkmod with the modules
// directory fixed to /lib/modules/$(uname -r) (ls-kernel.c show_kernel_init), which does not
// name our tree (and may not exist). So lspci runs in a private mount namespace (unshare -m,
// mount propagation private) where a tmpfs-backed overlay over the real directory behind
// /lib adds modules/$(uname -r) as a link to the wanted tree. Nothing changes outside that
// namespace, and it disappears with the process. Needs root (CAP_SYS_ADMIN) and overlayfs.
import { execFileSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";
import { type Kmod, oracleTree, sidCommand, sidRoot } from "../oracle/oracle.ts";
import { tempDir } from "./tmp.ts";

/**
 * Whose lspci: this machine's (Debian 12: pciutils 3.9, libkmod 30) or the sid root's
 * (pciutils 3.15, libkmod 34), run here through the root's loader (oracle.ts sidCommand).
 */
export type Pciutils = Kmod;
export const PCIUTILS_NAME: Record<Pciutils, string> = { host: "lspci 3.9", sid: "lspci 3.15" };

const cacheRoot = process.env.FLAVOURCTL_CACHE ?? new URL("../../.cache", import.meta.url).pathname;

/** The oracle's modules tree of VERSION, with the .bin indexes KMOD's depmod wrote; fails when absent. */
export function oracleModules(version: string, kmod: Kmod = "host"): string {
  return oracleTree(version, kmod);
}

/** The QEMU bench guest's own modules tree (test/kernel/build-variants.sh adds the vfio-pci variants and runs depmod). */
export function benchOracleModules(): string {
  const dir = join(cacheRoot, "kernel/root/lib/modules/6.12.117+deb12-amd64");
  if (!existsSync(join(dir, "updates/virtio_vfio_pci.ko")) || !existsSync(join(dir, "modules.alias.bin"))) {
    throw new Error(
      `${dir} lacks updates/virtio_vfio_pci.ko or modules.alias.bin: run 'bash test/kernel/build-variants.sh' (FLAVOURCTL_CACHE=${cacheRoot})`,
    );
  }
  return dir;
}

// bash: the lspci command is N words (a loader, its options and lspci for the sid root's)
const SCRIPT = `set -e
scratch=$1 lib=$2 modules=$3 tree=$4 n=$5; shift 5
lspci=("\${@:1:n}"); shift "$n"
mount -t tmpfs flavourctl-test "$scratch"
mkdir -p "$scratch/upper/modules" "$scratch/work"
ln -s "$modules" "$scratch/upper/modules/$(uname -r)"
mount -t overlay flavourctl-test -o "lowerdir=$lib,upperdir=$scratch/upper,workdir=$scratch/work" "$lib"
exec "\${lspci[@]}" -A linux-sysfs -O "sysfs.path=$tree/bus/pci" "$@"
`;

/** lspci's output for the tree, with /lib/modules/$(uname -r) standing for `modules`. */
export function lspci(tree: string, modules: string, args: string[], pciutils: Pciutils = "host"): string {
  const lib = realpathSync("/lib");
  const command = pciutils === "host" ? ["lspci"] : sidCommand(join(sidRoot(), "usr/bin/lspci"));
  try {
    return execFileSync(
      "unshare",
      [
        "-m",
        "--propagation",
        "private",
        "bash",
        "-c",
        SCRIPT,
        "bash",
        tempDir("lspci-ns"),
        lib,
        modules,
        tree,
        String(command.length),
        ...command,
        ...args,
      ],
      { encoding: "latin1", stdio: ["ignore", "pipe", "pipe"] },
    );
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(
      `lspci in a private mount namespace failed (needs root, unshare, overlayfs and pciutils; kernel ${release()}): ${stderr.trim() || (error as Error).message}`,
    );
  }
}

export interface LspciDevice {
  driver: string | null;
  modules: string[];
}

/** `lspci -k -D` parsed: "Kernel driver in use" and "Kernel modules" of every device. */
export function lspciKernel(
  tree: string,
  modules: string,
  pciutils: Pciutils = "host",
): Map<string, LspciDevice> {
  return parseLspciKernel(lspci(tree, modules, ["-k", "-D", "-n"], pciutils));
}

/** The output of `lspci -k -D -n` parsed (also read inside the QEMU guest). */
export function parseLspciKernel(text: string): Map<string, LspciDevice> {
  const devices = new Map<string, LspciDevice>();
  let current: LspciDevice | undefined;
  for (const line of text.split("\n")) {
    const head = /^([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) /.exec(line);
    if (head) {
      current = { driver: null, modules: [] };
      devices.set(head[1] as string, current);
    } else if (current && line.startsWith("\tKernel driver in use: ")) {
      current.driver = line.slice("\tKernel driver in use: ".length);
    } else if (current && line.startsWith("\tKernel modules: ")) {
      current.modules = line.slice("\tKernel modules: ".length).split(", ");
    }
  }
  return devices;
}
