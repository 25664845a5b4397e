/* API tokens of `summit serve` (DESIGN §12, docs/serve.md): a name, a
 * role and the SHA-256 of the token, never the token itself. Revoking
 * keeps the row (token list shows it) and makes the hash useless. */
#include "store/internal.h"

static const char *const SQL_ADD =
    "INSERT INTO tokens(name, role, hash, created_ms, expires_ms, created_by)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
static const char *const SQL_LIST =
    "SELECT name, role, hash, created_ms, expires_ms, revoked_ms, created_by"
    " FROM tokens ORDER BY name";
static const char *const SQL_REVOKE =
    "UPDATE tokens SET revoked_ms = ?2 WHERE name = ?1 AND revoked_ms IS NULL";

int store_token_add(store_t *s, const store_token *t) {
  if (store__begin(s) != STORE_OK) return STORE_ERR;
  store_q *st = store__stmt(s, K_ADD, SQL_ADD);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, t->name);
  store__bind_text(st, 2, t->role);
  store__bind_text(st, 3, t->hash);
  store__bind_int64(st, 4, t->created_ms);
  store__bind_opt(st, 5, t->expires_ms);
  store__bind_text(st, 6, t->created_by);
  int rc = store__step(st);
  store__reset(st);
  if (rc == STORE_ERR && store__constraint(s)) {
    store__rollback(s);
    store__failf(s, "a token named '%s' exists", t->name);
    return STORE_BUSY;
  }
  if (rc != STORE_DONE) {
    store__fail(s, "adding a token");
    store__rollback(s);
    return STORE_ERR;
  }
  return store_flush(s);
}

int store_token_list(store_t *s, store_token_cb fn, void *ud) {
  store_q *st = store__stmt(s, K_LIST, SQL_LIST);
  if (!st) return STORE_ERR;
  int rc, ret = STORE_OK;
  while ((rc = store__step(st)) == STORE_ROW) {
    store_token t = {
        .name = store__col_text(st, 0), .role = store__col_text(st, 1),
        .hash = store__col_text(st, 2), .created_ms = store__col_int64(st, 3),
        .expires_ms = store__col_int64(st, 4),
        .revoked_ms = store__col_int64(st, 5),
        .created_by = store__col_text(st, 6)};
    if ((ret = fn(ud, &t))) break;
  }
  store__reset(st);
  if (rc == STORE_ERR) return store__fail(s, "reading the tokens");
  return ret;
}

int store_token_revoke(store_t *s, const char *name, int64_t now_ms) {
  store_q *st = store__stmt(s, K_REVOKE, SQL_REVOKE);
  if (!st || store__begin(s) != STORE_OK) return STORE_ERR;
  store__bind_text(st, 1, name);
  store__bind_int64(st, 2, now_ms);
  if (store__exec(s, st, "revoking a token") != STORE_OK) {
    store__rollback(s);
    return STORE_ERR;
  }
  int64_t n = store__changes(s);
  int rc = store_flush(s);
  return rc == STORE_OK && !n ? STORE_NOTFOUND : rc;
}
