// One modules directory (/lib/modules/<version> or --modules DIR) and the configuration that
// goes with it. Each file is read the first time a lookup needs it, so a PCI lookup never
// pays for modules.dep or modules.builtin (names with a `:` are never module names).
import { join } from "node:path";
import { InputError } from "../errors.ts";
import { AliasFile, AliasList, parseBuiltinModinfo } from "./alias-file.ts";
import { AliasIndex } from "./alias-index.ts";
import { lines, readOptionalText, readRequiredText, type TextFile } from "./files.ts";
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
}

export class ModulesDir {
  readonly path: string;
  /** Malformed lines met so far, each naming its file and line. */
  readonly warnings: string[] = [];
  private readonly configPaths: readonly string[];
  private readonly files: ReadonlyMap<string, string> | undefined;
  private cache = new Map<string, unknown>();

  constructor(path: string, options: ModulesDirOptions = {}) {
    this.path = path;
    this.configPaths = options.configPaths ?? DEFAULT_CONFIG_PATHS;
    this.files = options.files;
  }

  private optional(name: string): TextFile | undefined {
    if (!this.files) return readOptionalText(this.path, name);
    const text = this.files.get(name);
    return text === undefined ? undefined : { path: join(this.path, name), text };
  }

  private required(name: string): TextFile {
    if (!this.files) return readRequiredText(this.path, name);
    const file = this.optional(name);
    if (!file) throw new InputError(`${join(this.path, name)}: no such file`);
    return file;
  }

  private once<T>(name: string, load: () => T): T {
    const known = this.cache.get(name);
    if (known !== undefined || this.cache.has(name)) return known as T;
    const value = load();
    this.cache.set(name, value);
    return value;
  }

  /** modules.alias: required — without it nothing can be resolved. */
  get aliasFile(): AliasFile {
    return this.once("aliasFile", () => new AliasFile(this.required("modules.alias")));
  }

  get aliases(): AliasIndex {
    return this.once("aliases", () => new AliasIndex(this.aliasFile));
  }

  /** modules.symbols; its lines' priorities are positions in that file, not module priorities. */
  get symbols(): { file: AliasFile; index: AliasIndex } | undefined {
    return this.once("symbols", () => {
      const text = this.optional("modules.symbols");
      if (!text) return undefined;
      const file = new AliasFile(text);
      return { file, index: new AliasIndex(file) };
    });
  }

  /** Aliases of built-in modules (modules.builtin.modinfo), all of equal priority. */
  get builtinAliases(): AliasIndex | undefined {
    return this.once("builtinAliases", () => {
      const file = this.optional("modules.builtin.modinfo");
      if (!file) return undefined;
      const parsed = parseBuiltinModinfo(file);
      this.warnings.push(...parsed.warnings);
      return new AliasIndex(new AliasList(parsed.aliases));
    });
  }

  /** Every warning about the files read so far. */
  allWarnings(): string[] {
    const fromFiles = this.cache.has("aliasFile") ? this.aliasFile.warnings() : [];
    return [...fromFiles, ...this.warnings];
  }

  /** Module names in modules.dep order (depmod writes it in priority order). */
  get moduleOrder(): Map<string, number> {
    return this.once("moduleOrder", () => {
      const file = this.optional("modules.dep");
      const names = file
        ? lines(file.text).map((line) => moduleNameFromPath(line.slice(0, line.indexOf(":"))))
        : [];
      return orderMap(names);
    });
  }

  get builtinNames(): Set<string> {
    return this.once("builtinNames", () => {
      const file = this.optional("modules.builtin");
      return new Set(
        file
          ? lines(file.text)
              .filter((l) => l !== "")
              .map(moduleNameFromPath)
          : [],
      );
    });
  }

  get config(): ModprobeConfig {
    return this.once("config", () => {
      const config = this.files ? this.memoryConfig(this.files) : loadConfig(this.path, this.configPaths);
      this.warnings.push(...config.warnings);
      return config;
    });
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
    for (const name of names) parseConfigText(files.get(name) as string, join(this.path, name), config);
    return config;
  }

  file(name: string): string {
    return join(this.path, name);
  }
}

function orderMap(names: readonly string[]): Map<string, number> {
  const map = new Map<string, number>();
  names.forEach((name, i) => {
    if (!map.has(name)) map.set(name, i);
  });
  return map;
}
