// The demo machine the export tests share: a state of its own (XDG_STATE_HOME in a temporary
// directory) where set has given flavours the three ways an export meets them — a variant
// by a rule by ids (the ConnectX VFs 0000:01:00.1 and .2 on mlx5_vfio_pci, which migrates), a
// variant by an address rule (virtio-net 0000:03:00.0 on virtio_vfio_pci, which does not on
// 6.12), and vfio-pci itself by an explicit driver (the NVMe 0000:04:00.0).
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { recordingIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { tempDir } from "../support/tmp.ts";

export interface Demo {
  env: Record<string, string>;
  rulesDir: string;
  run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Writes a rule file by hand (a rule set has not applied yet, or a damaged one). */
  rule(name: string, text: string): void;
}

export async function demoMachine(): Promise<Demo> {
  const env = { XDG_STATE_HOME: tempDir("export-state") };
  const rulesDir = join(env.XDG_STATE_HOME, "flavourctl", "machines", "demo", "rules.d");
  const run = async (args: string[]) => {
    const { io, recorded } = recordingIo("", env);
    const code = await main(args, io);
    return { code, ...recorded };
  };
  for (const args of [
    ["set", "0000:01:00.1", "vfio", "--match", "id"],
    ["set", "0000:01:00.2", "vfio", "--match", "id"],
    ["set", "0000:03:00.0", "vfio"],
    ["set", "0000:04:00.0", "--driver", "vfio-pci"],
  ]) {
    const result = await run([...args, "--machine", "demo"]);
    assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
  }
  return {
    env,
    rulesDir,
    run,
    rule: (name, text) => writeFileSync(join(rulesDir, `${name}.rule`), text, { mode: 0o644 }),
  };
}
