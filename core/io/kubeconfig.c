/* Kubernetes connection settings (see kubeconfig.h).
 *
 * A kubeconfig file is loaded whole with libyaml's document API (kubeconfigs
 * are small) and walked by hand: only the keys kubectl knows are read, at
 * the depth it reads them, so a hostile document (deep nesting, aliases
 * fanning out) costs at most what libyaml itself spends on it. Every entry
 * is parsed and checked completely, even one that an earlier file shadows,
 * because kubectl fails on a broken file too. Base64 fields are decoded at
 * load time so their errors carry line:column.
 *
 * The merged config keeps three arrays of named entries (clusters, users,
 * contexts) in definition order, each remembering the file it came from.
 * Lookups are linear: a kubeconfig has a handful of entries. */
#include "io/kubeconfig.h"

#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "io/rfc3339.h"

#define KC_MAX_FILE (16u << 20)   /* a kubeconfig beyond this is refused */
#define KC_MAX_SMALL (1u << 20)   /* token, namespace and CA files */
#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define WLEN 256                  /* a field path in messages */
#define EXEC_V1 "client.authentication.k8s.io/v1"
#define EXEC_V1BETA1 "client.authentication.k8s.io/v1beta1"

/* ---- small helpers ---------------------------------------------------- */

/* Writes a formatted message to err (when there is room for one). Always
 * returns -1 so callers can `return errf(...)`. */
static int errf(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* A name from a kubeconfig made safe to print: quoted, control bytes,
 * quotes and backslashes shown as '?', cut after 64 bytes. q must hold
 * 72 bytes. Returns q. */
static const char *qname(const char *s, char *q) {
  size_t i, w = 0;
  q[w++] = '"';
  for (i = 0; s[i] && i < 64; i++) {
    unsigned char c = (unsigned char)s[i];
    q[w++] = (c < 0x20 || c == 0x7f || c == '"' || c == '\\') ? '?' : (char)c;
  }
  if (s[i]) {
    memcpy(q + w, "...", 3);
    w += 3;
  }
  q[w++] = '"';
  q[w] = '\0';
  return q;
}

/* Copies len bytes and adds a NUL. NULL when memory runs out. */
static char *memdup0(const char *s, size_t len) {
  char *d = malloc(len + 1);
  if (!d) return NULL;
  if (len) memcpy(d, s, len);
  d[len] = '\0';
  return d;
}

/* strdup that passes NULL through; sets *oom when the copy fails. */
static char *dup_or_null(const char *s, int *oom) {
  if (!s) return NULL;
  char *d = strdup(s);
  if (!d) *oom = 1;
  return d;
}

/* Data copy (NUL-terminated) that passes NULL through. */
static char *dupn_or_null(const char *s, size_t len, int *oom) {
  if (!s) return NULL;
  char *d = memdup0(s, len);
  if (!d) *oom = 1;
  return d;
}

/* Reads a whole regular file of at most cap bytes into a malloc'd,
 * NUL-terminated buffer. Returns 0, or an errno value (EFBIG beyond cap). */
static int read_all(const char *path, size_t cap, char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return e;
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return EISDIR;
  }
  size_t n = 0, size = 4096;
  char *buf = malloc(size);
  if (!buf) {
    close(fd);
    return ENOMEM;
  }
  for (;;) {
    if (n == size) {
      if (size > cap) {
        free(buf);
        close(fd);
        return EFBIG;
      }
      char *nb = realloc(buf, size * 2);
      if (!nb) {
        free(buf);
        close(fd);
        return ENOMEM;
      }
      buf = nb;
      size *= 2;
    }
    ssize_t r = read(fd, buf + n, size - n);
    if (r < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      free(buf);
      close(fd);
      return e;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  if (n > cap) {
    free(buf);
    return EFBIG;
  }
  char *nb = realloc(buf, n + 1);
  if (nb) buf = nb;
  else if (n == size) {
    free(buf);
    return ENOMEM;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
}

static void rtrim(char *s) {
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
}

/* Lexically cleans an absolute path in place, as Go's filepath.Clean
 * does: repeated slashes collapse, "." goes, ".." removes the previous
 * element (never above "/"). */
static void clean_abs(char *p) {
  size_t n = strlen(p), r = 1, w = 1;
  if (p[0] != '/') return;
  while (r < n) {
    if (p[r] == '/') {
      r++;
      continue;
    }
    size_t e = r;
    while (e < n && p[e] != '/') e++;
    size_t seg = e - r;
    if (seg == 1 && p[r] == '.') {
      /* Nothing to keep. */
    } else if (seg == 2 && p[r] == '.' && p[r + 1] == '.') {
      while (w > 1 && p[w - 1] != '/') w--;
      if (w > 1) w--;
    } else {
      if (w > 1) p[w++] = '/';
      memmove(p + w, p + r, seg);
      w += seg;
    }
    r = e;
  }
  p[w] = '\0';
}

/* dir + "/" + rel, cleaned. malloc'd, or NULL when memory runs out. */
static char *path_join(const char *dir, const char *rel) {
  size_t a = strlen(dir), b = strlen(rel);
  char *p = malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, rel, b + 1);
  clean_abs(p);
  return p;
}

/* The absolute, cleaned directory holding path, or NULL (no memory, or
 * the working directory is unknown). */
static char *dir_of(const char *path) {
  char *abs;
  if (path[0] == '/') {
    abs = strdup(path);
  } else {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    abs = path_join(cwd, path);
  }
  if (!abs) return NULL;
  clean_abs(abs);
  char *slash = strrchr(abs, '/');
  if (slash == abs) slash[1] = '\0';
  else *slash = '\0';
  return abs;
}

/* Decodes base64 (whitespace ignored, padding optional) with OpenSSL.
 * Empty input gives *out = NULL. Returns 0, or -1 for bad base64 or no
 * memory (*nomem set). The result is NUL-terminated. */
static int b64_decode(const char *s, size_t n, char **out, size_t *outlen,
                      int *nomem) {
  *out = NULL;
  *outlen = 0;
  if (n > INT_MAX - 8) return -1;
  char *clean = malloc(n + 4);
  if (!clean) {
    *nomem = 1;
    return -1;
  }
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (!isspace((unsigned char)s[i])) clean[m++] = s[i];
  size_t pad = 0;
  while (m && clean[m - 1] == '=' && pad < 2) {
    m--;
    pad++;
  }
  if (m == 0) {
    free(clean);
    return pad ? -1 : 0;
  }
  if (memchr(clean, '=', m) || m % 4 == 1) {
    free(clean);
    return -1;
  }
  /* 'A' is six zero bits: stand-in padding whose bytes are dropped. */
  size_t fill = (4 - m % 4) % 4;
  if (pad && pad != fill) {
    free(clean);
    return -1;
  }
  memset(clean + m, 'A', fill);
  size_t total = m + fill;
  unsigned char *dst = malloc(total / 4 * 3 + 1);
  if (!dst) {
    free(clean);
    *nomem = 1;
    return -1;
  }
  int r = EVP_DecodeBlock(dst, (const unsigned char *)clean, (int)total);
  free(clean);
  if (r < 0 || (size_t)r != total / 4 * 3) {
    free(dst);
    return -1;
  }
  size_t len = (size_t)r - fill;
  dst[len] = '\0';
  *out = (char *)dst;
  *outlen = len;
  return 0;
}

/* ---- the merged config ------------------------------------------------ */

enum { K_CLUSTER, K_USER, K_CONTEXT, K_COUNT };

static const char *const kind_list[K_COUNT] = {"clusters", "users",
                                               "contexts"};
static const char *const kind_one[K_COUNT] = {"cluster", "user", "context"};

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

static void exec_free(kube_exec *e) {
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

static void entry_free(int kind, entry *e) {
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
    exec_free(e->v.u.exec);
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
    for (size_t i = 0; i < kc->n_ent[k]; i++) entry_free(k, &kc->ent[k][i]);
    free(kc->ent[k]);
  }
  free(kc->current);
  free(kc);
}

static entry *find_entry(const kubeconfig *kc, int kind, const char *name) {
  for (size_t i = 0; i < kc->n_ent[kind]; i++)
    if (strcmp(kc->ent[kind][i].name, name) == 0) return &kc->ent[kind][i];
  return NULL;
}

/* Appends e (moved in). Returns 0, or -1 when memory runs out. */
static int push_entry(kubeconfig *kc, int kind, entry *e) {
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
                     qname(kc->ent[kind][i].name, q));
    if (r < 0) break;
    w += (size_t)r;
  }
  return buf;
}

/* ---- YAML walking ----------------------------------------------------- */

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
    return errf(ps->err, ps->errlen, "kubeconfig %s:%zu:%zu: %s", ps->path,
                (size_t)n->start_mark.line + 1,
                (size_t)n->start_mark.column + 1, msg);
  return errf(ps->err, ps->errlen, "kubeconfig %s: %s", ps->path, msg);
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
      s = memdup0(v, len);
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
  char *abs = path_join(ps->dir, *p);
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
      if (raw) r = b64_decode(raw, strlen(raw), &data, &len, &nomem);
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

static int parse_exec(pstate *ps, yaml_node_t *n, const char *where,
                      kube_exec **out) {
  char w[WLEN];
  if (is_null(n)) {
    exec_free(*out);
    *out = NULL;
    return 0;
  }
  if (n->type != YAML_MAPPING_NODE)
    return perr(ps, n, "%s must be a mapping, not a %s", where, node_kind(n));
  kube_exec *e = calloc(1, sizeof *e);
  if (!e) return oom(ps);
  char *mode = NULL;
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
       p < n->data.mapping.pairs.top; p++) {
    yaml_node_t *k = node(ps, p->key), *v = node(ps, p->value);
    if (!k || !v || k->type != YAML_SCALAR_NODE) continue;
    snprintf(w, sizeof w, "%.160s.%.*s", where,
             (int)(k->data.scalar.length > 40 ? 40 : k->data.scalar.length),
             (const char *)k->data.scalar.value);
    if (key_is(k, "command")) {
      if (get_str(ps, v, w, 0, &e->command)) goto fail;
      /* kubectl resolves the command only when it is not PATH-based. */
      if (e->command && strchr(e->command, '/') &&
          resolve_path(ps, &e->command))
        goto fail;
    } else if (key_is(k, "apiVersion")) {
      if (get_str(ps, v, w, 0, &e->api_version)) goto fail;
    } else if (key_is(k, "interactiveMode")) {
      if (get_str(ps, v, w, 0, &mode)) goto fail;
    } else if (key_is(k, "provideClusterInfo")) {
      if (get_bool(ps, v, w, &e->provide_cluster_info)) goto fail;
    } else if (key_is(k, "installHint")) {
      if (get_str(ps, v, w, 0, &e->install_hint)) goto fail;
    } else if (key_is(k, "args")) {
      if (is_null(v)) continue;
      if (v->type != YAML_SEQUENCE_NODE) {
        perr(ps, v, "%s must be a list, not a %s", w, node_kind(v));
        goto fail;
      }
      for (size_t i = 0; i < e->n_args; i++) free(e->args[i]);
      free(e->args);
      e->n_args = 0;
      size_t cnt = (size_t)(v->data.sequence.items.top -
                            v->data.sequence.items.start);
      e->args = calloc(cnt ? cnt : 1, sizeof *e->args);
      if (!e->args) {
        oom(ps);
        goto fail;
      }
      for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *a = node(ps, v->data.sequence.items.start[i]);
        char wa[WLEN];
        snprintf(wa, sizeof wa, "%.200s[%zu]", w, i);
        if (!a) continue;
        char *s = NULL;
        if (get_str(ps, a, wa, 1, &s)) goto fail;
        e->args[e->n_args++] = s ? s : strdup("");
        if (!e->args[e->n_args - 1]) {
          oom(ps);
          goto fail;
        }
      }
    } else if (key_is(k, "env")) {
      if (is_null(v)) continue;
      if (v->type != YAML_SEQUENCE_NODE) {
        perr(ps, v, "%s must be a list, not a %s", w, node_kind(v));
        goto fail;
      }
      for (size_t i = 0; i < e->n_env; i++) {
        free(e->env[i].name);
        free(e->env[i].value);
      }
      free(e->env);
      e->n_env = 0;
      size_t cnt = (size_t)(v->data.sequence.items.top -
                            v->data.sequence.items.start);
      e->env = calloc(cnt ? cnt : 1, sizeof *e->env);
      if (!e->env) {
        oom(ps);
        goto fail;
      }
      for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *en = node(ps, v->data.sequence.items.start[i]);
        char we[WLEN];
        if (!en) continue;
        if (en->type != YAML_MAPPING_NODE) {
          perr(ps, en, "%s[%zu] must be a mapping, not a %s", w, i,
               node_kind(en));
          goto fail;
        }
        kube_env *kv = &e->env[e->n_env++];
        for (yaml_node_pair_t *q = en->data.mapping.pairs.start;
             q < en->data.mapping.pairs.top; q++) {
          yaml_node_t *qk = node(ps, q->key), *qv = node(ps, q->value);
          if (!qk || !qv) continue;
          if (key_is(qk, "name")) {
            snprintf(we, sizeof we, "%.200s[%zu].name", w, i);
            if (get_str(ps, qv, we, 0, &kv->name)) goto fail;
          } else if (key_is(qk, "value")) {
            snprintf(we, sizeof we, "%.200s[%zu].value", w, i);
            if (get_str(ps, qv, we, 1, &kv->value)) goto fail;
          }
        }
        if (!kv->name) {
          perr(ps, en, "%s[%zu] has no name", w, i);
          goto fail;
        }
        if (!kv->value && !(kv->value = strdup(""))) {
          oom(ps);
          goto fail;
        }
      }
    }
  }
  if (!e->command) {
    perr(ps, n, "%s.command is required", where);
    goto fail;
  }
  int v1 = e->api_version && !strcmp(e->api_version, EXEC_V1);
  int v1beta1 = e->api_version && !strcmp(e->api_version, EXEC_V1BETA1);
  if (!v1 && !v1beta1) {
    char q[72];
    perr(ps, n, "%s.apiVersion %s is not supported (use %s or %s)", where,
         e->api_version ? qname(e->api_version, q) : "(missing)", EXEC_V1,
         EXEC_V1BETA1);
    goto fail;
  }
  if (!mode) {
    if (v1) {
      perr(ps, n, "%s.interactiveMode must be specified for %s", where,
           EXEC_V1);
      goto fail;
    }
    e->interactive_mode = KUBE_EXEC_IF_AVAILABLE;
  } else if (!strcmp(mode, "IfAvailable")) {
    e->interactive_mode = KUBE_EXEC_IF_AVAILABLE;
  } else if (!strcmp(mode, "Never")) {
    e->interactive_mode = KUBE_EXEC_NEVER;
  } else if (!strcmp(mode, "Always")) {
    e->interactive_mode = KUBE_EXEC_ALWAYS;
  } else {
    char q[72];
    perr(ps, n, "%s.interactiveMode %s is not one of Never, IfAvailable, "
         "Always", where, qname(mode, q));
    goto fail;
  }
  free(mode);
  exec_free(*out);
  *out = e;
  return 0;
fail:
  free(mode);
  exec_free(e);
  return -1;
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
    entry *old = find_entry(ps->kc, kind, e.name);
    if (old && old->file == ps->file) {
      perr(ps, item, "%s %s is defined twice", kind_one[kind],
           qname(e.name, q));
      goto fail;
    }
    if (old) {
      entry_free(kind, &e);   /* an earlier file defines it: that wins */
      continue;
    }
    if (push_entry(ps->kc, kind, &e)) {
      entry_free(kind, &e);
      return oom(ps);
    }
    continue;
  fail:
    entry_free(kind, &e);
    return -1;
  }
  return 0;
}

/* Parses one kubeconfig document and merges it into kc. */
static int parse_into(kubeconfig *kc, const char *data, size_t len,
                      const char *path, char *err, size_t errlen) {
  pstate ps = {kc, NULL, path ? path : "(in memory)", NULL, kc->n_files,
               err, errlen};
  if (path) {
    char **nf = realloc(kc->files, (kc->n_files + 1) * sizeof *nf);
    if (!nf) return oom(&ps);
    kc->files = nf;
    if (!(kc->files[kc->n_files] = strdup(path))) return oom(&ps);
    kc->n_files++;
    ps.dir = dir_of(path);   /* NULL: relative paths stay relative */
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
      errf(err, errlen, "kubeconfig %s: not a YAML or JSON text: %s (byte "
           "0x%02x at offset %zu)", ps.path, problem,
           (unsigned)(parser.problem_value & 0xff), parser.problem_offset);
    else if (parser.context)
      errf(err, errlen, "kubeconfig %s:%zu:%zu: %s (%s at %zu:%zu)",
           ps.path, parser.problem_mark.line + 1,
           parser.problem_mark.column + 1, problem, parser.context,
           parser.context_mark.line + 1, parser.context_mark.column + 1);
    else
      errf(err, errlen, "kubeconfig %s:%zu:%zu: %s", ps.path,
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

/* ---- loading ---------------------------------------------------------- */

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
          if (!(v[cnt] = memdup0(s, len))) {
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
    if (!(v[0] = path_join(home, ".kube/config"))) {
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
    errf(err, errlen, "kubeconfig: no file given");
    return NULL;
  }
  kubeconfig *kc = calloc(1, sizeof *kc);
  if (!kc) {
    errf(err, errlen, "kubeconfig: out of memory");
    return NULL;
  }
  size_t found = 0;
  for (size_t i = 0; i < n; i++) {
    char *data;
    size_t len;
    int e = read_all(paths[i], KC_MAX_FILE, &data, &len);
    if (e == ENOENT && n > 1) continue;   /* kubectl skips missing entries */
    if (e) {
      if (e == EFBIG)
        errf(err, errlen, "kubeconfig %s: larger than %u bytes", paths[i],
             KC_MAX_FILE);
      else
        errf(err, errlen, "kubeconfig %s: %s", paths[i], strerror(e));
      kubeconfig_free(kc);
      return NULL;
    }
    found++;
    int rc = parse_into(kc, data, len, paths[i], err, errlen);
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
    errf(err, errlen, "kubeconfig: none of these files exists: %s", list);
    kubeconfig_free(kc);
    return NULL;
  }
  return kc;
}

kubeconfig *kubeconfig_parse(const char *data, size_t len, const char *path,
                             char *err, size_t errlen) {
  kubeconfig *kc = calloc(1, sizeof *kc);
  if (!kc) {
    errf(err, errlen, "kubeconfig: out of memory");
    return NULL;
  }
  if (parse_into(kc, data ? data : "", data ? len : 0, path, err, errlen)) {
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

/* ---- resolving -------------------------------------------------------- */

static kube_exec *exec_dup(const kube_exec *s, int *nomem) {
  kube_exec *e = calloc(1, sizeof *e);
  if (!e) goto oom;
  e->interactive_mode = s->interactive_mode;
  e->provide_cluster_info = s->provide_cluster_info;
  int o = 0;
  e->command = dup_or_null(s->command, &o);
  e->api_version = dup_or_null(s->api_version, &o);
  e->install_hint = dup_or_null(s->install_hint, &o);
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
  exec_free(e);
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
  exec_free(c->exec);
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

int kubeconfig_resolve(const kubeconfig *kc, const char *context,
                       kube_conn *out, char *err, size_t errlen) {
  char files[1024], known[1024], q1[72], q2[72];
  memset(out, 0, sizeof *out);
  if (!kc) return errf(err, errlen, "kubeconfig: no config");
  const char *name = context && *context ? context : kc->current;
  if (!name)
    return errf(err, errlen, "kubeconfig %s: no context given and "
                "current-context is not set; known contexts: %s",
                files_str(kc, files, sizeof files),
                names_str(kc, K_CONTEXT, known, sizeof known));
  const entry *cx = find_entry(kc, K_CONTEXT, name);
  if (!cx)
    return errf(err, errlen, "kubeconfig %s: context %s not found; known "
                "contexts: %s", files_str(kc, files, sizeof files),
                qname(name, q1),
                names_str(kc, K_CONTEXT, known, sizeof known));
  const char *src = kc->files ? kc->files[cx->file] : "(in memory)";
  if (!cx->v.x.cluster)
    return errf(err, errlen, "kubeconfig %s: context %s names no cluster",
                src, qname(name, q1));
  const entry *cl = find_entry(kc, K_CLUSTER, cx->v.x.cluster);
  if (!cl)
    return errf(err, errlen, "kubeconfig %s: cluster %s (of context %s) not "
                "found; known clusters: %s", src,
                qname(cx->v.x.cluster, q1), qname(name, q2),
                names_str(kc, K_CLUSTER, known, sizeof known));
  const entry *us = NULL;
  if (cx->v.x.user) {
    us = find_entry(kc, K_USER, cx->v.x.user);
    if (!us)
      return errf(err, errlen, "kubeconfig %s: user %s (of context %s) not "
                  "found; known users: %s", src, qname(cx->v.x.user, q1),
                  qname(name, q2),
                  names_str(kc, K_USER, known, sizeof known));
  }
  const kc_cluster *c = &cl->v.c;
  const char *csrc = kc->files ? kc->files[cl->file] : "(in memory)";
  if (!c->server)
    return errf(err, errlen, "kubeconfig %s: cluster %s has no server",
                csrc, qname(cl->name, q1));
  if (c->insecure && (c->ca_file || c->ca_data))
    return errf(err, errlen, "kubeconfig %s: cluster %s sets both "
                "insecure-skip-tls-verify and a certificate authority; a CA "
                "cannot be combined with skipping verification", csrc,
                qname(cl->name, q1));
  if (us) {
    const kc_user *u = &us->v.u;
    const char *usrc = kc->files ? kc->files[us->file] : "(in memory)";
    if (u->auth_provider)
      return errf(err, errlen, "kubeconfig %s: user %s uses auth-provider "
                  "%s, which summit does not support; use an exec credential "
                  "plugin instead", usrc, qname(us->name, q1),
                  qname(u->auth_provider, q2));
    if ((u->cert_file || u->cert_data) && !(u->key_file || u->key_data))
      return errf(err, errlen, "kubeconfig %s: user %s has a client "
                  "certificate but no client-key or client-key-data", usrc,
                  qname(us->name, q1));
    if ((u->key_file || u->key_data) && !(u->cert_file || u->cert_data))
      return errf(err, errlen, "kubeconfig %s: user %s has a client key but "
                  "no client-certificate or client-certificate-data", usrc,
                  qname(us->name, q1));
    if ((u->token || u->token_file) && (u->username || u->password))
      return errf(err, errlen, "kubeconfig %s: user %s has more than one "
                  "authentication method (token and basic auth); only one "
                  "is allowed", usrc, qname(us->name, q1));
  }

  int o = 0;
  out->source = dup_or_null(src, &o);
  out->context = dup_or_null(cx->name, &o);
  out->cluster = dup_or_null(cl->name, &o);
  out->ns = dup_or_null(cx->v.x.ns ? cx->v.x.ns : "default", &o);
  /* *-data wins over the file, as in client-go. */
  out->ca_data = dupn_or_null(c->ca_data, c->ca_data_len, &o);
  out->ca_data_len = c->ca_data_len;
  if (!c->ca_data) out->ca_file = dup_or_null(c->ca_file, &o);
  out->insecure = c->insecure;
  out->tls_server_name = dup_or_null(c->tls_server_name, &o);
  out->proxy_url = dup_or_null(c->proxy_url, &o);
  int tls = c->ca_data || c->ca_file || c->insecure;
  if (us) {
    const kc_user *u = &us->v.u;
    out->user = dup_or_null(us->name, &o);
    out->client_cert_data = dupn_or_null(u->cert_data, u->cert_data_len, &o);
    out->client_cert_data_len = u->cert_data_len;
    if (!u->cert_data) out->client_cert_file = dup_or_null(u->cert_file, &o);
    out->client_key_data = dupn_or_null(u->key_data, u->key_data_len, &o);
    out->client_key_data_len = u->key_data_len;
    if (!u->key_data) out->client_key_file = dup_or_null(u->key_file, &o);
    out->token = dup_or_null(u->token, &o);
    out->token_file = dup_or_null(u->token_file, &o);
    out->username = dup_or_null(u->username, &o);
    out->password = dup_or_null(u->password, &o);
    if (u->exec) out->exec = exec_dup(u->exec, &o);
    tls |= u->cert_data || u->cert_file;
  }
  if (!(out->server = server_url(c->server, tls))) o = 1;
  if (o) {
    kube_conn_free(out);
    return errf(err, errlen, "kubeconfig: out of memory");
  }
  return 0;
}

/* ---- in-cluster ------------------------------------------------------- */

int kube_conn_in_cluster(kube_conn *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  const char *host = getenv("KUBERNETES_SERVICE_HOST");
  const char *port = getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    return errf(err, errlen, "in-cluster config: KUBERNETES_SERVICE_HOST "
                "and KUBERNETES_SERVICE_PORT must be defined (not running "
                "in a pod?)");
  const char *dir = getenv("SUMMIT_SA_DIR");
  if (!dir || !*dir) dir = SA_DIR;

  char *token_path = path_join(dir, "token");
  char *ca_path = path_join(dir, "ca.crt");
  char *ns_path = path_join(dir, "namespace");
  size_t slen = strlen(host) + strlen(port) + 16;
  char *server = malloc(slen);
  if (!token_path || !ca_path || !ns_path || !server) {
    errf(err, errlen, "in-cluster config: out of memory");
    goto fail;
  }
  snprintf(server, slen, strchr(host, ':') ? "https://[%s]:%s"
           : "https://%s:%s", host, port);

  char *token;
  size_t len;
  int e = read_all(token_path, KC_MAX_SMALL, &token, &len);
  if (e) {
    errf(err, errlen, "in-cluster config: cannot read token %s: %s",
         token_path, e == EFBIG ? "too large" : strerror(e));
    goto fail;
  }
  if (memchr(token, '\0', len)) {
    free(token);
    errf(err, errlen, "in-cluster config: token %s contains a NUL byte",
         token_path);
    goto fail;
  }
  rtrim(token);
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
  } else if (read_all(ns_path, KC_MAX_SMALL, &ns, &len) == 0) {
    rtrim(ns);
    if (!*ns) {
      free(ns);
      ns = NULL;
    }
  }
  out->ns = ns ? ns : strdup("default");
  out->source = strdup("in-cluster");
  if (!out->ns || !out->source) {
    errf(err, errlen, "in-cluster config: out of memory");
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

/* ---- ExecCredential --------------------------------------------------- */

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

int kube_exec_credential_parse(const char *json, size_t len,
                               kube_credential *out, char *err,
                               size_t errlen) {
  const char *api, *kind, *token, *exp, *cert, *key, *end = NULL;
  char q[72];
  memset(out, 0, sizeof *out);
  if (!json || len == 0)
    return errf(err, errlen, "exec plugin printed nothing (expected an "
                "ExecCredential)");
  cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
  if (!root)
    return errf(err, errlen, "exec plugin output is not JSON (error at byte "
                "%zu of %zu)", end && end >= json ? (size_t)(end - json) : 0,
                len);
  int rc = -1;
  if (!cJSON_IsObject(root)) {
    errf(err, errlen, "exec plugin output is not a JSON object");
    goto done;
  }
  if (json_str(root, "apiVersion", &api) || !api) {
    errf(err, errlen, "exec plugin output has no apiVersion");
    goto done;
  }
  if (strcmp(api, EXEC_V1) && strcmp(api, EXEC_V1BETA1)) {
    errf(err, errlen, "exec plugin returned apiVersion %s; expected %s or %s",
         qname(api, q), EXEC_V1, EXEC_V1BETA1);
    goto done;
  }
  if (json_str(root, "kind", &kind) || !kind ||
      strcmp(kind, "ExecCredential")) {
    errf(err, errlen, "exec plugin output is not an ExecCredential (kind %s)",
         kind ? qname(kind, q) : "missing");
    goto done;
  }
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status");
  if (!cJSON_IsObject(st)) {
    errf(err, errlen, "exec plugin didn't return a status field");
    goto done;
  }
  if (json_str(st, "token", &token)) {
    errf(err, errlen, "exec plugin: status.token must be a string");
    goto done;
  }
  if (json_str(st, "clientCertificateData", &cert) ||
      json_str(st, "clientKeyData", &key)) {
    errf(err, errlen, "exec plugin: status.clientCertificateData and "
         "status.clientKeyData must be strings");
    goto done;
  }
  if (json_str(st, "expirationTimestamp", &exp)) {
    errf(err, errlen, "exec plugin: status.expirationTimestamp must be a "
         "string");
    goto done;
  }
  if (token && !*token) token = NULL;
  if (cert && !*cert) cert = NULL;
  if (key && !*key) key = NULL;
  if (!token && !(cert && key)) {
    errf(err, errlen, "exec plugin didn't return a token or a client "
         "certificate and key");
    goto done;
  }
  if (!cert != !key) {
    errf(err, errlen, "exec plugin returned only a client certificate or "
         "only a key, not both");
    goto done;
  }
  if (exp && *exp && rfc3339_parse_ms(exp, 0, &out->expires_ms)) {
    errf(err, errlen, "exec plugin: status.expirationTimestamp %s is not an "
         "RFC 3339 time", qname(exp, q));
    goto done;
  }
  int o = 0;
  out->api_version = dup_or_null(api, &o);
  out->token = dup_or_null(token, &o);
  out->client_cert_data = dup_or_null(cert, &o);
  out->client_cert_data_len = cert ? strlen(cert) : 0;
  out->client_key_data = dup_or_null(key, &o);
  out->client_key_data_len = key ? strlen(key) : 0;
  if (o) {
    errf(err, errlen, "exec plugin: out of memory");
    goto done;
  }
  rc = 0;
done:
  cJSON_Delete(root);
  if (rc) kube_credential_free(out);
  return rc;
}
