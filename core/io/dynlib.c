/* dlopen and dlsym for the libraries loaded on first use (dynlib.h). */
#include "io/dynlib.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int dynlib_load(const char *what, const char *soname, const dynlib_sym *syms,
                size_t n, char *why, size_t len) {
  /* RTLD_LOCAL: its symbols stay out of the global scope; RTLD_NOW: a
   * missing symbol fails here, not in the middle of a request. */
  void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *e = dlerror();
    snprintf(why, len, "%s cannot be loaded: %s", what, e ? e : soname);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    void *p = dlsym(lib, syms[i].name);
    if (!p) {
      snprintf(why, len, "%s (%s) lacks %s", what, soname, syms[i].name);
      return -1;
    }
    /* ISO C has no conversion from void * to a function pointer; POSIX
     * guarantees this copy of the representation works. */
    memcpy(syms[i].slot, &p, sizeof p);
  }
  return 0;
}
