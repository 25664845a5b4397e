/* The newest state of each journal entry (see fold.h). */
#include "cli/fold.h"

#include <stdlib.h>
#include <string.h>

/* Entries are C strings, not cJSON objects, so a 100,000-entry journal
 * costs one small allocation per entry; the index from key to entry is an
 * open-addressing hash table at most half full. Looking each key up in a
 * cJSON object walked a list: status was quadratic and took 140 MB at
 * 100,000 entries (issue #12). */
static size_t key_hash(const char *k) {
  size_t h = (size_t)14695981039346656037u;   /* FNV-1a */
  for (; *k; k++) h = (h ^ (unsigned char)*k) * (size_t)1099511628211u;
  return h;
}

/* The slot of key k: the one holding it, or the empty one it belongs in. */
static size_t *fold_find(journal_fold *c, const char *k) {
  size_t mask = c->nslots - 1, i = key_hash(k) & mask;
  for (;;) {
    c->probes++;
    if (!c->slots[i] || !strcmp(c->v[c->slots[i] - 1].key, k)) break;
    i = (i + 1) & mask;
  }
  return &c->slots[i];
}

static int fold_grow(journal_fold *c) {
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 256;
    fold_entry *v = realloc(c->v, cap * sizeof *v);
    if (!v) return -1;
    c->v = v;
    c->cap = cap;
  }
  if (2 * (c->n + 1) <= c->nslots) return 0;
  journal_fold t = *c;
  t.nslots = c->nslots ? c->nslots * 2 : 512;
  if (!(t.slots = calloc(t.nslots, sizeof *t.slots))) return -1;
  for (size_t i = 0; i < c->n; i++) *fold_find(&t, c->v[i].key) = i + 1;
  free(c->slots);
  c->slots = t.slots;
  c->nslots = t.nslots;
  return 0;
}

void journal_fold_free(journal_fold *c) {
  for (size_t i = 0; i < c->n; i++) {
    free(c->v[i].key);
    free(c->v[i].own_state);
    free(c->v[i].error);
    free(c->v[i].note);
  }
  free(c->v);
  free(c->slots);
}

/* *dst = a copy of src (NULL: keep *dst, as a later row without the field
 * does). Returns -1 when out of memory. */
static int replace(char **dst, const char *src) {
  if (!src) return 0;
  char *d = strdup(src);
  if (!d) return -1;
  free(*dst);
  *dst = d;
  return 0;
}

/* A new entry for e's first row; key, kind, name and site in one block. */
static fold_entry *fold_add(journal_fold *c, size_t *slot, const store_entry *e) {
  const char *f[4] = {e->key, e->kind, e->name, e->site};
  size_t len[4], total = 0;
  for (int i = 0; i < 4; i++) total += len[i] = f[i] ? strlen(f[i]) + 1 : 0;
  char *block = malloc(total), *p = block;
  if (!block) return NULL;
  fold_entry *x = &c->v[c->n];
  *x = (fold_entry){.started_ms = e->ts_ms};
  char **to[4] = {&x->key, &x->kind, &x->name, &x->site};
  for (int i = 0; i < 4; i++) {
    if (!f[i]) continue;
    memcpy(p, f[i], len[i]);
    *to[i] = p;
    p += len[i];
  }
  *slot = ++c->n;
  return x;
}

int journal_fold_row(void *ud, const store_entry *e) {
  static const char *const STATES[] = {"started", "completed", "failed",
                                       "skipped", NULL};
  journal_fold *c = ud;
  if (fold_grow(c)) goto oom;
  size_t *slot = fold_find(c, e->key);
  fold_entry *x = *slot ? &c->v[*slot - 1] : fold_add(c, slot, e);
  if (!x) goto oom;
  x->state = NULL;
  for (int i = 0; STATES[i] && !x->state; i++)
    if (!strcmp(e->state, STATES[i])) x->state = STATES[i];
  if (!x->state) {
    if (replace(&x->own_state, e->state)) goto oom;
    x->state = x->own_state;
  }
  x->attempt = e->attempt;
  if (strcmp(e->state, "started") != 0) x->ended_ms = e->ts_ms;
  if (replace(&x->error, e->error) || replace(&x->note, e->note)) goto oom;
  return 0;
oom:
  c->oom = 1;
  return 1;
}

