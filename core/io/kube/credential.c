/* What an exec credential plugin prints: an ExecCredential
 * (client.authentication.k8s.io/v1 or v1beta1), parsed and checked as
 * client-go does (kube_exec_credential_parse). Running the plugin and
 * caching its credential is lua/summit/cluster.lua's. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "io/kube/internal.h"
#include "io/rfc3339.h"

void kube_credential_free(kube_credential *c) {
  if (!c) return;
  free(c->api_version);
  free(c->token);
  free(c->client_cert_data);
  free(c->client_key_data);
  memset(c, 0, sizeof *c);
}

/* A string member, or NULL when absent or null; -1 when another type. */
static int json_str(const cJSON *obj, const char *key, const char **out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  *out = NULL;
  if (!v || cJSON_IsNull(v)) return 0;
  if (!cJSON_IsString(v) || !v->valuestring) return -1;
  *out = v->valuestring;
  return 0;
}

/* The envelope: apiVersion v1 or v1beta1, kind ExecCredential, a status
 * object. Sets *api and *st, or returns -1 with err set. */
static int envelope(const cJSON *root, const char **api, const cJSON **st,
                    char *err, size_t errlen) {
  const char *kind;
  char q[72];
  if (!cJSON_IsObject(root))
    return kc_errf(err, errlen, "exec plugin output is not a JSON object");
  if (json_str(root, "apiVersion", api) || !*api)
    return kc_errf(err, errlen, "exec plugin output has no apiVersion");
  if (strcmp(*api, EXEC_V1) && strcmp(*api, EXEC_V1BETA1))
    return kc_errf(err, errlen, "exec plugin returned apiVersion %s; "
                   "expected %s or %s", kc_qname(*api, q), EXEC_V1,
                   EXEC_V1BETA1);
  if (json_str(root, "kind", &kind) || !kind ||
      strcmp(kind, "ExecCredential"))
    return kc_errf(err, errlen, "exec plugin output is not an "
                   "ExecCredential (kind %s)",
                   kind ? kc_qname(kind, q) : "missing");
  *st = cJSON_GetObjectItemCaseSensitive(root, "status");
  if (!cJSON_IsObject(*st))
    return kc_errf(err, errlen, "exec plugin didn't return a status field");
  return 0;
}

/* The status: a token and/or a client certificate with its key, and an
 * optional expiry. Fills out (strings copied) or returns -1 with err. */
static int status(const cJSON *st, kube_credential *out, char *err,
                  size_t errlen) {
  const char *token, *exp, *cert, *key;
  char q[72];
  if (json_str(st, "token", &token))
    return kc_errf(err, errlen, "exec plugin: status.token must be a string");
  if (json_str(st, "clientCertificateData", &cert) ||
      json_str(st, "clientKeyData", &key))
    return kc_errf(err, errlen, "exec plugin: status.clientCertificateData "
                   "and status.clientKeyData must be strings");
  if (json_str(st, "expirationTimestamp", &exp))
    return kc_errf(err, errlen, "exec plugin: status.expirationTimestamp "
                   "must be a string");
  if (token && !*token) token = NULL;
  if (cert && !*cert) cert = NULL;
  if (key && !*key) key = NULL;
  if (!token && !(cert && key))
    return kc_errf(err, errlen, "exec plugin didn't return a token or a "
                   "client certificate and key");
  if (!cert != !key)
    return kc_errf(err, errlen, "exec plugin returned only a client "
                   "certificate or only a key, not both");
  if (exp && *exp && rfc3339_parse_ms(exp, 0, &out->expires_ms))
    return kc_errf(err, errlen, "exec plugin: status.expirationTimestamp %s "
                   "is not an RFC 3339 time", kc_qname(exp, q));
  int o = 0;
  out->token = kc_dup_or_null(token, &o);
  out->client_cert_data = kc_dup_or_null(cert, &o);
  out->client_cert_data_len = cert ? strlen(cert) : 0;
  out->client_key_data = kc_dup_or_null(key, &o);
  out->client_key_data_len = key ? strlen(key) : 0;
  if (o) return kc_errf(err, errlen, "exec plugin: out of memory");
  return 0;
}

int kube_exec_credential_parse(const char *json, size_t len,
                               kube_credential *out, char *err,
                               size_t errlen) {
  const char *api = NULL, *end = NULL;
  const cJSON *st = NULL;
  memset(out, 0, sizeof *out);
  if (!json || len == 0)
    return kc_errf(err, errlen, "exec plugin printed nothing (expected an "
                   "ExecCredential)");
  cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
  if (!root)
    return kc_errf(err, errlen, "exec plugin output is not JSON (error at "
                   "byte %zu of %zu)", end && end >= json ?
                   (size_t)(end - json) : 0, len);
  int rc = envelope(root, &api, &st, err, errlen);
  if (rc == 0) rc = status(st, out, err, errlen);
  if (rc == 0 && !(out->api_version = strdup(api)))
    rc = kc_errf(err, errlen, "exec plugin: out of memory");
  cJSON_Delete(root);
  if (rc) kube_credential_free(out);
  return rc;
}
