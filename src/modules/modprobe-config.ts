// modprobe.d configuration as libkmod reads it (libkmod-config.c: kmod_config_new,
// conf_files_list, kmod_config_parse; shared/util.c: freadline_wrapped, underscores).
import { type Dirent, readdirSync, type Stats, statSync } from "node:fs";
import { basename, join } from "node:path";
import { fileType, isNullDevice, readRegularText, whyUnreadable } from "../safe-read.ts";
import { excerpt } from "./files.ts";
import { KMOD_EOF_AFTER_BACKSLASH_DROPPED, KMOD_WITHOUT_ALIAS_FILES } from "./kmod-version.ts";
import { normalizeAlias } from "./normalize.ts";

/** libkmod's default search path, in priority order. */
export const DEFAULT_CONFIG_PATHS = [
  "/etc/modprobe.d",
  "/run/modprobe.d",
  "/usr/local/lib/modprobe.d",
  "/lib/modprobe.d",
];

export interface ConfigAlias {
  pattern: string;
  module: string;
  file: string;
  line: number;
}

export interface ModprobeConfig {
  aliases: ConfigAlias[];
  blacklist: Set<string>;
  install: { module: string; command: string }[];
  remove: { module: string; command: string }[];
  softdeps: { module: string; spec: string; file: string; line: number }[];
  warnings: string[];
}

export function emptyConfig(): ModprobeConfig {
  return {
    aliases: [],
    blacklist: new Set(),
    install: [],
    remove: [],
    softdeps: [],
    warnings: [],
  };
}

/**
 * The release of the kmod whose reading is followed where releases differ (kmod-version.ts);
 * called only when a file needs it, so that nothing asks the host's kmod otherwise.
 */
export type KmodRelease = () => number;

/**
 * The configuration files libkmod would read: `modules.softdep` of the modules directory,
 * then every `*.conf` of each path — and `*.alias` when the kmod followed is older than 33
 * (its release asked only when such a file is there) — or the path itself when it is a file,
 * sorted by file name; a name already taken by an earlier path is ignored. A directory that
 * cannot be listed is skipped, said in `warnings`, and so is an `*.alias` file kmod 33 and
 * later leave unread.
 */
export function listConfigFiles(
  modulesDir: string,
  paths: readonly string[],
  warnings: string[],
  release: KmodRelease,
): string[] {
  const byName = new Map<string, string>();
  byName.set("modules.softdep", join(modulesDir, "modules.softdep"));
  for (const path of paths) {
    let stat: Stats | undefined;
    try {
      // absent paths are the common case (/run/modprobe.d): answered without an exception
      stat = statSync(path, { throwIfNoEntry: false });
      if (stat === undefined) continue;
    } catch {
      continue; // libkmod skips paths it cannot stat
    }
    if (!stat.isDirectory()) {
      // conf_files_list: a path that is neither a regular file nor a directory (a FIFO,
      // /dev/null) is skipped; said, unless it is the null device (`--config /dev/null`)
      if (stat.isFile()) {
        if (!byName.has(basename(path))) byName.set(basename(path), path);
      } else if (!isNullDevice(stat.mode, stat.rdev)) {
        warnings.push(`${path}: ${fileType(stat.mode)}, not a regular file; ignored, as libkmod ignores it`);
      }
      continue;
    }
    let entries: Dirent[];
    try {
      entries = readdirSync(path, { withFileTypes: true });
    } catch (error) {
      // kmod conf_files_list: opendir fails, the directory is skipped
      warnings.push(`${path}: cannot list (${(error as NodeJS.ErrnoException).code}), ignored`);
      continue;
    }
    for (const entry of entries) {
      const name = entry.name;
      if (name.startsWith(".") || !(name.endsWith(".conf") || name.endsWith(".alias")) || name.length < 6)
        continue;
      // conf_files_filter_out: a directory (its link followed) is left out, so it does not
      // take its name from a file of a later path
      const file = join(path, name);
      if (entry.isDirectory() || (entry.isSymbolicLink() && linksToDirectory(file))) {
        warnings.push(`${file}: a directory inside a configuration directory, ignored`);
        continue;
      }
      if (name.endsWith(".alias") && release() >= KMOD_WITHOUT_ALIAS_FILES) {
        warnings.push(`${file}: not read: kmod ${KMOD_WITHOUT_ALIAS_FILES} and later read only *.conf files`);
        continue;
      }
      if (!byName.has(name)) byName.set(name, file);
    }
  }
  return [...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, file]) => file);
}

/** A link that leads to a directory; one that cannot be followed (a loop) is read, and fails, as a file. */
function linksToDirectory(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    return false;
  }
}

export function loadConfig(
  modulesDir: string,
  paths: readonly string[],
  release: KmodRelease,
): ModprobeConfig {
  const config = emptyConfig();
  for (const file of listConfigFiles(modulesDir, paths, config.warnings, release)) {
    let text: string;
    try {
      text = readRegularText(file, "config", "latin1");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") continue;
      // kmod_config_new parses only the files it can open
      config.warnings.push(
        `${file}: ${code === "EISDIR" ? "is a directory" : whyUnreadable(error)}, ignored`,
      );
      continue;
    }
    parseConfigText(text, file, config, release);
  }
  return config;
}

/**
 * Logical lines: a backslash-newline joins lines; any other backslash is dropped, keeping what
 * follows. The text between two newlines or backslashes is taken whole.
 */
function* wrappedLines(text: string, release: KmodRelease): Generator<{ text: string; line: number }> {
  let current = "";
  let line = 1;
  let start = 1;
  let i = 0;
  let newline = text.indexOf("\n");
  let backslash = text.indexOf("\\");
  while (i < text.length) {
    if (newline >= 0 && newline < i) newline = text.indexOf("\n", i);
    if (backslash >= 0 && backslash < i) backslash = text.indexOf("\\", i);
    const stop = Math.min(newline < 0 ? text.length : newline, backslash < 0 ? text.length : backslash);
    current += text.slice(i, stop);
    i = stop;
    if (i === text.length) break;
    if (i === newline) {
      yield { text: current, line: start };
      current = "";
      line++;
      start = line;
      i++;
    } else if (text[i + 1] === "\n") {
      i += 2;
      line++;
    } else {
      // getline_wrapped keeps the character after the backslash; at the end of the file that
      // is getc's EOF: stored as the byte 0xff before kmod 34, dropped since
      if (i + 1 < text.length) current += text[i + 1];
      else if (release() < KMOD_EOF_AFTER_BACKSLASH_DROPPED) current += "\xff";
      i += 2;
    }
  }
  if (current !== "") yield { text: current, line: start };
}

/** underscores(): normalise a module or alias name; undefined when its brackets are unbalanced. */
const underscores = (word: string | undefined) => (word === undefined ? undefined : normalizeAlias(word));

/** strtok_r over "\t ": words, then the raw rest of the line after one separator. */
function tokenizer(raw: string) {
  let pos = 0;
  const isSeparator = (c: string | undefined) => c === " " || c === "\t";
  return {
    word(): string | undefined {
      while (isSeparator(raw[pos])) pos++;
      if (pos >= raw.length) return undefined;
      const start = pos;
      while (pos < raw.length && !isSeparator(raw[pos])) pos++;
      const word = raw.slice(start, pos);
      if (pos < raw.length) pos++; // strtok_r cuts at the separator and resumes after it
      return word;
    },
    rest(): string | undefined {
      return pos >= raw.length ? undefined : raw.slice(pos);
    },
  };
}

export function parseConfigText(
  text: string,
  file: string,
  config: ModprobeConfig,
  release: KmodRelease,
): void {
  for (const { text: whole, line } of wrappedLines(text, release)) {
    // libkmod parses the logical line as a C string: it ends at a NUL byte
    const nul = whole.indexOf("\0");
    const raw = nul < 0 ? whole : whole.slice(0, nul);
    if (raw === "" || raw.startsWith("#")) continue;
    const tokens = tokenizer(raw);
    const command = tokens.word();
    if (command === undefined) continue;
    const bad = () =>
      config.warnings.push(`${file}:${line}: ignoring bad line starting with '${excerpt(command, 30)}'`);
    switch (command) {
      case "alias": {
        const pattern = underscores(tokens.word());
        const module = underscores(tokens.word());
        if (pattern === undefined || module === undefined) bad();
        else config.aliases.push({ pattern, module, file, line });
        break;
      }
      case "blacklist": {
        const module = underscores(tokens.word());
        if (module === undefined) bad();
        else config.blacklist.add(module);
        break;
      }
      case "options":
      case "install":
      case "remove":
      case "softdep": {
        const module = underscores(tokens.word());
        const value = tokens.rest();
        if (module === undefined || value === undefined) {
          bad();
          break;
        }
        // options: checked for its form only; a module's parameters decide no lookup
        if (command === "softdep") config.softdeps.push({ module, spec: value, file, line });
        else if (command !== "options") config[command].push({ module, command: value });
        break;
      }
      case "include":
      case "config":
        config.warnings.push(`${file}:${line}: command ${command} is deprecated and not parsed anymore`);
        break;
      default:
        bad();
    }
  }
}
