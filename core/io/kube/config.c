/* The merged kubeconfig (see io/kubeconfig.h): which files kubectl would
 * read, loading and merging them (the first definition of a name wins),
 * and the entries' lifetime. Parsing one document is yaml.c's; turning a
 * context into a connection is resolve.c's. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/kube/internal.h"

void kc_exec_free(kube_exec *e) {
  if (!e) return;
  free(e->command);
  for (size_t i = 0; i < e->n_args; i++) free(e->args[i]);
  free(e->args);
  for (size_t i = 0; i < e->n_env; i++) {
    free(e->env[i].name);
    free(e->env[i].value);
  }
  free(e->env);
  free(e->api_version);
  free(e->install_hint);
  free(e);
}

void kc_entry_free(int kind, entry *e) {
  free(e->name);
  switch (kind) {
  case K_CLUSTER:
    free(e->v.c.server);
    free(e->v.c.ca_file);
    free(e->v.c.tls_server_name);
    free(e->v.c.proxy_url);
    free(e->v.c.ca_data);
    break;
  case K_USER:
    free(e->v.u.cert_file);
    free(e->v.u.key_file);
    free(e->v.u.token);
    free(e->v.u.token_file);
    free(e->v.u.username);
    free(e->v.u.password);
    free(e->v.u.cert_data);
    free(e->v.u.key_data);
    free(e->v.u.auth_provider);
    kc_exec_free(e->v.u.exec);
    break;
  default:
    free(e->v.x.cluster);
    free(e->v.x.user);
    free(e->v.x.ns);
    break;
  }
  memset(e, 0, sizeof *e);
}

void kubeconfig_free(kubeconfig *kc) {
  if (!kc) return;
  for (size_t i = 0; i < kc->n_files; i++) free(kc->files[i]);
  free(kc->files);
  for (int k = 0; k < K_COUNT; k++) {
    for (size_t i = 0; i < kc->n_ent[k]; i++) kc_entry_free(k, &kc->ent[k][i]);
    free(kc->ent[k]);
  }
  free(kc->current);
  free(kc);
}

entry *kc_find_entry(const kubeconfig *kc, int kind, const char *name) {
  for (size_t i = 0; i < kc->n_ent[kind]; i++)
    if (strcmp(kc->ent[kind][i].name, name) == 0) return &kc->ent[kind][i];
  return NULL;
}

/* Appends e (moved in). Returns 0, or -1 when memory runs out. */
int kc_push_entry(kubeconfig *kc, int kind, entry *e) {
  if (kc->n_ent[kind] == kc->cap_ent[kind]) {
    size_t cap = kc->cap_ent[kind] ? kc->cap_ent[kind] * 2 : 4;
    entry *ne = realloc(kc->ent[kind], cap * sizeof *ne);
    if (!ne) return -1;
    kc->ent[kind] = ne;
    kc->cap_ent[kind] = cap;
  }
  kc->ent[kind][kc->n_ent[kind]++] = *e;
  memset(e, 0, sizeof *e);
  return 0;
}


char **kubeconfig_default_paths(size_t *n) {
  size_t cnt = 0;
  char **v = NULL;
  const char *env = getenv("KUBECONFIG");
  if (n) *n = 0;
  if (env && *env) {
    size_t max = 1;
    for (const char *s = env; *s; s++) max += *s == ':';
    v = calloc(max + 1, sizeof *v);
    if (!v) return NULL;
    const char *s = env;
    while (*s) {
      const char *e = strchr(s, ':');
      size_t len = e ? (size_t)(e - s) : strlen(s);
      if (len) {
        int seen = 0;
        for (size_t i = 0; i < cnt && !seen; i++)
          seen = strlen(v[i]) == len && !memcmp(v[i], s, len);
        if (!seen) {
          if (!(v[cnt] = kc_memdup0(s, len))) {
            kubeconfig_paths_free(v);
            return NULL;
          }
          cnt++;
        }
      }
      s += len;
      if (*s == ':') s++;
    }
  }
  if (cnt == 0) {
    free(v);
    const char *home = getenv("HOME");
    if (!home || !*home) {
      struct passwd *pw = getpwuid(getuid());
      home = pw ? pw->pw_dir : NULL;
    }
    if (!home) return NULL;
    v = calloc(2, sizeof *v);
    if (!v) return NULL;
    if (!(v[0] = kc_path_join(home, ".kube/config"))) {
      free(v);
      return NULL;
    }
    /* path_join cleans only absolute paths; a relative HOME stays as is. */
    cnt = 1;
  }
  if (n) *n = cnt;
  return v;
}

void kubeconfig_paths_free(char **paths) {
  if (!paths) return;
  for (size_t i = 0; paths[i]; i++) free(paths[i]);
  free(paths);
}

kubeconfig *kubeconfig_load(const char *const *paths, size_t n, char *err,
                            size_t errlen) {
  if (n == 0 || !paths) {
    kc_errf(err, errlen, "kubeconfig: no file given");
    return NULL;
  }
  kubeconfig *kc = calloc(1, sizeof *kc);
  if (!kc) {
    kc_errf(err, errlen, "kubeconfig: out of memory");
    return NULL;
  }
  size_t found = 0;
  for (size_t i = 0; i < n; i++) {
    char *data;
    size_t len;
    int e = kc_read_all(paths[i], KC_MAX_FILE, &data, &len);
    if (e == ENOENT && n > 1) continue;   /* kubectl skips missing entries */
    if (e) {
      if (e == EFBIG)
        kc_errf(err, errlen, "kubeconfig %s: larger than %u bytes", paths[i],
             KC_MAX_FILE);
      else
        kc_errf(err, errlen, "kubeconfig %s: %s", paths[i], strerror(e));
      kubeconfig_free(kc);
      return NULL;
    }
    found++;
    int rc = kc_parse_into(kc, data, len, paths[i], err, errlen);
    free(data);
    if (rc) {
      kubeconfig_free(kc);
      return NULL;
    }
  }
  if (found == 0) {
    char list[1024];
    size_t w = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n && w < sizeof list; i++) {
      int r = snprintf(list + w, sizeof list - w, "%s%s", i ? ", " : "",
                       paths[i]);
      if (r < 0) break;
      w += (size_t)r;
    }
    kc_errf(err, errlen, "kubeconfig: none of these files exists: %s", list);
    kubeconfig_free(kc);
    return NULL;
  }
  return kc;
}

kubeconfig *kubeconfig_parse(const char *data, size_t len, const char *path,
                             char *err, size_t errlen) {
  kubeconfig *kc = calloc(1, sizeof *kc);
  if (!kc) {
    kc_errf(err, errlen, "kubeconfig: out of memory");
    return NULL;
  }
  if (kc_parse_into(kc, data ? data : "", data ? len : 0, path, err, errlen)) {
    kubeconfig_free(kc);
    return NULL;
  }
  return kc;
}

const char *kubeconfig_current_context(const kubeconfig *kc) {
  return kc ? kc->current : NULL;
}

size_t kubeconfig_context_count(const kubeconfig *kc) {
  return kc ? kc->n_ent[K_CONTEXT] : 0;
}

const char *kubeconfig_context_name(const kubeconfig *kc, size_t i) {
  if (!kc || i >= kc->n_ent[K_CONTEXT]) return NULL;
  return kc->ent[K_CONTEXT][i].name;
}
