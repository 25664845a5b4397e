/* The queue of submitted runs (summit submit, docs/workers.md).
 *
 * A submitted run is a runs row with status 'queued' (created by
 * store_run_create, with its pinned source, params and the labels a
 * worker must have in run_on). Workers list the queued runs that no fresh
 * claim holds, match the labels themselves, and claim one with a
 * conditional UPDATE that only a row still queued and unclaimed (or
 * claimed long ago) matches: of any number of workers, exactly one
 * changes the row and wins. The SQL is standard (no SQLite-only syntax),
 * so the same statements serve a PostgreSQL store, where the claim runs
 * under summit's write lock as every write does (docs/team.md): no second
 * claimer is inside a write at the same time, so no FOR UPDATE SKIP
 * LOCKED is needed. */
#include <stdlib.h>

#include "store/internal.h"

/* ?1: claims older than this are stale (the worker that made one died
 * before its run left the queue). Oldest first: a queue, not a stack. */
static const char *const SQL_LIST =
    "SELECT id, run_on, created_ms FROM runs WHERE status = 'queued'"
    " AND (claim_ms IS NULL OR claim_ms < ?1) ORDER BY created_ms, id";
static const char *const SQL_CLAIM =
    "UPDATE runs SET claim_ms = ?2, claim_by = ?3"
    " WHERE id = ?1 AND status = 'queued'"
    " AND (claim_ms IS NULL OR claim_ms < ?4)";

int store_queue_list(store_t *s, int64_t stale_ms, store_queued_cb fn,
                     void *ud) {
  store_q *st = store__stmt(s, U_LIST, SQL_LIST);
  if (!st) return STORE_ERR;
  store__bind_int64(st, 1, stale_ms);
  int rc, ret = STORE_OK;
  while ((rc = store__step(st)) == STORE_ROW) {
    store_queued q = {
      .id = store__col_text(st, 0),
      .run_on = store__col_text(st, 1),
      .created_ms = store__col_int64(st, 2),
    };
    if ((ret = fn(ud, &q)) != 0) break;
  }
  store__reset(st);
  if (rc == STORE_ERR)
    return store__fail(s, "reading the queued runs");
  return ret;
}

int store_queue_claim(store_t *s, const char *id, int64_t now_ms,
                      int64_t stale_ms, const char *by, int *won) {
  *won = 0;
  store_q *st = store__stmt(s, U_CLAIM, SQL_CLAIM);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, id);
  store__bind_int64(st, 2, now_ms);
  store__bind_text(st, 3, by);
  store__bind_int64(st, 4, stale_ms);
  if (store__begin(s) != STORE_OK) return STORE_ERR;
  if (store__exec(s, st, "claiming a queued run") != STORE_OK) {
    store__rollback(s);
    return STORE_ERR;
  }
  *won = store__changes(s) == 1;
  return store_flush(s);
}
