// kmod-resolve: the libkmod oracle for `flavourctl resolve` and the modprobe.d reader.
//
//   kmod-resolve MODULES_DIR [CONFIG_PATH...] < names
//   kmod-resolve --config MODULES_DIR [CONFIG_PATH...] < module-names
//
// The context is created with the CONFIG_PATHs as libkmod's configuration search path (files
// or directories, in priority order, as `modprobe -C` gives them), or with /dev/null alone when
// none is given — so no modprobe.d file is read; kmod_load_resources() maps the .bin indexes
// as modprobe does. libkmod also reads modules.softdep of MODULES_DIR and the kernel command
// line (/proc/cmdline: `modprobe.blacklist=` and `MODULE.PARAM=` options).
//
// Lookups: for each line of standard input (one alias or module name per line, any bytes but
// '\n'), prints the line, a TAB, then either the names of the modules libkmod's
// kmod_module_new_from_lookup returns for it, separated by single spaces, in libkmod's order,
// duplicates kept (nothing when none matches), or `!` and the errno name when the lookup
// fails (`!EINVAL` for an unbalanced '[' or ']', `!ENAMETOOLONG` for a key over PATH_MAX).
//
// --config: the configuration as libkmod parsed it, through its kmod_config_get_* iterators,
// one entry a line, fields separated by TABs, in libkmod's list order:
//   alias PATTERN MODULE / blacklist MODULE / options MODULE OPTIONS / install MODULE COMMAND /
//   remove MODULE COMMAND / softdep MODULE
// then, for each line of standard input (a module name), the soft dependencies libkmod gives
// that module (kmod_module_get_softdeps: the names of the modules each pre:/post: name looks
// up to, space-separated):
//   softdeps NAME PRE POST
// libkmod's own complaints about the files (a bad line, a directory where a file belongs) go
// to standard error, as its default log writes them.
//
// One process answers every line: this is `modprobe -d ROOT -S VER -C PATH -R NAME` (and
// `modprobe -c`) without a process per name.
//
// Built by test/oracle/fetch-trees.sh into the oracle cache, against Debian's libkmod-dev.
#define _GNU_SOURCE
#include <errno.h>
#include <libkmod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_list(struct kmod_list *list) {
  struct kmod_list *l;
  const char *separator = "";
  kmod_list_foreach(l, list) {
    struct kmod_module *mod = kmod_module_get_module(l);
    fputs(separator, stdout);
    fputs(kmod_module_get_name(mod), stdout);
    separator = " ";
    kmod_module_unref(mod);
  }
}

static void print_errno(int err) {
  const char *name = strerrorname_np(-err);
  if (name != NULL)
    printf("!%s", name);
  else
    printf("!errno %d", -err);
}

static void dump(const char *kind, struct kmod_config_iter *iter, int with_value) {
  while (kmod_config_iter_next(iter)) {
    printf("%s\t%s", kind, kmod_config_iter_get_key(iter));
    if (with_value) printf("\t%s", kmod_config_iter_get_value(iter));
    putchar('\n');
  }
  kmod_config_iter_free_iter(iter);
}

static void softdeps(struct kmod_ctx *ctx, const char *name) {
  struct kmod_module *mod = NULL;
  printf("softdeps\t%s\t", name);
  int err = kmod_module_new_from_name(ctx, name, &mod);
  if (err < 0) {
    print_errno(err);
  } else {
    struct kmod_list *pre = NULL, *post = NULL;
    err = kmod_module_get_softdeps(mod, &pre, &post);
    if (err < 0) {
      print_errno(err);
    } else {
      print_list(pre);
      putchar('\t');
      print_list(post);
      kmod_module_unref_list(pre);
      kmod_module_unref_list(post);
    }
    kmod_module_unref(mod);
  }
  putchar('\n');
}

int main(int argc, char *argv[]) {
  int config = argc > 1 && strcmp(argv[1], "--config") == 0;
  if (argc < 2 + config) {
    fprintf(stderr, "usage: %s [--config] MODULES_DIR [CONFIG_PATH...] < names\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1 + config];
  const char *no_config[] = {"/dev/null", NULL};
  const char *const *config_paths = argc > 2 + config ? (const char *const *)argv + 2 + config : no_config;
  struct kmod_ctx *ctx = kmod_new(dir, config_paths);
  if (ctx == NULL) {
    fprintf(stderr, "kmod-resolve: kmod_new(%s) failed\n", dir);
    return 1;
  }
  int err = kmod_load_resources(ctx);
  if (err < 0) {
    fprintf(stderr, "kmod-resolve: kmod_load_resources(%s): %s\n", dir, strerror(-err));
    kmod_unref(ctx);
    return 1;
  }

  static char out[1 << 16];
  setvbuf(stdout, out, _IOFBF, sizeof(out));

  if (config) {
    dump("alias", kmod_config_get_aliases(ctx), 1);
    dump("blacklist", kmod_config_get_blacklists(ctx), 0);
    dump("options", kmod_config_get_options(ctx), 1);
    dump("install", kmod_config_get_install_commands(ctx), 1);
    dump("remove", kmod_config_get_remove_commands(ctx), 1);
    dump("softdep", kmod_config_get_softdeps(ctx), 0);
  }

  char *line = NULL;
  size_t capacity = 0;
  ssize_t length;
  while ((length = getline(&line, &capacity, stdin)) >= 0) {
    if (length > 0 && line[length - 1] == '\n') line[--length] = '\0';
    if (config) {
      softdeps(ctx, line);
      continue;
    }
    // The line is echoed whole (a NUL inside it included); libkmod sees it up to the first NUL.
    fwrite(line, 1, (size_t)length, stdout);
    putchar('\t');
    struct kmod_list *list = NULL;
    err = kmod_module_new_from_lookup(ctx, line, &list);
    if (err < 0) {
      print_errno(err);
    } else {
      print_list(list);
      kmod_module_unref_list(list);
    }
    putchar('\n');
  }
  free(line);
  kmod_unref(ctx);
  if (fflush(stdout) != 0 || ferror(stdin)) {
    perror("kmod-resolve");
    return 1;
  }
  return 0;
}
