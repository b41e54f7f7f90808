// Name and alias normalisation as libkmod does it (shared/util.c alias_normalize,
// modname_normalize, path_to_modname).

/** libkmod's PATH_MAX: longer aliases are cut at 4095 bytes. */
const ALIAS_MAX = 4095;

/**
 * alias_normalize: `-` becomes `_` outside `[...]`; a `]` outside brackets or a `[` never
 * closed makes the alias invalid (undefined). depmod skips such patterns, and a lookup of
 * such a string fails with EINVAL.
 */
const NEEDS_WORK = /[-[\]\0]/;
const BRACKET_OR_NUL = /[[\]\0]/;

export function normalizeAlias(alias: string): string | undefined {
  if (alias.length <= ALIAS_MAX && !NEEDS_WORK.test(alias)) return alias;
  // only dashes (2,000 lines of modules.alias): replaced natively, not a byte at a time
  if (alias.length <= ALIAS_MAX && !BRACKET_OR_NUL.test(alias)) return alias.replaceAll("-", "_");
  let out = "";
  const end = Math.min(alias.length, ALIAS_MAX);
  for (let i = 0; i < end; i++) {
    const c = alias[i] as string;
    if (c === "\0") break;
    if (c === "-") out += "_";
    else if (c === "]") return undefined;
    else if (c === "[") {
      const close = alias.indexOf("]", i);
      const nul = alias.indexOf("\0", i);
      if (close < 0 || (nul >= 0 && nul < close)) return undefined;
      // libkmod copies a whole bracket even past the length limit.
      out += alias.slice(i, close + 1);
      i = close;
    } else out += c;
  }
  return out;
}

/** modname_normalize: `-` → `_`, cut at the first `.` (so `foo-bar.ko.xz` → `foo_bar`). */
export function normalizeModuleName(name: string): string {
  const dot = name.indexOf(".");
  return (dot < 0 ? name : name.slice(0, dot)).replaceAll("-", "_");
}

/** path_to_modname: the module name of `kernel/drivers/foo/bar-baz.ko.xz`. */
export function moduleNameFromPath(path: string): string {
  return normalizeModuleName(path.slice(path.lastIndexOf("/") + 1));
}
