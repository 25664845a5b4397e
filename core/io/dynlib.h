#ifndef SUMMIT_IO_DYNLIB_H
#define SUMMIT_IO_DYNLIB_H
/* A shared library loaded with dlopen on first use instead of linked, for
 * the libraries with many dependencies that most summit processes never
 * call: libcurl (io/curl_lazy.h) and libpq (store/pq_lazy.h). Linked, each
 * cost every process milliseconds of dynamic linking before main()
 * (docs/performance.md). */
#include <stddef.h>

typedef struct {
  const char *name;  /* the symbol */
  void *slot;        /* the address of the function pointer to fill */
} dynlib_sym;

/* dlopen(soname, RTLD_NOW | RTLD_LOCAL), then each symbol into its slot.
 * Returns 0, or -1 with why filled ("<what> cannot be loaded: <dlerror>",
 * "<soname> lacks <symbol>"). The library is never closed. */
int dynlib_load(const char *what, const char *soname, const dynlib_sym *syms,
                size_t n, char *why, size_t len);

#endif
