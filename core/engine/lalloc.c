/* The capped Lua allocator (see lalloc.h). */
#include "engine/lalloc.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void *lalloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  lalloc_t *a = ud;
  if (!ptr) osize = 0;  /* then osize tells the type, not a size */
  /* The state was made with this allocator: every block is counted. */
  assert(a && a->used >= osize);
  if (nsize == 0) {
    free(ptr);
    a->used -= osize;
    return NULL;
  }
  /* Only growth is refused: a shrink or a free must always work. */
  size_t limit = a->cap + (a->over ? a->cap / 4 : 0);
  if (a->cap && nsize > osize && a->used - osize + nsize > limit) {
    a->refused = a->over = 1;
    return NULL;
  }
  void *p = realloc(ptr, nsize);
  if (p) a->used = a->used - osize + nsize;
  return p;
}

int lalloc_parse_size(const char *text, size_t *out, char *err,
                      size_t errlen) {
  static const struct { const char *unit; double mul; } UNITS[] = {
    {"", 1}, {"B", 1}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
    {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
  };
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (end == text || errno || !(v >= 0) || isinf(v)) {
    snprintf(err, errlen, "'%s' is not a size (like \"512MiB\" or \"2GB\")",
             text);
    return -1;
  }
  while (*end == ' ') end++;
  for (size_t i = 0; i < sizeof UNITS / sizeof *UNITS; i++)
    if (!strcasecmp(end, UNITS[i].unit)) {
      double b = v * UNITS[i].mul;
      if (b >= 9e18) break;
      *out = (size_t)b;
      return 0;
    }
  snprintf(err, errlen, "'%s' is not a size (a number with B, KB, MB, GB, "
           "KiB, MiB or GiB)", text);
  return -1;
}

const char *lalloc_format(size_t n, char *buf, size_t len) {
  static const char *const U[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)n;
  int u = 0;
  for (; v >= 1024 && u < 4; u++) v /= 1024;
  snprintf(buf, len, "%.4g %s", v, U[u]);
  return buf;
}
