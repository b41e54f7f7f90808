// One modules directory (/lib/modules/<version> or --modules DIR) and the configuration that
// goes with it. Each file is read the first time a lookup needs it, so a PCI lookup never
// pays for modules.dep or modules.builtin (names with a `:` are never module names).
import { join } from "node:path";
import { InputError } from "../errors.ts";
import { cachedPrefixes } from "./alias-cache.ts";
import { AliasFile, AliasList, parseBuiltinModinfo } from "./alias-file.ts";
import { AliasIndex } from "./alias-index.ts";
import {
  lines,
  openOptionalText,
  readOptionalText,
  readRequiredText,
  type TextFile,
  UnreadableFile,
} from "./files.ts";
import { depmodRelease } from "./kmod-version.ts";
import {
  DEFAULT_CONFIG_PATHS,
  emptyConfig,
  loadConfig,
  type ModprobeConfig,
  parseConfigText,
} from "./modprobe-config.ts";
import { moduleNameFromPath } from "./normalize.ts";

export interface ModulesDirOptions {
  /** modprobe.d search path; default libkmod's. */
  configPaths?: readonly string[];
  /**
   * The directory's files held in memory, by name (the simulated kernel's modules tree): no
   * file is read from disk, and modprobe.d is the entries named `modprobe.d/*.conf`.
   */
  files?: ReadonlyMap<string, string>;
  /** Where the scan of modules.alias is kept between commands (alias-cache.ts); none: no cache. */
  cacheDir?: string;
  /**
   * The release of the kmod whose answers to follow (kmod-version.ts), asked only when an
   * answer depends on it; undefined (or no function): the release of the depmod that wrote
   * this directory (depmodRelease).
   */
  kmodRelease?: () => number | undefined;
}

export class ModulesDir {
  readonly path: string;
  /** Malformed lines met so far, each naming its file and line. */
  readonly warnings: string[] = [];
  private readonly configPaths: readonly string[];
  private readonly files: ReadonlyMap<string, string> | undefined;
  private readonly cacheDir: string | undefined;
  private readonly askKmodRelease: (() => number | undefined) | undefined;
  private kmodReleaseKnown: number | undefined;

  constructor(path: string, options: ModulesDirOptions = {}) {
    this.path = path;
    this.configPaths = options.configPaths ?? DEFAULT_CONFIG_PATHS;
    this.files = options.files;
    this.cacheDir = options.cacheDir;
    this.askKmodRelease = options.kmodRelease;
  }

  /** The kmod release followed where libkmod's answers differ (ModulesDirOptions.kmodRelease). */
  get kmodRelease(): number {
    this.kmodReleaseKnown ??=
      this.askKmodRelease?.() ??
      (this.files ? (this.files.has("modules.weakdep") ? 33 : 32) : depmodRelease(this.path));
    return this.kmodReleaseKnown;
  }

  /**
   * An optional file, or undefined when absent — or unreadable: libkmod ignores an index it
   * cannot open (__kmod_module_new_from_lookup goes on past -ENOSYS), so that is a warning.
   */
  private optional(name: string): TextFile | undefined {
    if (!this.files) {
      try {
        return readOptionalText(this.path, name);
      } catch (error) {
        if (!(error instanceof UnreadableFile)) throw error;
        this.warnings.push(`${error.message}; ignored, as libkmod does`);
        return undefined;
      }
    }
    const text = this.files.get(name);
    return text === undefined ? undefined : { path: join(this.path, name), text };
  }

  /** modules.alias from disk, read lazily (LazyTextFile). */
  private lazyRequired(): TextFile {
    const file = openOptionalText(this.path, "modules.alias");
    if (!file) throw new InputError(`${join(this.path, "modules.alias")}: no such file`);
    return file;
  }

  private required(name: string): TextFile {
    if (!this.files) return readRequiredText(this.path, name);
    const file = this.optional(name);
    if (!file) throw new InputError(`${join(this.path, name)}: no such file`);
    return file;
  }

  // Each file is read once, into a field (a lookup reads several of these getters: no closure
  // or map probe per call). null: the optional file is absent.
  private aliasFileRead: AliasFile | undefined;
  private aliasesRead: AliasIndex | undefined;
  private symbolsRead: { file: AliasFile; index: AliasIndex } | null | undefined;
  private builtinAliasesRead: AliasIndex | null | undefined;
  private moduleOrderRead: Map<string, number> | undefined;
  private builtinNamesRead: Set<string> | undefined;
  private configRead: ModprobeConfig | undefined;

  /** modules.alias: required — without it nothing can be resolved. */
  get aliasFile(): AliasFile {
    this.aliasFileRead ??= new AliasFile(this.files ? this.required("modules.alias") : this.lazyRequired());
    return this.aliasFileRead;
  }

  /** The directory of flavourctl's caches of these files; undefined: none kept. */
  get cacheDirectory(): string | undefined {
    return this.cacheDir;
  }

  get aliases(): AliasIndex {
    if (!this.aliasesRead) {
      const file = this.aliasFile;
      const cached = this.cacheDir === undefined ? undefined : cachedPrefixes(file, this.cacheDir);
      this.aliasesRead = new AliasIndex(cached ?? file);
    }
    return this.aliasesRead;
  }

  /** modules.symbols; its lines' priorities are positions in that file, not module priorities. */
  get symbols(): { file: AliasFile; index: AliasIndex } | undefined {
    if (this.symbolsRead === undefined) {
      const text = this.optional("modules.symbols");
      const file = text ? new AliasFile(text) : undefined;
      this.symbolsRead = file ? { file, index: new AliasIndex(file) } : null;
    }
    return this.symbolsRead ?? undefined;
  }

  /** Aliases of built-in modules (modules.builtin.modinfo), all of equal priority. */
  get builtinAliases(): AliasIndex | undefined {
    if (this.builtinAliasesRead === undefined) {
      const file = this.optional("modules.builtin.modinfo");
      if (file) {
        const parsed = parseBuiltinModinfo(file);
        this.warnings.push(...parsed.warnings);
        this.builtinAliasesRead = new AliasIndex(new AliasList(parsed.aliases));
      } else this.builtinAliasesRead = null;
    }
    return this.builtinAliasesRead ?? undefined;
  }

  /** Every warning about the files read so far. */
  allWarnings(): string[] {
    const fromFiles = this.aliasFileRead ? this.aliasFileRead.warnings() : [];
    return [...fromFiles, ...this.warnings];
  }

  /** Module names in modules.dep order (depmod writes it in priority order). */
  get moduleOrder(): Map<string, number> {
    if (!this.moduleOrderRead) {
      const file = this.optional("modules.dep");
      const names = file
        ? lines(file.text).map((line) => moduleNameFromPath(line.slice(0, line.indexOf(":"))))
        : [];
      this.moduleOrderRead = orderMap(names);
    }
    return this.moduleOrderRead;
  }

  get builtinNames(): Set<string> {
    if (!this.builtinNamesRead) {
      const file = this.optional("modules.builtin");
      this.builtinNamesRead = new Set(
        file
          ? lines(file.text)
              .filter((l) => l !== "")
              .map(moduleNameFromPath)
          : [],
      );
    }
    return this.builtinNamesRead;
  }

  get config(): ModprobeConfig {
    if (!this.configRead) {
      const config = this.files
        ? this.memoryConfig(this.files)
        : loadConfig(this.path, this.configPaths, () => this.kmodRelease);
      this.warnings.push(...config.warnings);
      this.configRead = config;
    }
    return this.configRead;
  }

  /** loadConfig's order on in-memory files: modules.softdep and modprobe.d/*.conf by file name. */
  private memoryConfig(files: ReadonlyMap<string, string>): ModprobeConfig {
    const config = emptyConfig();
    const names = [...files.keys()]
      .filter((n) => n === "modules.softdep" || (n.startsWith("modprobe.d/") && n.endsWith(".conf")))
      .sort((a, b) => {
        const [x, y] = [a.slice(a.lastIndexOf("/") + 1), b.slice(b.lastIndexOf("/") + 1)];
        return x < y ? -1 : x > y ? 1 : 0;
      });
    for (const name of names)
      parseConfigText(files.get(name) as string, join(this.path, name), config, () => this.kmodRelease);
    return config;
  }
}

function orderMap(names: readonly string[]): Map<string, number> {
  const map = new Map<string, number>();
  names.forEach((name, i) => {
    if (!map.has(name)) map.set(name, i);
  });
  return map;
}
