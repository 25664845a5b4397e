/* A growing, always NUL-terminated byte buffer: the output of the
 * redaction passes (engine/secrets.c, lua/audit.c). Start with
 * `strbuf b = {0};`; the caller frees b.p. Out of memory aborts, as
 * cJSON's allocations would: a half-redacted string must never be used. */
#ifndef SUMMIT_IO_STRBUF_H
#define SUMMIT_IO_STRBUF_H

#include <stddef.h>

typedef struct {
  char *p;
  size_t n, cap;
} strbuf;

/* Appends s[0..n) to b, doubling its storage as needed. */
void strbuf_put(strbuf *b, const char *s, size_t n);

#endif
