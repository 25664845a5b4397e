#ifndef SUMMIT_IO_CURL_LAZY_H
#define SUMMIT_IO_CURL_LAZY_H
/* libcurl, loaded with dlopen on the first HTTP request instead of linked.
 *
 * Linking libcurl made every summit process pay for it before main(): the
 * dynamic loader mapped and relocated its ~30 dependencies (TLS, Kerberos,
 * LDAP, SSH, IDN, ...), ~14 million instructions, most of a one-step run's
 * start (docs/performance.md). Most runs and every read command never make
 * a request. Only core/io/http.c includes this header, instead of
 * <curl/curl.h>: the curl_* names below become calls through the table
 * that curl_lazy_load() fills, so the code keeps reading like libcurl's
 * documentation. */
#define CURL_DISABLE_TYPECHECK 1 /* its macros would wrap the names below */
#include <curl/curl.h>

#define CURL_LAZY_FUNCS(X)                                                   \
  X(global_init) X(easy_init) X(easy_cleanup) X(easy_setopt)                 \
  X(easy_getinfo) X(easy_strerror) X(easy_send) X(easy_recv)                 \
  X(multi_init) X(multi_cleanup) X(multi_setopt) X(multi_add_handle)         \
  X(multi_remove_handle) X(multi_assign) X(multi_socket_action)              \
  X(multi_timeout) X(multi_info_read) X(multi_strerror) X(slist_append)      \
  X(slist_free_all)

#define CURL_LAZY_FIELD(name) __typeof__(curl_##name) *name;
struct curl_lazy_api {
  CURL_LAZY_FUNCS(CURL_LAZY_FIELD)
};
#undef CURL_LAZY_FIELD
extern struct curl_lazy_api curl_lazy;

/* Loads libcurl and runs curl_global_init, once per process (thread
 * safe). Returns NULL when usable, else why not: "libcurl cannot be
 * loaded: <dlerror>" or the like. Every curl_* call must come after a
 * NULL return. */
const char *curl_lazy_load(void);

/* curl.h maps these to themselves to check their argument count. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_global_init curl_lazy.global_init
#define curl_easy_init curl_lazy.easy_init
#define curl_easy_cleanup curl_lazy.easy_cleanup
#define curl_easy_setopt curl_lazy.easy_setopt
#define curl_easy_getinfo curl_lazy.easy_getinfo
#define curl_easy_strerror curl_lazy.easy_strerror
#define curl_easy_send curl_lazy.easy_send
#define curl_easy_recv curl_lazy.easy_recv
#define curl_multi_init curl_lazy.multi_init
#define curl_multi_cleanup curl_lazy.multi_cleanup
#define curl_multi_setopt curl_lazy.multi_setopt
#define curl_multi_add_handle curl_lazy.multi_add_handle
#define curl_multi_remove_handle curl_lazy.multi_remove_handle
#define curl_multi_assign curl_lazy.multi_assign
#define curl_multi_socket_action curl_lazy.multi_socket_action
#define curl_multi_timeout curl_lazy.multi_timeout
#define curl_multi_info_read curl_lazy.multi_info_read
#define curl_multi_strerror curl_lazy.multi_strerror
#define curl_slist_append curl_lazy.slist_append
#define curl_slist_free_all curl_lazy.slist_free_all

#endif
