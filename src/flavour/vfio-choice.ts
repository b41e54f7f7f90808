// The vfio flavour of a device: which vfio-pci variant driver (or vfio-pci itself) should
// drive it. The rule the kernel documented with the variants (commit cc6711b0bf36): look up
// the device's modalias with the `vfio_` prefix and take the match with the fewest
// wildcards. libvirt (virPCIDeviceFindBestVFIOVariant) counts wildcards and keeps the first
// on a tie; we rank the same way but never break a tie silently.
import { isBuiltInStage, type LookupMatch, lookup } from "../modules/lookup.ts";
import type { ModulesDir } from "../modules/modules-dir.ts";
import { flavouredModalias } from "../pci/modalias.ts";

export interface VfioCandidate {
  module: string;
  pattern: string;
  /** Fields left to `*` (v, d, sv, sd, bc, sc, i); for non-PCI-shaped patterns, `*`/`?` count. */
  wildcards: number;
  file?: string;
  line?: number;
}

export interface VfioChoice {
  /** The module to load, or null when nothing in the modules tree names one. */
  module: string | null;
  /** Every module whose vfio_pci pattern matches, best first. */
  candidates: VfioCandidate[];
  /** Set when the best rank is shared by different modules: the caller must not pick silently. */
  tie?: string[];
  /**
   * The candidates are drivers built into the kernel: their aliases came from
   * modules.builtin.modinfo (Linux 6.18+, modules.builtin.alias.bin), none is a module to load.
   */
  builtIn: boolean;
  reason: string;
}

/** The module vfio-pci itself lives in, the fallback when no variant matches. */
export const GENERIC_VFIO_MODULE = "vfio_pci";

const PCI_FIELDS = /^vfio_pci:v(.{8}|\*)d(.{8}|\*)sv(.{8}|\*)sd(.{8}|\*)bc(..|\*)sc(..|\*)i(?:(..)\*|\*)$/;

export function wildcardCount(pattern: string): number {
  const fields = PCI_FIELDS.exec(pattern);
  if (fields) return fields.slice(1).filter((f) => f === undefined || f === "*").length;
  return (pattern.match(/[*?]/g) ?? []).length;
}

export function chooseVfio(dir: ModulesDir, modalias: string): VfioChoice {
  const flavoured = flavouredModalias(modalias);
  const result = lookup(dir, flavoured);
  const builtIn = isBuiltInStage(result.stage);
  const inKernel = builtIn ? " (built into the kernel: nothing to load)" : "";
  const seen = new Set<string>();
  const candidates = result.matches
    .map(toCandidate)
    .filter((c): c is VfioCandidate => c !== undefined)
    .sort((a, b) => a.wildcards - b.wildcards)
    // one row per module: its most specific pattern
    .filter((c) => !seen.has(c.module) && seen.add(c.module));
  const best = candidates[0];
  if (!best) {
    return {
      module: null,
      candidates,
      builtIn,
      reason: `no module in ${dir.path} has a pattern matching ${flavoured}: fall back to the vfio-pci driver by name`,
    };
  }
  const tied = candidates.filter((c) => c.wildcards === best.wildcards).map((c) => c.module);
  if (tied.length > 1) {
    return {
      module: null,
      candidates,
      tie: tied,
      builtIn,
      reason: `${tied.join(" and ")} match ${flavoured} equally well (${best.wildcards} wildcard fields)${inKernel}: choose one with --driver`,
    };
  }
  const runnerUp = candidates[1];
  const why =
    best.module === GENERIC_VFIO_MODULE
      ? "no variant driver matches; generic vfio-pci"
      : `variant ${best.module} matches with ${best.wildcards} wildcard field${best.wildcards === 1 ? "" : "s"}` +
        (runnerUp ? `, fewer than ${runnerUp.module} (${runnerUp.wildcards})` : "");
  return { module: best.module, candidates, builtIn, reason: `${why}${inKernel}` };
}

function toCandidate(match: LookupMatch): VfioCandidate | undefined {
  const pattern = match.alias?.pattern ?? match.config?.pattern;
  if (pattern === undefined) return { module: match.module, pattern: match.module, wildcards: 0 };
  const source = match.alias ?? match.config;
  return {
    module: match.module,
    pattern,
    wildcards: wildcardCount(pattern),
    file: source?.file,
    // An alias line's number costs a pass over the whole file (AliasFile.lineAt): only on demand.
    get line() {
      return source?.line;
    },
  };
}
