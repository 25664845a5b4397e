/* Loading libcurl on first use (see curl_lazy.h): its SONAME through
 * io/dynlib.c, then curl_global_init, once. */
#include "io/curl_lazy.h"

#include <pthread.h>
#include <stdio.h>

#include "io/dynlib.h"

/* The SONAME of the libcurl summit was built against (CMakeLists.txt);
 * ABI 4 has been libcurl's since 2006. */
#ifndef SUMMIT_LIBCURL_SONAME
#define SUMMIT_LIBCURL_SONAME "libcurl.so.4"
#endif

struct curl_lazy_api curl_lazy;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char why[512];
static int loaded;

static void load(void) {
#define CURL_LAZY_SYM(name) {"curl_" #name, &curl_lazy.name},
  const dynlib_sym syms[] = {CURL_LAZY_FUNCS(CURL_LAZY_SYM)};
#undef CURL_LAZY_SYM
  if (dynlib_load("libcurl", SUMMIT_LIBCURL_SONAME, syms,
                  sizeof syms / sizeof syms[0], why, sizeof why) < 0)
    return;
  /* libcurl's global state lives until exit. */
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
