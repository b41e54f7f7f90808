// Where flavourctl keeps what it can always recompute (the modules.alias prefix cache,
// modules/alias-cache.ts): never under /lib/modules, never in a directory someone else owns.
//   FLAVOURCTL_INDEX_CACHE=DIR   that directory;  =off  no cache
//   root                         /var/cache/flavourctl (the udev hook, set, unset)
//   anyone else                  $XDG_CACHE_HOME/flavourctl, else ~/.cache/flavourctl
// With no home directory to speak of, no cache.

export function indexCacheDir(
  env: Record<string, string | undefined>,
  uid = process.getuid?.(),
): string | undefined {
  const chosen = env.FLAVOURCTL_INDEX_CACHE;
  if (chosen !== undefined && chosen !== "") return chosen === "off" ? undefined : chosen;
  if (uid === 0) return "/var/cache/flavourctl";
  if (env.XDG_CACHE_HOME?.startsWith("/")) return `${env.XDG_CACHE_HOME}/flavourctl`;
  if (env.HOME?.startsWith("/") && env.HOME !== "/") return `${env.HOME}/.cache/flavourctl`;
  return undefined;
}
