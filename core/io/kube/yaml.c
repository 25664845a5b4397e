/* One kubeconfig document (YAML, or JSON, which is YAML too) merged into
 * the config (see internal.h).
 *
 * The document is loaded whole with libyaml's document API (kubeconfigs
 * are small) and walked by hand: only the keys kubectl knows are read, at
 * the depth it reads them, so a hostile document (deep nesting, aliases
 * fanning out) costs at most what libyaml itself spends on it. Every entry
 * is parsed and checked completely, even one that an earlier file shadows,
 * because kubectl fails on a broken file too. Base64 fields are decoded at
 * load time so their errors carry line:column. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "io/kube/internal.h"

#define WLEN 256                  /* a field path in messages */

static const char *const kind_list[K_COUNT] = {"clusters", "users",
                                               "contexts"};
static const char *const kind_one[K_COUNT] = {"cluster", "user", "context"};

typedef struct {
  kubeconfig *kc;
  yaml_document_t *doc;
  const char *path;      /* for messages */
  char *dir;             /* anchors relative paths; NULL: leave them */
  size_t file;
  char *err;
  size_t errlen;
} pstate;

/* Reports "kubeconfig <path>:<line>:<col>: <msg>". Returns -1. */
static int perr(pstate *ps, const yaml_node_t *n, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n)
    return kc_errf(ps->err, ps->errlen, "kubeconfig %s:%zu:%zu: %s", ps->path,
                (size_t)n->start_mark.line + 1,
                (size_t)n->start_mark.column + 1, msg);
  return kc_errf(ps->err, ps->errlen, "kubeconfig %s: %s", ps->path, msg);
}

static int oom(pstate *ps) {
  return perr(ps, NULL, "out of memory");
}

static const char *node_kind(const yaml_node_t *n) {
  switch (n->type) {
  case YAML_SCALAR_NODE: return "string";
  case YAML_SEQUENCE_NODE: return "list";
  case YAML_MAPPING_NODE: return "mapping";
  default: return "nothing";
  }
}

static int is_null(const yaml_node_t *n) {
  if (n->type != YAML_SCALAR_NODE) return 0;
  if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
  const char *v = (const char *)n->data.scalar.value;
  size_t len = n->data.scalar.length;
  return len == 0 || (len == 1 && v[0] == '~') ||
         (len == 4 && (!memcmp(v, "null", 4) || !memcmp(v, "Null", 4) ||
                       !memcmp(v, "NULL", 4)));
}

static int key_is(const yaml_node_t *k, const char *s) {
  size_t n = strlen(s);
  return k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == n &&
         memcmp(k->data.scalar.value, s, n) == 0;
}

static yaml_node_t *node(pstate *ps, int id) {
  return yaml_document_get_node(ps->doc, id);
}

/* Copies the string value of n to *out (freeing what was there). YAML null
 * gives NULL; so does "" unless keep_empty. where names the field. */
static int get_str(pstate *ps, yaml_node_t *n, const char *where,
                   int keep_empty, char **out) {
  if (n->type != YAML_SCALAR_NODE)
    return perr(ps, n, "%s must be a string, not a %s", where, node_kind(n));
  char *s = NULL;
  if (!is_null(n)) {
    const char *v = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    if (memchr(v, '\0', len))
      return perr(ps, n, "%s contains a NUL byte", where);
    if (len || keep_empty) {
      s = kc_memdup0(v, len);
      if (!s) return oom(ps);
    }
  }
  free(*out);
  *out = s;
  return 0;
}

static int get_bool(pstate *ps, yaml_node_t *n, const char *where, int *out) {
  static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
                                    "YES", "on", "On", "ON", NULL};
  static const char *const no[] = {"false", "False", "FALSE", "no", "No",
                                   "NO", "off", "Off", "OFF", NULL};
  if (is_null(n)) {
    *out = 0;
    return 0;
  }
  if (n->type == YAML_SCALAR_NODE) {
    const char *v = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    for (int i = 0; yes[i]; i++)
      if (strlen(yes[i]) == len && !memcmp(v, yes[i], len)) {
        *out = 1;
        return 0;
      }
    for (int i = 0; no[i]; i++)
      if (strlen(no[i]) == len && !memcmp(v, no[i], len)) {
        *out = 0;
        return 0;
      }
  }
  return perr(ps, n, "%s must be true or false", where);
}

/* Makes a relative path absolute against the file's directory. */
static int resolve_path(pstate *ps, char **p) {
  if (!*p || (*p)[0] == '/' || !ps->dir) return 0;
  char *abs = kc_path_join(ps->dir, *p);
  if (!abs) return oom(ps);
  free(*p);
  *p = abs;
  return 0;
}

enum { F_STR, F_PATH, F_B64, F_BOOL, F_EXEC, F_AUTHP };

typedef struct {
  const char *key;
  int kind;
  size_t off, len_off;
} field;

#define FC(k, t, f) {k, t, offsetof(kc_cluster, f), 0}
#define FU(k, t, f) {k, t, offsetof(kc_user, f), 0}
#define FX(k, t, f) {k, t, offsetof(kc_context, f), 0}

static const field cluster_fields[] = {
  FC("server", F_STR, server),
  FC("certificate-authority", F_PATH, ca_file),
  {"certificate-authority-data", F_B64, offsetof(kc_cluster, ca_data),
   offsetof(kc_cluster, ca_data_len)},
  FC("insecure-skip-tls-verify", F_BOOL, insecure),
  FC("tls-server-name", F_STR, tls_server_name),
  FC("proxy-url", F_STR, proxy_url),
  {NULL, 0, 0, 0}
};

static const field user_fields[] = {
  FU("client-certificate", F_PATH, cert_file),
  {"client-certificate-data", F_B64, offsetof(kc_user, cert_data),
   offsetof(kc_user, cert_data_len)},
  FU("client-key", F_PATH, key_file),
  {"client-key-data", F_B64, offsetof(kc_user, key_data),
   offsetof(kc_user, key_data_len)},
  FU("token", F_STR, token),
  FU("tokenFile", F_PATH, token_file),
  FU("username", F_STR, username),
  FU("password", F_STR, password),
  FU("exec", F_EXEC, exec),
  FU("auth-provider", F_AUTHP, auth_provider),
  {NULL, 0, 0, 0}
};

static const field context_fields[] = {
  FX("cluster", F_STR, cluster),
  FX("user", F_STR, user),
  FX("namespace", F_STR, ns),
  {NULL, 0, 0, 0}
};

static const field *const kind_fields[K_COUNT] = {cluster_fields, user_fields,
                                                  context_fields};

static int parse_exec(pstate *ps, yaml_node_t *n, const char *where,
                      kube_exec **out);

/* Reads the fields of one mapping into the struct at base. */
static int parse_fields(pstate *ps, yaml_node_t *map, const char *where,
                        void *base, const field *fields) {
  char w[WLEN];
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
       p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *k = node(ps, p->key), *v = node(ps, p->value);
    if (!k || !v) continue;
    const field *f = fields;
    while (f->key && !key_is(k, f->key)) f++;
    if (!f->key) continue;   /* unknown keys are ignored, like kubectl */
    snprintf(w, sizeof w, "%.160s.%s", where, f->key);
    char **sp = (char **)((char *)base + f->off);
    switch (f->kind) {
    case F_STR:
      if (get_str(ps, v, w, 0, sp)) return -1;
      break;
    case F_PATH:
      if (get_str(ps, v, w, 0, sp) || resolve_path(ps, sp)) return -1;
      break;
    case F_B64: {
      char *raw = NULL, *data = NULL;
      size_t len = 0;
      int nomem = 0, r = 0;
      if (get_str(ps, v, w, 0, &raw)) return -1;
      if (raw) r = kc_b64_decode(raw, strlen(raw), &data, &len, &nomem);
      free(raw);
      if (nomem) return oom(ps);
      if (r) return perr(ps, v, "%s is not valid base64", w);
      free(*sp);
      *sp = data;
      *(size_t *)((char *)base + f->len_off) = len;
      break;
    }
    case F_BOOL:
      if (get_bool(ps, v, w, (int *)((char *)base + f->off))) return -1;
      break;
    case F_EXEC:
      if (parse_exec(ps, v, w, (kube_exec **)((char *)base + f->off)))
        return -1;
      break;
    case F_AUTHP: {
      /* Only its name is kept: summit refuses auth-providers. */
      char *name = NULL;
      if (is_null(v)) break;
      if (v->type != YAML_MAPPING_NODE)
        return perr(ps, v, "%s must be a mapping, not a %s", w,
                    node_kind(v));
      for (yaml_node_pair_t *q = v->data.mapping.pairs.start;
           q < v->data.mapping.pairs.top; q++) {
        yaml_node_t *qk = node(ps, q->key), *qv = node(ps, q->value);
        if (qk && qv && key_is(qk, "name")) {
          char wn[WLEN];
          snprintf(wn, sizeof wn, "%.200s.name", w);
          if (get_str(ps, qv, wn, 0, &name)) return -1;
        }
      }
      free(*sp);
      *sp = name ? name : strdup("");
      if (!*sp) return oom(ps);
      break;
    }
    }
  }
  return 0;
}

/* Checks that v is a list and allocates a zeroed array for its items (at
 * least one element, so an empty list is not NULL). Returns the array with
 * the item count in *cnt, or NULL, reported. */
static void *seq_array(pstate *ps, yaml_node_t *v, const char *where,
                       size_t elem, size_t *cnt) {
  if (v->type != YAML_SEQUENCE_NODE) {
    perr(ps, v, "%s must be a list, not a %s", where, node_kind(v));
    return NULL;
  }
  *cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  void *a = calloc(*cnt ? *cnt : 1, elem);
  if (!a) oom(ps);
  return a;
}

/* exec.args: a list of strings (empty ones kept). A repeated key: the
 * last one wins. */
static int parse_exec_args(pstate *ps, yaml_node_t *v, const char *w,
                           kube_exec *e) {
  size_t cnt;
  char **args = seq_array(ps, v, w, sizeof *args, &cnt);
  if (!args) return -1;
  for (size_t i = 0; i < e->n_args; i++) free(e->args[i]);
  free(e->args);
  e->args = args;
  e->n_args = 0;
  for (size_t i = 0; i < cnt; i++) {
    yaml_node_t *a = node(ps, v->data.sequence.items.start[i]);
    char wa[WLEN];
    snprintf(wa, sizeof wa, "%.200s[%zu]", w, i);
    if (!a) continue;
    char *s = NULL;
    if (get_str(ps, a, wa, 1, &s)) return -1;
    e->args[e->n_args++] = s ? s : strdup("");
    if (!e->args[e->n_args - 1]) return oom(ps);
  }
  return 0;
}

/* One item of exec.env: {name, value}; name required, value may be empty. */
static int parse_exec_env_item(pstate *ps, yaml_node_t *en, const char *w,
                               size_t i, kube_env *kv) {
  char we[WLEN];
  if (en->type != YAML_MAPPING_NODE)
    return perr(ps, en, "%s[%zu] must be a mapping, not a %s", w, i,
                node_kind(en));
  for (yaml_node_pair_t *q = en->data.mapping.pairs.start;
       q < en->data.mapping.pairs.top; q++) {
    yaml_node_t *qk = node(ps, q->key), *qv = node(ps, q->value);
    if (!qk || !qv) continue;
    if (key_is(qk, "name")) {
      snprintf(we, sizeof we, "%.200s[%zu].name", w, i);
      if (get_str(ps, qv, we, 0, &kv->name)) return -1;
    } else if (key_is(qk, "value")) {
      snprintf(we, sizeof we, "%.200s[%zu].value", w, i);
      if (get_str(ps, qv, we, 1, &kv->value)) return -1;
    }
  }
  if (!kv->name) return perr(ps, en, "%s[%zu] has no name", w, i);
  if (!kv->value && !(kv->value = strdup(""))) return oom(ps);
  return 0;
}

/* exec.env: a list of {name, value}. A repeated key: the last one wins. */
static int parse_exec_env(pstate *ps, yaml_node_t *v, const char *w,
                          kube_exec *e) {
  size_t cnt;
  kube_env *env = seq_array(ps, v, w, sizeof *env, &cnt);
  if (!env) return -1;
  for (size_t i = 0; i < e->n_env; i++) {
    free(e->env[i].name);
    free(e->env[i].value);
  }
  free(e->env);
  e->env = env;
  e->n_env = 0;
  for (size_t i = 0; i < cnt; i++) {
    yaml_node_t *en = node(ps, v->data.sequence.items.start[i]);
    if (!en) continue;
    /* Counted before parsing, so a failure frees what it holds. */
    if (parse_exec_env_item(ps, en, w, i, &e->env[e->n_env++])) return -1;
  }
  return 0;
}

/* One key of an exec mapping into e (*mode gets interactiveMode's text). */
static int parse_exec_key(pstate *ps, yaml_node_t *k, yaml_node_t *v,
                          const char *w, kube_exec *e, char **mode) {
  if (key_is(k, "command")) {
    if (get_str(ps, v, w, 0, &e->command)) return -1;
    /* kubectl resolves the command only when it is not PATH-based. */
    if (e->command && strchr(e->command, '/'))
      return resolve_path(ps, &e->command);
  } else if (key_is(k, "apiVersion")) {
    return get_str(ps, v, w, 0, &e->api_version);
  } else if (key_is(k, "interactiveMode")) {
    return get_str(ps, v, w, 0, mode);
  } else if (key_is(k, "provideClusterInfo")) {
    return get_bool(ps, v, w, &e->provide_cluster_info);
  } else if (key_is(k, "installHint")) {
    return get_str(ps, v, w, 0, &e->install_hint);
  } else if (key_is(k, "args")) {
    return is_null(v) ? 0 : parse_exec_args(ps, v, w, e);
  } else if (key_is(k, "env")) {
    return is_null(v) ? 0 : parse_exec_env(ps, v, w, e);
  }
  return 0;
}

/* The checks kubectl makes of a whole exec config: a command, a known
 * apiVersion, and an interactiveMode (required by v1; v1beta1 defaults
 * to IfAvailable). */
static int check_exec(pstate *ps, yaml_node_t *n, const char *where,
                      kube_exec *e, const char *mode) {
  char q[72];
  if (!e->command) return perr(ps, n, "%s.command is required", where);
  int v1 = e->api_version && !strcmp(e->api_version, EXEC_V1);
  int v1beta1 = e->api_version && !strcmp(e->api_version, EXEC_V1BETA1);
  if (!v1 && !v1beta1)
    return perr(ps, n, "%s.apiVersion %s is not supported (use %s or %s)",
                where, e->api_version ? kc_qname(e->api_version, q)
                : "(missing)", EXEC_V1, EXEC_V1BETA1);
  if (!mode) {
    if (v1)
      return perr(ps, n, "%s.interactiveMode must be specified for %s",
                  where, EXEC_V1);
    e->interactive_mode = KUBE_EXEC_IF_AVAILABLE;
  } else if (!strcmp(mode, "IfAvailable")) {
    e->interactive_mode = KUBE_EXEC_IF_AVAILABLE;
  } else if (!strcmp(mode, "Never")) {
    e->interactive_mode = KUBE_EXEC_NEVER;
  } else if (!strcmp(mode, "Always")) {
    e->interactive_mode = KUBE_EXEC_ALWAYS;
  } else {
    return perr(ps, n, "%s.interactiveMode %s is not one of Never, "
                "IfAvailable, Always", where, kc_qname(mode, q));
  }
  return 0;
}

/* users[].user.exec: replaces *out with the parsed config (null: none). */
static int parse_exec(pstate *ps, yaml_node_t *n, const char *where,
                      kube_exec **out) {
  char w[WLEN];
  if (is_null(n)) {
    kc_exec_free(*out);
    *out = NULL;
    return 0;
  }
  if (n->type != YAML_MAPPING_NODE)
    return perr(ps, n, "%s must be a mapping, not a %s", where, node_kind(n));
  kube_exec *e = calloc(1, sizeof *e);
  if (!e) return oom(ps);
  char *mode = NULL;
  int rc = 0;
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
       p < n->data.mapping.pairs.top && rc == 0; p++) {
    yaml_node_t *k = node(ps, p->key), *v = node(ps, p->value);
    if (!k || !v || k->type != YAML_SCALAR_NODE) continue;
    snprintf(w, sizeof w, "%.160s.%.*s", where,
             (int)(k->data.scalar.length > 40 ? 40 : k->data.scalar.length),
             (const char *)k->data.scalar.value);
    rc = parse_exec_key(ps, k, v, w, e, &mode);
  }
  if (rc == 0) rc = check_exec(ps, n, where, e, mode);
  free(mode);
  if (rc) {
    kc_exec_free(e);
    return -1;
  }
  kc_exec_free(*out);
  *out = e;
  return 0;
}

/* Parses clusters:, users: or contexts: (a list of {name, <kind>: {...}})
 * and merges it: a name from an earlier file wins, a name twice in this
 * file is an error. */
static int parse_list(pstate *ps, int kind, yaml_node_t *list) {
  char w[WLEN], wi[WLEN];
  char q[72];
  if (is_null(list)) return 0;
  if (list->type != YAML_SEQUENCE_NODE)
    return perr(ps, list, "%s must be a list, not a %s", kind_list[kind],
                node_kind(list));
  size_t cnt = (size_t)(list->data.sequence.items.top -
                        list->data.sequence.items.start);
  for (size_t i = 0; i < cnt; i++) {
    yaml_node_t *item = node(ps, list->data.sequence.items.start[i]);
    if (!item) continue;
    snprintf(w, sizeof w, "%s[%zu]", kind_list[kind], i);
    if (item->type != YAML_MAPPING_NODE)
      return perr(ps, item, "%s must be a mapping, not a %s", w,
                  node_kind(item));
    entry e;
    memset(&e, 0, sizeof e);
    e.file = ps->file;
    for (yaml_node_pair_t *p = item->data.mapping.pairs.start;
         p < item->data.mapping.pairs.top; p++) {
      yaml_node_t *k = node(ps, p->key), *v = node(ps, p->value);
      if (!k || !v) continue;
      if (key_is(k, "name")) {
        snprintf(wi, sizeof wi, "%.200s.name", w);
        if (get_str(ps, v, wi, 0, &e.name)) goto fail;
      } else if (key_is(k, kind_one[kind])) {
        snprintf(wi, sizeof wi, "%.200s.%s", w, kind_one[kind]);
        if (is_null(v)) continue;
        if (v->type != YAML_MAPPING_NODE) {
          perr(ps, v, "%s must be a mapping, not a %s", wi, node_kind(v));
          goto fail;
        }
        if (parse_fields(ps, v, wi, &e.v, kind_fields[kind])) goto fail;
      }
    }
    if (!e.name) {
      perr(ps, item, "%s has no name", w);
      goto fail;
    }
    entry *old = kc_find_entry(ps->kc, kind, e.name);
    if (old && old->file == ps->file) {
      perr(ps, item, "%s %s is defined twice", kind_one[kind],
           kc_qname(e.name, q));
      goto fail;
    }
    if (old) {
      kc_entry_free(kind, &e);   /* an earlier file defines it: that wins */
      continue;
    }
    if (kc_push_entry(ps->kc, kind, &e)) {
      kc_entry_free(kind, &e);
      return oom(ps);
    }
    continue;
  fail:
    kc_entry_free(kind, &e);
    return -1;
  }
  return 0;
}

/* Parses one kubeconfig document and merges it into kc. */
int kc_parse_into(kubeconfig *kc, const char *data, size_t len,
                      const char *path, char *err, size_t errlen) {
  pstate ps = {kc, NULL, path ? path : "(in memory)", NULL, kc->n_files,
               err, errlen};
  if (path) {
    char **nf = realloc(kc->files, (kc->n_files + 1) * sizeof *nf);
    if (!nf) return oom(&ps);
    kc->files = nf;
    if (!(kc->files[kc->n_files] = strdup(path))) return oom(&ps);
    kc->n_files++;
    ps.dir = kc_dir_of(path);   /* NULL: relative paths stay relative */
  }

  yaml_parser_t parser;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&parser)) {
    free(ps.dir);
    return oom(&ps);
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
  if (!yaml_parser_load(&parser, &doc)) {
    const char *problem = parser.problem ? parser.problem : "out of memory";
    if (parser.error == YAML_MEMORY_ERROR) problem = "out of memory";
    if (parser.error == YAML_READER_ERROR)
      /* Bad encoding or control bytes: libyaml knows only the offset. */
      kc_errf(err, errlen, "kubeconfig %s: not a YAML or JSON text: %s (byte "
           "0x%02x at offset %zu)", ps.path, problem,
           (unsigned)(parser.problem_value & 0xff), parser.problem_offset);
    else if (parser.context)
      kc_errf(err, errlen, "kubeconfig %s:%zu:%zu: %s (%s at %zu:%zu)",
           ps.path, parser.problem_mark.line + 1,
           parser.problem_mark.column + 1, problem, parser.context,
           parser.context_mark.line + 1, parser.context_mark.column + 1);
    else
      kc_errf(err, errlen, "kubeconfig %s:%zu:%zu: %s", ps.path,
           parser.problem_mark.line + 1, parser.problem_mark.column + 1,
           problem);
    yaml_parser_delete(&parser);
    free(ps.dir);
    return -1;
  }
  yaml_parser_delete(&parser);
  ps.doc = &doc;

  int rc = 0;
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (!root || is_null(root)) goto done;   /* empty: an empty config */
  if (root->type != YAML_MAPPING_NODE) {
    rc = perr(&ps, root, "the top level must be a mapping (clusters, users, "
              "contexts, current-context), not a %s", node_kind(root));
    goto done;
  }
  for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
       p < root->data.mapping.pairs.top && rc == 0; p++) {
    yaml_node_t *k = node(&ps, p->key), *v = node(&ps, p->value);
    if (!k || !v) continue;
    if (key_is(k, "clusters")) rc = parse_list(&ps, K_CLUSTER, v);
    else if (key_is(k, "users")) rc = parse_list(&ps, K_USER, v);
    else if (key_is(k, "contexts")) rc = parse_list(&ps, K_CONTEXT, v);
    else if (key_is(k, "current-context")) {
      char *cur = NULL;
      rc = get_str(&ps, v, "current-context", 0, &cur);
      if (rc == 0 && cur && !kc->current) kc->current = cur;
      else free(cur);
    }
  }
done:
  yaml_document_delete(&doc);
  free(ps.dir);
  return rc;
}
