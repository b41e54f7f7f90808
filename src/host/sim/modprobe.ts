// Userspace modprobe on the simulated kernel: names and modaliases resolved by the real lookup
// core (src/modules/lookup.ts, libkmod's stages) on the machine's modules tree; the modprobe.d
// blacklist (kmod_module_apply_filter); softdep pre/post (src/modules/softdep.ts) and modules.dep dependencies loaded
// first (kmod_module_probe_insert_module); each module inserted into the simulated kernel.
import { type LookupResult, lookup } from "../../modules/lookup.ts";
import type { ModulesDir } from "../../modules/modules-dir.ts";
import { softdeps } from "../../modules/softdep.ts";
import { KernelError, type SimKernel } from "./kernel.ts";

export interface ModprobeRun {
  ok: boolean;
  message: string;
  /** Modules inserted by this run, in order. */
  inserted: string[];
}

export class SimModprobe {
  private readonly kernel: SimKernel;
  private readonly modules: ModulesDir;
  private readonly answers = new Map<string, LookupResult>();

  constructor(kernel: SimKernel, modules: ModulesDir) {
    this.kernel = kernel;
    this.modules = modules;
  }

  private say(text: string): void {
    this.kernel.trace.push({ t: ++this.kernel.now, source: "modprobe", text });
  }

  /**
   * `modprobe [-b] NAME`: every module the name resolves to. The blacklist always filters
   * what an alias resolved to; with -b (udev's kmod builtin, flavourctl) it also stops a
   * module named directly, and such a run exits 0 having loaded nothing.
   */
  run(name: string, options: { blacklist: boolean }): ModprobeRun {
    const inserted: string[] = [];
    const found = this.lookup(name);
    const version = this.modules.path;
    if (found.stage === null) {
      const message = `modprobe: FATAL: Module ${name} not found in directory ${version}`;
      if (!name.includes(":")) this.say(message);
      else this.say(`modprobe -b ${name}: no module matches`);
      return { ok: name.includes(":"), message, inserted }; // an unmatched alias is not an error for udev
    }
    const byAlias = found.stage !== "module name" && found.stage !== "built-in module";
    const blacklist = this.modules.config.blacklist;
    const names = [...new Set(found.matches.map((m) => m.module))];
    this.say(
      `${options.blacklist ? "modprobe -b" : "modprobe"} ${name}: ${found.stage} → ${names.join(" ")}`,
    );
    let failure: string | undefined;
    for (const module of names) {
      if (blacklist.has(module) && (byAlias || options.blacklist)) {
        this.say(`${module}: blacklisted in modprobe.d, not loaded`);
        continue;
      }
      const error = this.insertWithDependencies(module, inserted, new Set());
      failure ??= error;
    }
    return failure ? { ok: false, message: failure, inserted } : { ok: true, message: "", inserted };
  }

  /** The lookup core's answer; the modules tree never changes under a machine, so it is kept. */
  private lookup(name: string): LookupResult {
    let found = this.answers.get(name);
    if (!found) {
      found = lookup(this.modules, name);
      this.answers.set(name, found);
    }
    return found;
  }

  /** softdep pre:, modules.dep, the module, softdep post: (libkmod's probe order). */
  private insertWithDependencies(module: string, inserted: string[], seen: Set<string>): string | undefined {
    if (seen.has(module)) return undefined;
    seen.add(module);
    const state = this.kernel.modules.get(module);
    if (state?.loaded) return undefined;
    if (this.kernel.faults.fire("module-missing", (f) => f.module === module) || !state) {
      const message = `modprobe: FATAL: Module ${module} not found in directory ${this.modules.path}`;
      this.say(message);
      return message;
    }
    const soft = softdeps(this.modules, module);
    for (const pre of soft.pre) this.insertWithDependencies(pre, inserted, seen);
    for (const dep of state.spec.depends) {
      const error = this.insertWithDependencies(dep, inserted, seen);
      if (error) return error;
    }
    try {
      this.say(`insmod ${this.modules.path}/kernel/sim/${module}.ko`);
      this.kernel.loadModule(module);
      inserted.push(module);
    } catch (error) {
      if (!(error instanceof KernelError)) throw error;
      const message = `modprobe: ERROR: could not insert '${module}': ${error.message.replace(/^.*?: \w+ \((.*)\)$/, "$1")}`;
      this.say(message);
      return message;
    }
    for (const post of soft.post) this.insertWithDependencies(post, inserted, seen);
    return undefined;
  }

  /** `modprobe -r MODULE`. */
  remove(module: string): ModprobeRun {
    this.say(`modprobe -r ${module}`);
    try {
      this.kernel.unloadModule(module);
      return { ok: true, message: "", inserted: [] };
    } catch (error) {
      if (!(error instanceof KernelError)) throw error;
      const message = `modprobe: FATAL: ${error.message}`;
      this.say(message);
      return { ok: false, message, inserted: [] };
    }
  }
}
