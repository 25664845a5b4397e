/* Redaction of secret values by value (secrets.h, docs/secrets.md). */
#include "engine/secrets.h"
#include "io/strbuf.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  char *name;
  char *value;   /* a form of the value: raw, or JSON-escaped */
  size_t len;
} pattern;

static pattern *pats;      /* longest first */
static int npats, cap;
static int nvalues;
static unsigned char first[256];  /* bytes a pattern starts with */

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!q) abort();  /* as cJSON's allocations would: nothing to save */
  return q;
}

static char *xstrndup(const char *s, size_t n) {
  char *d = xrealloc(NULL, n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

static int by_len_desc(const void *a, const void *b) {
  const pattern *x = a, *y = b;
  if (x->len != y->len) return x->len < y->len ? 1 : -1;
  return strcmp(x->name, y->name);
}

static void add_pattern(const char *name, const char *v, size_t len) {
  for (int i = 0; i < npats; i++)
    if (pats[i].len == len && !memcmp(pats[i].value, v, len) &&
        !strcmp(pats[i].name, name))
      return;
  if (npats == cap) {
    cap = cap ? cap * 2 : 8;
    pats = xrealloc(pats, (size_t)cap * sizeof *pats);
  }
  pats[npats].name = xstrndup(name, strlen(name));
  pats[npats].value = xstrndup(v, len);
  pats[npats].len = len;
  npats++;
  first[(unsigned char)v[0]] = 1;
}

/* The value as cJSON writes it inside a string (without the quotes), or
 * NULL if that is the value itself. */
static char *json_form(const char *v, size_t len) {
  char *raw = xstrndup(v, len);
  cJSON *s = cJSON_CreateString(raw);
  free(raw);
  char *text = s ? cJSON_PrintUnformatted(s) : NULL;
  cJSON_Delete(s);
  if (!text) return NULL;
  size_t n = strlen(text);
  char *inner = NULL;
  if (n >= 2 && (n - 2 != len || memcmp(text + 1, v, len) != 0))
    inner = xstrndup(text + 1, n - 2);
  free(text);
  return inner;
}

int secrets_add(const char *name, const char *value, size_t len) {
  if (!name || !*name || !value || len < SECRETS_MIN_LEN) return -1;
  /* A value with a NUL cannot reach C strings whole; match what can. */
  if (memchr(value, '\0', len)) return -1;
  int before = npats;
  add_pattern(name, value, len);
  if (npats == before) return 0;
  nvalues++;
  char *once = json_form(value, len);
  if (once) {
    add_pattern(name, once, strlen(once));
    char *twice = json_form(once, strlen(once));
    if (twice) add_pattern(name, twice, strlen(twice));
    free(twice);
    free(once);
  }
  qsort(pats, (size_t)npats, sizeof *pats, by_len_desc);
  return 0;
}

void secrets_clear(void) {
  for (int i = 0; i < npats; i++) {
    free(pats[i].name);
    free(pats[i].value);
  }
  free(pats);
  pats = NULL;
  npats = cap = nvalues = 0;
  memset(first, 0, sizeof first);
}

int secrets_count(void) { return nvalues; }

typedef struct {
  size_t start, end;
  const char *name;
} occ;


static void put_name(strbuf *b, const char *name) {
  strbuf_put(b, "[secret:", 8);
  strbuf_put(b, name, strlen(name));
  strbuf_put(b, "]", 1);
}

char *secrets_redact(const char *s, size_t len, size_t *outlen) {
  if (!npats || !s) return NULL;
  occ *o = NULL;
  size_t no = 0, ocap = 0, covered = 0;
  for (size_t i = 0; i < len; i++) {
    if (!first[(unsigned char)s[i]]) continue;
    for (int k = 0; k < npats; k++) {
      const pattern *p = &pats[k];
      if (p->len > len - i || s[i] != p->value[0] ||
          memcmp(s + i, p->value, p->len) != 0)
        continue;
      /* Longest first: this is the longest match at i. One that ends
       * inside what an earlier match covers is part of it. */
      if (i + p->len > covered) {
        if (no == ocap) {
          ocap = ocap ? ocap * 2 : 8;
          o = xrealloc(o, ocap * sizeof *o);
        }
        o[no++] = (occ){i, i + p->len, p->name};
        covered = i + p->len;
      }
      break;
    }
  }
  if (!no) return NULL;
  strbuf b = {0};
  size_t at = 0;
  for (size_t j = 0; j < no;) {
    strbuf_put(&b, s + at, o[j].start - at);
    /* A run of overlapping matches becomes one stretch of names. */
    size_t end = o[j].end;
    const char *last = NULL;
    for (; j < no && (o[j].start < end || !last); j++) {
      if (o[j].end > end) end = o[j].end;
      if (!last || strcmp(last, o[j].name) != 0) put_name(&b, o[j].name);
      last = o[j].name;
    }
    at = end;
  }
  strbuf_put(&b, s + at, len - at);
  free(o);
  if (outlen) *outlen = b.n;
  return b.p;
}

void secrets_redact_owned(char **s) {
  if (!*s || !npats) return;
  char *r = secrets_redact(*s, strlen(*s), NULL);
  if (r) {
    free(*s);
    *s = r;
  }
}

static int redact_item(cJSON *c) {
  int n = 0;
  /* A reference's strings and children belong to another item. */
  if (c->type & cJSON_IsReference) return 0;
  if (c->string && !(c->type & cJSON_StringIsConst)) {
    char *r = secrets_redact(c->string, strlen(c->string), NULL);
    if (r) {
      free(c->string);
      c->string = r;
      n++;
    }
  }
  if (cJSON_IsString(c) && c->valuestring) {
    char *r = secrets_redact(c->valuestring, strlen(c->valuestring), NULL);
    if (r) {
      free(c->valuestring);
      c->valuestring = r;
      n++;
    }
  }
  for (cJSON *k = c->child; k; k = k->next) n += redact_item(k);
  return n;
}

int secrets_redact_json(cJSON *j) {
  if (!j || !npats) return 0;
  return redact_item(j);
}
