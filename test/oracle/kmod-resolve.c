// kmod-resolve: the libkmod oracle for `flavourctl resolve`.
//
//   kmod-resolve MODULES_DIR < names
//
// For each line of standard input (one alias or module name per line, any bytes but '\n'),
// prints the line, a TAB, and the names of the modules libkmod's kmod_module_new_from_lookup
// returns for it, separated by single spaces, in libkmod's order, duplicates kept. A lookup
// that fails (EINVAL for an unbalanced '[' or ']') prints nothing after the TAB.
//
// The context is created with one configuration path, /dev/null — what `modprobe -C /dev/null`
// does — so no modprobe.d file is read; kmod_load_resources() maps the .bin indexes as
// modprobe does. One process answers every line: this is `modprobe -d ROOT -S VER -C /dev/null
// -R NAME` without the process per name.
//
// Built by test/oracle/fetch-trees.sh into the oracle cache, against Debian's libkmod-dev.
#define _GNU_SOURCE
#include <errno.h>
#include <libkmod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char *argv[]) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODULES_DIR < names\n", argv[0]);
    return 2;
  }
  const char *config_paths[] = {"/dev/null", NULL};
  struct kmod_ctx *ctx = kmod_new(argv[1], config_paths);
  if (ctx == NULL) {
    fprintf(stderr, "kmod-resolve: kmod_new(%s) failed\n", argv[1]);
    return 1;
  }
  int err = kmod_load_resources(ctx);
  if (err < 0) {
    fprintf(stderr, "kmod-resolve: kmod_load_resources(%s): %s\n", argv[1], strerror(-err));
    kmod_unref(ctx);
    return 1;
  }

  static char out[1 << 16];
  setvbuf(stdout, out, _IOFBF, sizeof(out));

  char *line = NULL;
  size_t capacity = 0;
  ssize_t length;
  while ((length = getline(&line, &capacity, stdin)) >= 0) {
    if (length > 0 && line[length - 1] == '\n') line[--length] = '\0';
    // The line is echoed whole (a NUL inside it included); libkmod sees it up to the first NUL.
    fwrite(line, 1, (size_t)length, stdout);
    putchar('\t');
    struct kmod_list *list = NULL;
    if (kmod_module_new_from_lookup(ctx, line, &list) >= 0) {
      struct kmod_list *l;
      const char *separator = "";
      kmod_list_foreach(l, list) {
        struct kmod_module *mod = kmod_module_get_module(l);
        fputs(separator, stdout);
        fputs(kmod_module_get_name(mod), stdout);
        separator = " ";
        kmod_module_unref(mod);
      }
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
