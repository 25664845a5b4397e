/* Loading libpq on first use (see pq_lazy.h), once, through io/dynlib.c. */
#include "store/pq_lazy.h"

#include <pthread.h>

#include "io/dynlib.h"

/* The SONAME of the libpq summit was built against (CMakeLists.txt). */
#ifndef SUMMIT_LIBPQ_SONAME
#define SUMMIT_LIBPQ_SONAME "libpq.so.5"
#endif

struct pq_lazy_api pq_lazy;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char why[512];
static int loaded;

static void load(void) {
#define PQ_LAZY_SYM(name) {"PQ" #name, &pq_lazy.name},
  const dynlib_sym syms[] = {PQ_LAZY_FUNCS(PQ_LAZY_SYM)};
#undef PQ_LAZY_SYM
  loaded = dynlib_load("libpq", SUMMIT_LIBPQ_SONAME, syms,
                       sizeof syms / sizeof syms[0], why, sizeof why) == 0;
}

const char *pq_lazy_load(void) {
  pthread_once(&once, load);
  return loaded ? NULL : why;
}
