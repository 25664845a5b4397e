/* The closure a run pins: which module sources it loaded (see pins.h). */
#include "engine/pins.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/runtime.h"
#include "io/sha256.h"

void pins_sha256_hex(const char *data, size_t len, char out[65]) {
  unsigned char md[32];
  sm_sha256(data, len, md);
  sha256_hex(md, out);
}

static pin_t *pin_new(const char *name, const char *path, const char *sha,
                      pin_t *next) {
  pin_t *p = calloc(1, sizeof *p);
  if (!p) abort();
  p->name = strdup(name);
  p->path = path ? strdup(path) : NULL;
  p->sha = strdup(sha);
  p->next = next;
  return p;
}

static void pin_list_free(pin_t *p) {
  while (p) {
    pin_t *next = p->next;
    free(p->name);
    free(p->path);
    free(p->sha);
    free(p->text);
    free(p);
    p = next;
  }
}

void pins_free(pins_t *p) {
  pin_list_free(p->pinned);
  pin_list_free(p->pending);
  memset(p, 0, sizeof *p);
}

void pins_start(runtime_t *rt) {
  pins_free(&rt->pins);
  rt->pins.on = 1;
}

static int add_pinned(void *ud, const store_module *m) {
  pins_t *p = ud;
  p->pinned = pin_new(m->name, m->path, m->sha256, p->pinned);
  return 0;
}

int pins_resume(runtime_t *rt, int upgrade) {
  pins_free(&rt->pins);
  rt->pins.on = 1;
  rt->pins.live = !upgrade;
  if (upgrade) return 0;
  return store_module_each(rt->store, rt->run_id, add_pinned, &rt->pins) ==
                 STORE_OK
             ? 0
             : -1;
}

int pins_commit(runtime_t *rt) {
  pins_t *p = &rt->pins;
  if (!p->on || p->live) return STORE_OK;
  if (store_module_clear(rt->store, rt->run_id) != STORE_OK ||
      store_run_set_summit_version(rt->store, rt->run_id, SUMMIT_VERSION) !=
          STORE_OK)
    return STORE_ERR;
  for (pin_t *q = p->pending; q; q = q->next)
    if (store_module_pin(rt->store, rt->run_id, q->name, q->path, q->sha,
                         q->text) != STORE_OK)
      return STORE_ERR;
  pin_list_free(p->pending);
  p->pending = NULL;
  p->live = 1;
  return STORE_OK;
}

static pin_t *find(pin_t *p, const char *name) {
  for (; p; p = p->next)
    if (!strcmp(p->name, name)) return p;
  return NULL;
}

int pins_pinned(runtime_t *rt, const char *name, char **text, char **path) {
  *text = *path = NULL;
  pin_t *old = rt->pins.on ? find(rt->pins.pinned, name) : NULL;
  if (!old) return 1;
  int rc = store_source_get(rt->store, old->sha, text);
  if (rc != STORE_OK) return rc == STORE_NOTFOUND ? -2 : -1;
  *path = old->path ? strdup(old->path) : strdup(name);
  return 0;
}

int pins_source(runtime_t *rt, const char *name, const char *path,
                const char **text, char **owned) {
  pins_t *p = &rt->pins;
  *owned = NULL;
  if (!p->on) return 0;  /* validate, the catalog: nothing to pin */
  pin_t *old = find(p->pinned, name);
  if (old) {
    int rc = store_source_get(rt->store, old->sha, owned);
    if (rc == STORE_OK) *text = *owned;
    return rc == STORE_OK ? 0 : rc == STORE_NOTFOUND ? -2 : -1;
  }
  char sha[65];
  pins_sha256_hex(*text, strlen(*text), sha);
  if (p->live)
    return store_module_pin(rt->store, rt->run_id, name, path, sha, *text) ==
                   STORE_OK
               ? 0
               : -1;
  /* Not yet the run's: kept (once) until pins_commit. */
  if (!find(p->pending, name)) {
    p->pending = pin_new(name, path, sha, p->pending);
    p->pending->text = strdup(*text);
  }
  return 0;
}
