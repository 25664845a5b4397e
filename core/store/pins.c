/* The closure a run pins (DESIGN §14): every module source it loaded,
 * stored once by SHA-256 in `sources`, named per run in `run_modules`,
 * and summit's version when the run started. */
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

static const char *const SQL_SOURCE_PUT =
    "INSERT INTO sources(sha256, text) VALUES(?1, ?2)"
    " ON CONFLICT(sha256) DO NOTHING";
static const char *const SQL_SOURCE_GET =
    "SELECT text FROM sources WHERE sha256 = ?1";
static const char *const SQL_PIN =
    "INSERT INTO run_modules(run_id, name, path, sha256)"
    " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(run_id, name) DO UPDATE SET"
    " path = excluded.path, sha256 = excluded.sha256";
static const char *const SQL_CLEAR = "DELETE FROM run_modules WHERE run_id = ?1";
static const char *const SQL_EACH =
    "SELECT name, path, sha256 FROM run_modules WHERE run_id = ?1"
    " ORDER BY name";
static const char *const SQL_VERSION_SET =
    "UPDATE runs SET summit_version = ?2 WHERE id = ?1"
    " AND summit_version IS NULL";
static const char *const SQL_VERSION_GET =
    "SELECT summit_version FROM runs WHERE id = ?1";

int store_module_pin(store_t *s, const char *id, const char *name,
                     const char *path, const char *sha256, const char *text) {
  store_q *src = store__stmt(s, M_SOURCE_PUT, SQL_SOURCE_PUT);
  store_q *pin = store__stmt(s, M_PIN, SQL_PIN);
  if (!src || !pin || store__begin(s) != STORE_OK) return STORE_ERR;
  store__bind_text(src, 1, sha256);
  store__bind_text(src, 2, text);
  if (store__exec(s, src, "storing a module source") != STORE_OK)
    return STORE_ERR;
  store__bind_text(pin, 1, id);
  store__bind_text(pin, 2, name);
  store__bind_text(pin, 3, path);
  store__bind_text(pin, 4, sha256);
  return store__exec(s, pin, "pinning a module");
}

int store_module_clear(store_t *s, const char *id) {
  store_q *st = store__stmt(s, M_CLEAR, SQL_CLEAR);
  if (!st || store__begin(s) != STORE_OK) return STORE_ERR;
  store__bind_text(st, 1, id);
  return store__exec(s, st, "dropping the module pins");
}

int store_module_each(store_t *s, const char *id, store_module_cb fn,
                      void *ud) {
  store_q *st = store__stmt(s, M_EACH, SQL_EACH);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, id);
  int rc, ret = STORE_OK;
  while ((rc = store__step(st)) == STORE_ROW) {
    store_module m = {store__col_text(st, 0), store__col_text(st, 1),
                      store__col_text(st, 2)};
    if ((ret = fn(ud, &m))) break;
  }
  store__reset(st);
  if (rc == STORE_ERR)
    return store__fail(s, "reading the module pins");
  return ret;
}

/* The one text column of the single row st selects for key. */
static int get_text(store_t *s, store_q *st, const char *key,
                    char **out, const char *what) {
  *out = NULL;
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, key);
  int rc = store__step(st);
  if (rc == STORE_ROW) *out = store__col_dup(st, 0);
  store__reset(st);
  if (rc == STORE_DONE) return STORE_NOTFOUND;
  return rc == STORE_ROW ? STORE_OK : store__fail(s, what);
}

int store_source_get(store_t *s, const char *sha256, char **text) {
  return get_text(s, store__stmt(s, M_SOURCE_GET, SQL_SOURCE_GET), sha256,
                  text, "reading a pinned source");
}

int store_run_set_summit_version(store_t *s, const char *id,
                                 const char *version) {
  store_q *st = store__stmt(s, M_VERSION_SET, SQL_VERSION_SET);
  if (!st || store__begin(s) != STORE_OK) return STORE_ERR;
  store__bind_text(st, 1, id);
  store__bind_text(st, 2, version);
  return store__exec(s, st, "recording summit's version");
}

int store_run_summit_version(store_t *s, const char *id, char **version) {
  int rc = get_text(s, store__stmt(s, M_VERSION_GET, SQL_VERSION_GET), id,
                    version, "reading summit's version of the run");
  return rc == STORE_NOTFOUND ? STORE_OK : rc;
}
