// fnmatch-ref: glibc's fnmatch(3), flags 0, in the C locale — the reference for
// src/modules/fnmatch.ts (test/oracle/fnmatch.test.ts).
//
//   fnmatch-ref < pairs
//
// Standard input is a sequence of NUL-terminated strings taken two at a time: pattern, text,
// pattern, text, ... (any bytes but NUL). Standard output gets one byte per pair: '1' when
// fnmatch(pattern, text, 0) == 0, '0' when it returns FNM_NOMATCH, 'E' for any other value;
// then a newline. setlocale() is never called, so the locale is "C", as in libkmod's callers.
//
// Built by test/oracle/fetch-trees.sh into the oracle cache.
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  size_t size = 0, capacity = 1 << 20;
  char *data = malloc(capacity);
  if (data == NULL) return 1;
  for (;;) {
    if (size == capacity) {
      capacity *= 2;
      data = realloc(data, capacity);
      if (data == NULL) return 1;
    }
    size_t got = fread(data + size, 1, capacity - size, stdin);
    if (got == 0) break;
    size += got;
  }
  if (ferror(stdin)) {
    perror("fnmatch-ref");
    return 1;
  }
  if (size > 0 && data[size - 1] != '\0') {
    fprintf(stderr, "fnmatch-ref: input does not end with a NUL\n");
    return 2;
  }
  static char out[1 << 16];
  setvbuf(stdout, out, _IOFBF, sizeof(out));
  size_t strings = 0;
  const char *pattern = NULL;
  for (size_t at = 0; at < size;) {
    const char *s = data + at;
    at += strlen(s) + 1;
    if (strings++ % 2 == 0) {
      pattern = s;
      continue;
    }
    int r = fnmatch(pattern, s, 0);
    putchar(r == 0 ? '1' : r == FNM_NOMATCH ? '0' : 'E');
  }
  if (strings % 2 != 0) {
    fprintf(stderr, "fnmatch-ref: odd number of strings (a pattern without its text)\n");
    return 2;
  }
  putchar('\n');
  free(data);
  return fflush(stdout) == 0 ? 0 : 1;
}
