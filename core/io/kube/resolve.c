/* A context of the merged kubeconfig turned into a connection
 * (kubeconfig_resolve), with kubectl's checks of what a user and a cluster
 * may combine, and the connection's lifetime (kube_conn_free). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/kube/internal.h"

/* "a, b, c" of the files loaded, into buf. */
static const char *files_str(const kubeconfig *kc, char *buf, size_t len) {
  size_t w = 0;
  buf[0] = '\0';
  if (kc->n_files == 0) {
    snprintf(buf, len, "(in memory)");
    return buf;
  }
  for (size_t i = 0; i < kc->n_files && w < len; i++) {
    int r = snprintf(buf + w, len - w, "%s%s", i ? ", " : "", kc->files[i]);
    if (r < 0) break;
    w += (size_t)r;
  }
  return buf;
}

/* The names of one kind, quoted and comma-separated, into buf. */
static const char *names_str(const kubeconfig *kc, int kind, char *buf,
                             size_t len) {
  size_t w = 0;
  char q[72];
  buf[0] = '\0';
  if (kc->n_ent[kind] == 0) {
    snprintf(buf, len, "(none)");
    return buf;
  }
  for (size_t i = 0; i < kc->n_ent[kind] && w < len; i++) {
    int r = snprintf(buf + w, len - w, "%s%s", i ? ", " : "",
                     kc_qname(kc->ent[kind][i].name, q));
    if (r < 0) break;
    w += (size_t)r;
  }
  return buf;
}

static kube_exec *exec_dup(const kube_exec *s, int *nomem) {
  kube_exec *e = calloc(1, sizeof *e);
  if (!e) goto oom;
  e->interactive_mode = s->interactive_mode;
  e->provide_cluster_info = s->provide_cluster_info;
  int o = 0;
  e->command = kc_dup_or_null(s->command, &o);
  e->api_version = kc_dup_or_null(s->api_version, &o);
  e->install_hint = kc_dup_or_null(s->install_hint, &o);
  if (o) goto oom;
  if (s->n_args) {
    if (!(e->args = calloc(s->n_args, sizeof *e->args))) goto oom;
    for (; e->n_args < s->n_args; e->n_args++)
      if (!(e->args[e->n_args] = strdup(s->args[e->n_args]))) goto oom;
  }
  if (s->n_env) {
    if (!(e->env = calloc(s->n_env, sizeof *e->env))) goto oom;
    for (; e->n_env < s->n_env; e->n_env++) {
      kube_env *d = &e->env[e->n_env];
      d->name = strdup(s->env[e->n_env].name);
      d->value = strdup(s->env[e->n_env].value);
      if (!d->name || !d->value) {
        e->n_env++;
        goto oom;
      }
    }
  }
  return e;
oom:
  *nomem = 1;
  kc_exec_free(e);
  return NULL;
}

void kube_conn_free(kube_conn *c) {
  if (!c) return;
  free(c->source);
  free(c->context);
  free(c->cluster);
  free(c->user);
  free(c->server);
  free(c->ns);
  free(c->ca_file);
  free(c->ca_data);
  free(c->tls_server_name);
  free(c->proxy_url);
  free(c->client_cert_file);
  free(c->client_key_file);
  free(c->client_cert_data);
  free(c->client_key_data);
  free(c->token);
  free(c->token_file);
  free(c->username);
  free(c->password);
  kc_exec_free(c->exec);
  memset(c, 0, sizeof *c);
}

/* The server URL with a scheme (https when TLS settings say so, as
 * client-go defaults it) and no trailing slash. */
static char *server_url(const char *s, int tls) {
  size_t len = strlen(s);
  const char *scheme = strstr(s, "://") ? "" : tls ? "https://" : "http://";
  size_t sl = strlen(scheme);
  char *u = malloc(sl + len + 1);
  if (!u) return NULL;
  memcpy(u, scheme, sl);
  memcpy(u + sl, s, len + 1);
  size_t n = sl + len;
  char *body = strstr(u, "://");
  size_t min = body ? (size_t)(body - u) + 4 : 1;
  while (n > min && u[n - 1] == '/') u[--n] = '\0';
  return u;
}

/* The file an entry came from, for messages. */
static const char *src_of(const kubeconfig *kc, const entry *e) {
  return kc->files ? kc->files[e->file] : "(in memory)";
}

/* Finds the context (NULL or "": current-context), its cluster and its
 * user (*us stays NULL when the context names none). Returns 0, or -1
 * with err naming what is missing and listing the known names. */
static int lookup(const kubeconfig *kc, const char *context,
                  const entry **cx, const entry **cl, const entry **us,
                  char *err, size_t errlen) {
  char files[1024], known[1024], q1[72], q2[72];
  const char *name = context && *context ? context : kc->current;
  if (!name)
    return kc_errf(err, errlen, "kubeconfig %s: no context given and "
                   "current-context is not set; known contexts: %s",
                   files_str(kc, files, sizeof files),
                   names_str(kc, K_CONTEXT, known, sizeof known));
  if (!(*cx = kc_find_entry(kc, K_CONTEXT, name)))
    return kc_errf(err, errlen, "kubeconfig %s: context %s not found; known "
                   "contexts: %s", files_str(kc, files, sizeof files),
                   kc_qname(name, q1),
                   names_str(kc, K_CONTEXT, known, sizeof known));
  const kc_context *x = &(*cx)->v.x;
  const char *src = src_of(kc, *cx);
  if (!x->cluster)
    return kc_errf(err, errlen, "kubeconfig %s: context %s names no cluster",
                   src, kc_qname(name, q1));
  if (!(*cl = kc_find_entry(kc, K_CLUSTER, x->cluster)))
    return kc_errf(err, errlen, "kubeconfig %s: cluster %s (of context %s) "
                   "not found; known clusters: %s", src,
                   kc_qname(x->cluster, q1), kc_qname(name, q2),
                   names_str(kc, K_CLUSTER, known, sizeof known));
  *us = NULL;
  if (x->user && !(*us = kc_find_entry(kc, K_USER, x->user)))
    return kc_errf(err, errlen, "kubeconfig %s: user %s (of context %s) not "
                   "found; known users: %s", src, kc_qname(x->user, q1),
                   kc_qname(name, q2),
                   names_str(kc, K_USER, known, sizeof known));
  return 0;
}

/* What client-go refuses to combine: a cluster without a server or with
 * both a CA and insecure-skip-tls-verify; a user with an auth-provider, a
 * certificate without its key (or the reverse), or token and basic auth
 * together. Returns 0, or -1 with err set. */
static int check(const kubeconfig *kc, const entry *cl, const entry *us,
                 char *err, size_t errlen) {
  char q1[72], q2[72];
  const kc_cluster *c = &cl->v.c;
  const char *csrc = src_of(kc, cl);
  if (!c->server)
    return kc_errf(err, errlen, "kubeconfig %s: cluster %s has no server",
                   csrc, kc_qname(cl->name, q1));
  if (c->insecure && (c->ca_file || c->ca_data))
    return kc_errf(err, errlen, "kubeconfig %s: cluster %s sets both "
                   "insecure-skip-tls-verify and a certificate authority; a "
                   "CA cannot be combined with skipping verification", csrc,
                   kc_qname(cl->name, q1));
  if (!us) return 0;
  const kc_user *u = &us->v.u;
  const char *usrc = src_of(kc, us);
  if (u->auth_provider)
    return kc_errf(err, errlen, "kubeconfig %s: user %s uses auth-provider "
                   "%s, which summit does not support; use an exec "
                   "credential plugin instead", usrc, kc_qname(us->name, q1),
                   kc_qname(u->auth_provider, q2));
  if ((u->cert_file || u->cert_data) && !(u->key_file || u->key_data))
    return kc_errf(err, errlen, "kubeconfig %s: user %s has a client "
                   "certificate but no client-key or client-key-data", usrc,
                   kc_qname(us->name, q1));
  if ((u->key_file || u->key_data) && !(u->cert_file || u->cert_data))
    return kc_errf(err, errlen, "kubeconfig %s: user %s has a client key but "
                   "no client-certificate or client-certificate-data", usrc,
                   kc_qname(us->name, q1));
  if ((u->token || u->token_file) && (u->username || u->password))
    return kc_errf(err, errlen, "kubeconfig %s: user %s has more than one "
                   "authentication method (token and basic auth); only one "
                   "is allowed", usrc, kc_qname(us->name, q1));
  return 0;
}

/* Copies the user's credentials into out (*-data wins over the file, as
 * in client-go). Sets *oom when a copy fails. */
static void fill_user(kube_conn *out, const entry *us, int *oom) {
  const kc_user *u = &us->v.u;
  out->user = kc_dup_or_null(us->name, oom);
  out->client_cert_data = kc_dupn_or_null(u->cert_data, u->cert_data_len, oom);
  out->client_cert_data_len = u->cert_data_len;
  if (!u->cert_data) out->client_cert_file = kc_dup_or_null(u->cert_file, oom);
  out->client_key_data = kc_dupn_or_null(u->key_data, u->key_data_len, oom);
  out->client_key_data_len = u->key_data_len;
  if (!u->key_data) out->client_key_file = kc_dup_or_null(u->key_file, oom);
  out->token = kc_dup_or_null(u->token, oom);
  out->token_file = kc_dup_or_null(u->token_file, oom);
  out->username = kc_dup_or_null(u->username, oom);
  out->password = kc_dup_or_null(u->password, oom);
  if (u->exec) out->exec = exec_dup(u->exec, oom);
}

int kubeconfig_resolve(const kubeconfig *kc, const char *context,
                       kube_conn *out, char *err, size_t errlen) {
  const entry *cx, *cl, *us;
  memset(out, 0, sizeof *out);
  if (!kc) return kc_errf(err, errlen, "kubeconfig: no config");
  if (lookup(kc, context, &cx, &cl, &us, err, errlen) ||
      check(kc, cl, us, err, errlen))
    return -1;

  const kc_cluster *c = &cl->v.c;
  int o = 0;
  out->source = kc_dup_or_null(src_of(kc, cx), &o);
  out->context = kc_dup_or_null(cx->name, &o);
  out->cluster = kc_dup_or_null(cl->name, &o);
  out->ns = kc_dup_or_null(cx->v.x.ns ? cx->v.x.ns : "default", &o);
  /* *-data wins over the file, as in client-go. */
  out->ca_data = kc_dupn_or_null(c->ca_data, c->ca_data_len, &o);
  out->ca_data_len = c->ca_data_len;
  if (!c->ca_data) out->ca_file = kc_dup_or_null(c->ca_file, &o);
  out->insecure = c->insecure;
  out->tls_server_name = kc_dup_or_null(c->tls_server_name, &o);
  out->proxy_url = kc_dup_or_null(c->proxy_url, &o);
  int tls = c->ca_data || c->ca_file || c->insecure;
  if (us) {
    fill_user(out, us, &o);
    tls |= us->v.u.cert_data || us->v.u.cert_file;
  }
  if (!(out->server = server_url(c->server, tls))) o = 1;
  if (o) {
    kube_conn_free(out);
    return kc_errf(err, errlen, "kubeconfig: out of memory");
  }
  return 0;
}
