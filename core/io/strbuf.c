/* The growing buffer of strbuf.h. */
#include "io/strbuf.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void strbuf_put(strbuf *b, const char *s, size_t n) {
  assert(b && (s || n == 0));
  assert(b->cap == 0 ? !b->p && b->n == 0 : b->n < b->cap);
  if (b->n + n + 1 > b->cap) {
    size_t cap = (b->n + n + 1) * 2;
    char *q = realloc(b->p, cap);
    if (!q) abort();
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
  assert(b->n < b->cap);
}
