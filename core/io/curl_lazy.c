/* Loading libcurl on first use (see curl_lazy.h): dlopen of its SONAME,
 * dlsym of each function summit calls, then curl_global_init, once. */
#include "io/curl_lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The SONAME of the libcurl summit was built against (CMakeLists.txt);
 * ABI 4 has been libcurl's since 2006. */
#ifndef SUMMIT_LIBCURL_SONAME
#define SUMMIT_LIBCURL_SONAME "libcurl.so.4"
#endif

struct curl_lazy_api curl_lazy;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char why[512];
static int loaded;

/* dlsym returns void *; ISO C has no conversion to a function pointer,
 * POSIX guarantees it works through the object representation. */
static int sym(void *lib, const char *name, void *slot, size_t size) {
  void *p = dlsym(lib, name);
  if (!p) {
    snprintf(why, sizeof why, "libcurl (%s) lacks %s", SUMMIT_LIBCURL_SONAME,
             name);
    return -1;
  }
  memcpy(slot, &p, size);
  return 0;
}

static void load(void) {
  /* RTLD_LOCAL: its symbols stay out of the global scope (the Lua state's
   * ffi, other libraries), RTLD_NOW: a missing symbol fails here, not in
   * the middle of a transfer. */
  void *lib = dlopen(SUMMIT_LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *e = dlerror();
    snprintf(why, sizeof why, "libcurl cannot be loaded: %s",
             e ? e : SUMMIT_LIBCURL_SONAME);
    return;
  }
#define CURL_LAZY_SYM(name)                                                  \
  if (sym(lib, "curl_" #name, &curl_lazy.name, sizeof curl_lazy.name) < 0)    \
    return;
  CURL_LAZY_FUNCS(CURL_LAZY_SYM)
#undef CURL_LAZY_SYM
  /* Never dlclose'd: libcurl's global state lives until exit. */
  CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) {
    snprintf(why, sizeof why, "libcurl cannot start: %s",
             curl_easy_strerror(rc));
    return;
  }
  loaded = 1;
}

const char *curl_lazy_load(void) {
  pthread_once(&once, load);
  return loaded ? NULL : why;
}
