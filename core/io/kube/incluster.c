/* The in-cluster connection of a pod (kube_conn_in_cluster): the API
 * server from the service environment variables, the service account's
 * token, CA and namespace from its mounted directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/kube/internal.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

int kube_conn_in_cluster(kube_conn *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  const char *host = getenv("KUBERNETES_SERVICE_HOST");
  const char *port = getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    return kc_errf(err, errlen, "in-cluster config: KUBERNETES_SERVICE_HOST "
                "and KUBERNETES_SERVICE_PORT must be defined (not running "
                "in a pod?)");
  const char *dir = getenv("SUMMIT_SA_DIR");
  if (!dir || !*dir) dir = SA_DIR;

  char *token_path = kc_path_join(dir, "token");
  char *ca_path = kc_path_join(dir, "ca.crt");
  char *ns_path = kc_path_join(dir, "namespace");
  size_t slen = strlen(host) + strlen(port) + 16;
  char *server = malloc(slen);
  if (!token_path || !ca_path || !ns_path || !server) {
    kc_errf(err, errlen, "in-cluster config: out of memory");
    goto fail;
  }
  snprintf(server, slen, strchr(host, ':') ? "https://[%s]:%s"
           : "https://%s:%s", host, port);

  char *token;
  size_t len;
  int e = kc_read_all(token_path, KC_MAX_SMALL, &token, &len);
  if (e) {
    kc_errf(err, errlen, "in-cluster config: cannot read token %s: %s",
         token_path, e == EFBIG ? "too large" : strerror(e));
    goto fail;
  }
  if (memchr(token, '\0', len)) {
    free(token);
    kc_errf(err, errlen, "in-cluster config: token %s contains a NUL byte",
         token_path);
    goto fail;
  }
  kc_rtrim(token);
  out->token = token;
  out->token_file = token_path;
  token_path = NULL;
  out->server = server;
  server = NULL;
  if (access(ca_path, R_OK) == 0) {
    out->ca_file = ca_path;
    ca_path = NULL;
  }

  const char *pod_ns = getenv("POD_NAMESPACE");
  char *ns = NULL;
  if (pod_ns && *pod_ns) {
    ns = strdup(pod_ns);
  } else if (kc_read_all(ns_path, KC_MAX_SMALL, &ns, &len) == 0) {
    kc_rtrim(ns);
    if (!*ns) {
      free(ns);
      ns = NULL;
    }
  }
  out->ns = ns ? ns : strdup("default");
  out->source = strdup("in-cluster");
  if (!out->ns || !out->source) {
    kc_errf(err, errlen, "in-cluster config: out of memory");
    goto fail;
  }
  free(ca_path);
  free(ns_path);
  return 0;
fail:
  free(token_path);
  free(ca_path);
  free(ns_path);
  free(server);
  kube_conn_free(out);
  return -1;
}
