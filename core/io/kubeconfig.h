#ifndef SUMMIT_IO_KUBECONFIG_H
#define SUMMIT_IO_KUBECONFIG_H
/* Kubernetes connection settings: kubeconfig files (YAML, or JSON, which is
 * YAML too) merged the way kubectl merges $KUBECONFIG, the in-cluster
 * service-account config, and the output of exec credential plugins
 * (ExecCredential). Knows nothing of Lua, libcurl or the loop; it only
 * reads files (synchronously: they are small and local). Running a plugin,
 * reading a token file per request and caching credentials are
 * lua/summit/cluster.lua's.
 *
 * Implemented in core/io/kube/: config.c (loading and merging), yaml.c
 * (one document), resolve.c (a context -> a connection), incluster.c,
 * credential.c, and util.c (helpers they share through internal.h).
 *
 * Secrets (tokens, passwords, private key and certificate data, exec env
 * values) never appear in error messages: errors name files, line:column,
 * fields and the names of contexts, clusters and users, never values.
 *
 * Every function that takes `char *err, size_t errlen` writes a
 * NUL-terminated, human-readable message there on failure (truncated to
 * errlen; err may be NULL when errlen is 0). */
#include <stddef.h>
#include <stdint.h>

typedef struct kubeconfig kubeconfig;

/* exec.interactiveMode. */
enum {
  KUBE_EXEC_IF_AVAILABLE = 0,   /* "IfAvailable" */
  KUBE_EXEC_NEVER,              /* "Never" */
  KUBE_EXEC_ALWAYS              /* "Always" */
};

typedef struct {
  char *name, *value;
} kube_env;

/* users[].user.exec: a credential plugin to run (cluster.lua runs it). */
typedef struct {
  char *command;           /* made absolute against the kubeconfig's
                              directory when it contains a '/', else a
                              name to look up in PATH */
  char **args;             /* n_args strings */
  size_t n_args;
  kube_env *env;           /* n_env extra variables for the plugin */
  size_t n_env;
  char *api_version;       /* client.authentication.k8s.io/v1 or v1beta1 */
  int interactive_mode;    /* KUBE_EXEC_* */
  int provide_cluster_info;
  char *install_hint;      /* installHint, or NULL */
} kube_exec;

/* Everything needed to talk to one API server. Filled by
 * kubeconfig_resolve or kube_conn_in_cluster; every pointer is owned by the
 * struct (malloc'd) and released by kube_conn_free. Unset fields are NULL
 * or 0. *_data fields are decoded PEM, NUL-terminated, with their length. */
typedef struct {
  char *source;            /* the kubeconfig file that defined the context,
                              "(in memory)" or "in-cluster" */
  char *context;           /* names from the kubeconfig; NULL in-cluster */
  char *cluster;
  char *user;              /* NULL when the context names no user */
  char *server;            /* URL with a scheme and no trailing '/' */
  char *ns;                /* the context's namespace, or "default" */

  char *ca_file;           /* absolute path, or NULL */
  char *ca_data;           /* certificate-authority-data, decoded */
  size_t ca_data_len;
  int insecure;            /* insecure-skip-tls-verify: true */
  char *tls_server_name;
  char *proxy_url;

  char *client_cert_file, *client_key_file;   /* absolute paths */
  char *client_cert_data, *client_key_data;   /* decoded PEM */
  size_t client_cert_data_len, client_key_data_len;

  char *token;             /* inline bearer token */
  char *token_file;        /* absolute path; re-read it (tokens rotate) */
  char *username, *password;   /* basic auth */
  kube_exec *exec;         /* exec plugin, or NULL */
} kube_conn;

/* A credential printed by an exec plugin (ExecCredential status). */
typedef struct {
  char *api_version;       /* the apiVersion the plugin answered with */
  char *token;             /* bearer token, or NULL */
  char *client_cert_data;  /* PEM, or NULL (both or neither with the key) */
  char *client_key_data;
  size_t client_cert_data_len, client_key_data_len;
  int64_t expires_ms;      /* expirationTimestamp as Unix epoch ms; 0 when
                              the credential does not expire */
} kube_credential;

/* The kubeconfig files kubectl would read: the entries of $KUBECONFIG
 * (split on ':', empty entries and repeats dropped) when it names any,
 * else $HOME/.kube/config. Returns a NULL-terminated array the caller frees
 * with kubeconfig_paths_free; *n (may be NULL) gets the count. NULL only
 * when memory runs out or no home directory is known. */
char **kubeconfig_default_paths(size_t *n);

/* Frees what kubeconfig_default_paths returned (NULL is fine). */
void kubeconfig_paths_free(char **paths);

/* Reads and merges kubeconfig files as kubectl does: for clusters, users
 * and contexts the first file that defines a name wins; current-context
 * comes from the first file that sets it. Unknown keys are ignored.
 * Relative certificate-authority, client-certificate, client-key and
 * tokenFile paths (and exec commands containing '/') are made absolute
 * against the directory of the file that holds them. A file that does not
 * exist is skipped when several are given (as kubectl skips stale
 * $KUBECONFIG entries); it is an error when none of them exists. Any other
 * problem in any file (unreadable, not YAML, top level not a mapping, a
 * field of the wrong shape, bad base64, a name defined twice in one file)
 * fails the whole load with a message naming the file and, when known,
 * line:column. An empty file is an empty config. Returns a kubeconfig
 * owned by the caller (kubeconfig_free), or NULL with err set. The paths
 * are copied. */
kubeconfig *kubeconfig_load(const char *const *paths, size_t n, char *err,
                            size_t errlen);

/* Parses one kubeconfig held in memory (len bytes, need not be
 * NUL-terminated). path, which may be NULL, names it in errors and its
 * directory anchors relative paths (with NULL they stay relative). Same
 * rules and ownership as kubeconfig_load. */
kubeconfig *kubeconfig_parse(const char *data, size_t len, const char *path,
                             char *err, size_t errlen);

/* Frees a kubeconfig and everything in it (NULL is fine). */
void kubeconfig_free(kubeconfig *kc);

/* The merged current-context, or NULL. Owned by kc. */
const char *kubeconfig_current_context(const kubeconfig *kc);

/* Context names in the order they were first defined; the strings are
 * owned by kc. */
size_t kubeconfig_context_count(const kubeconfig *kc);
const char *kubeconfig_context_name(const kubeconfig *kc, size_t i);

/* Resolves a context (NULL or "": current-context) into a connection. out is
 * overwritten (not freed first) and owned by the caller afterwards
 * (kube_conn_free); on failure it is left zeroed. Fails, naming the names
 * involved and listing the known ones, when the context, its cluster or
 * its named user is missing; also when the cluster has no server, both
 * insecure-skip-tls-verify and a CA are set, a client certificate comes
 * without its key (or the reverse), a token and basic auth are both set,
 * or the user has a legacy auth-provider (unsupported: use an exec
 * plugin). Returns 0, or -1 with err set. */
int kubeconfig_resolve(const kubeconfig *kc, const char *context,
                       kube_conn *out, char *err, size_t errlen);

/* The in-cluster connection of a pod: https://$KUBERNETES_SERVICE_HOST:
 * $KUBERNETES_SERVICE_PORT (IPv6 hosts bracketed), token and token_file
 * from <dir>/token (required), ca_file <dir>/ca.crt when it exists,
 * namespace from $POD_NAMESPACE, else <dir>/namespace, else "default".
 * <dir> is $SUMMIT_SA_DIR when set, else
 * /var/run/secrets/kubernetes.io/serviceaccount. Ownership as for
 * kubeconfig_resolve. Returns 0, or -1 with err set. */
int kube_conn_in_cluster(kube_conn *out, char *err, size_t errlen);

/* Releases everything c owns and zeroes it (NULL is fine). */
void kube_conn_free(kube_conn *c);

/* Parses an exec plugin's stdout (len bytes): an ExecCredential of
 * client.authentication.k8s.io/v1 or v1beta1 with status.token and/or
 * status.clientCertificateData + clientKeyData (PEM), and an optional
 * status.expirationTimestamp (RFC 3339). out is overwritten and owned by
 * the caller afterwards (kube_credential_free); zeroed on failure. Checking
 * that api_version matches the exec config's is the caller's job. Returns
 * 0, or -1 with err set (never quoting the input). */
int kube_exec_credential_parse(const char *json, size_t len,
                               kube_credential *out, char *err,
                               size_t errlen);

/* Releases everything c owns and zeroes it (NULL is fine). */
void kube_credential_free(kube_credential *c);

#endif
