#ifndef SUMMIT_IO_KUBE_INTERNAL_H
#define SUMMIT_IO_KUBE_INTERNAL_H
/* What the files of core/io/kube/ share and nothing outside them uses: the
 * merged kubeconfig's representation and the small helpers for strings,
 * paths, files and base64 they all need. The public API is
 * io/kubeconfig.h. Internal names start with kc_. */
#include <stddef.h>

#include "io/kubeconfig.h"

#define KC_MAX_FILE (16u << 20)   /* a kubeconfig beyond this is refused */
#define KC_MAX_SMALL (1u << 20)   /* token, namespace and CA files */
#define EXEC_V1 "client.authentication.k8s.io/v1"
#define EXEC_V1BETA1 "client.authentication.k8s.io/v1beta1"

/* ---- helpers (util.c) ---------------------------------------------------- */

/* Writes a formatted message to err (when there is room for one). Always
 * returns -1 so callers can `return kc_errf(...)`. */
int kc_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A name from a kubeconfig made safe to print: quoted, control bytes,
 * quotes and backslashes shown as '?', cut after 64 bytes. q must hold
 * 72 bytes. Returns q. */
const char *kc_qname(const char *s, char *q);
/* Copies len bytes and adds a NUL. NULL when memory runs out. */
char *kc_memdup0(const char *s, size_t len);
/* strdup that passes NULL through; sets *oom when the copy fails. */
char *kc_dup_or_null(const char *s, int *oom);
/* Data copy (NUL-terminated) that passes NULL through. */
char *kc_dupn_or_null(const char *s, size_t len, int *oom);
/* Reads a whole regular file of at most cap bytes into a malloc'd,
 * NUL-terminated buffer. Returns 0, or an errno value (EFBIG beyond cap). */
int kc_read_all(const char *path, size_t cap, char **out, size_t *len);
/* Strips trailing whitespace in place. */
void kc_rtrim(char *s);
/* dir + "/" + rel, cleaned. malloc'd, or NULL when memory runs out. */
char *kc_path_join(const char *dir, const char *rel);
/* The absolute, cleaned directory holding path, or NULL (no memory, or
 * the working directory is unknown). */
char *kc_dir_of(const char *path);
/* Decodes base64 (whitespace ignored, padding optional). Empty input gives
 * *out = NULL. Returns 0, or -1 for bad base64 or no memory (*nomem set).
 * The result is NUL-terminated. */
int kc_b64_decode(const char *s, size_t n, char **out, size_t *outlen,
                  int *nomem);

/* ---- the merged config (config.c) ----------------------------------------

 * Three arrays of named entries (clusters, users, contexts) in definition
 * order, each remembering the file it came from. Lookups are linear: a
 * kubeconfig has a handful of entries. */

enum { K_CLUSTER, K_USER, K_CONTEXT, K_COUNT };

typedef struct {
  char *server, *ca_file, *tls_server_name, *proxy_url;
  char *ca_data;
  size_t ca_data_len;
  int insecure;
} kc_cluster;

typedef struct {
  char *cert_file, *key_file, *token, *token_file, *username, *password;
  char *cert_data, *key_data;
  size_t cert_data_len, key_data_len;
  kube_exec *exec;
  char *auth_provider;   /* auth-provider.name, or "" */
} kc_user;

typedef struct {
  char *cluster, *user, *ns;
} kc_context;

typedef struct {
  char *name;
  size_t file;           /* index into kubeconfig.files */
  union {
    kc_cluster c;
    kc_user u;
    kc_context x;
  } v;
} entry;

struct kubeconfig {
  char **files;          /* as given, for messages */
  size_t n_files;
  entry *ent[K_COUNT];
  size_t n_ent[K_COUNT], cap_ent[K_COUNT];
  char *current;
};

/* Frees an exec config and everything in it (NULL is fine). */
void kc_exec_free(kube_exec *e);
/* Frees what an entry of the given kind owns and zeroes it. */
void kc_entry_free(int kind, entry *e);
/* The entry of that kind and name, or NULL. */
entry *kc_find_entry(const kubeconfig *kc, int kind, const char *name);
/* Appends e (moved in: *e is zeroed). Returns 0, or -1 when memory runs
 * out (then e is left to the caller). */
int kc_push_entry(kubeconfig *kc, int kind, entry *e);

/* ---- YAML (yaml.c) ------------------------------------------------------- */

/* Parses one kubeconfig document (len bytes) and merges it into kc: names
 * already defined by an earlier file are skipped, a name twice in this
 * document is an error. path (may be NULL) is recorded in kc->files, names
 * the document in errors and anchors its relative paths. Returns 0, or -1
 * with err set. */
int kc_parse_into(kubeconfig *kc, const char *data, size_t len,
                  const char *path, char *err, size_t errlen);

#endif
