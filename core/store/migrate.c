/* `summit store migrate --to URL` (DESIGN §11): copies a state, every row
 * of every table as it is, into an empty store of the other backend, in
 * one transaction of the target. The audit chain is copied record by
 * record (seq, record text, hashes), so `summit audit verify` checks the
 * copy exactly as it checked the original. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "store/backend.h"

/* The tables in an order their references allow, with every column. A
 * column added by a migration must be added here too: copy() refuses a
 * source whose table has a column this list does not name. */
static const struct table {
  const char *name, *cols, *order;
  int ncols;
} TABLES[] = {
  {"runs",
   "id, name, version, source_path, source_sha256, source, params, env, "
   "status, error, failed_key, started_by, rerun_of, created_ms, updated_ms, "
   "finished_ms, wake_ms, owner_pid, owner_host, lease_expires_ms, "
   "cancel_request, heartbeat_ms, config_path, git_commit, schedule, "
   "fire_ms, claim_ms, claim_by, daemon_resume, epoch, epoch_pid, "
   "epoch_host, start_sig, summit_version, result, run_on", "created_ms, id",
   36},
  {"journal", "id, run_id, key, attempt, state, kind, name, args_hash, args, "
   "result, error, site, note, ts_ms", "id", 14},
  {"locks", "name, run_id, acquired_ms", "name", 3},
  {"audit", "seq, ts_ms, actor, run_id, action, record, prev_hash, hash",
   "seq", 8},
  {"waits", "run_id, wait_key, attempt, gate, request, since_ms, "
   "deadline_ms", "run_id, wait_key", 7},
  {"approvals", "id, run_id, wait_key, attempt, gate, actor, decision, "
   "comment, bind, signature, ts_ms", "id", 11},
  {"schedules", "name, cron, tz, runbook, params, env, config_path, dir, "
   "missed, paused, created_by, created_ms, next_fire_ms, last_fire_ms, "
   "last_run, last_status, last_note, consecutive_failures", "name", 18},
  {"sources", "sha256, text", "sha256", 2},
  {"run_modules", "run_id, name, path, sha256", "run_id, name", 4},
};
#define NTABLES ((int)(sizeof TABLES / sizeof TABLES[0]))
_Static_assert(NTABLES == X_TABLES, "one pair of statement slots a table");

/* The SQL of each table's read and write, made once. */
static char READ[NTABLES][1024], WRITE[NTABLES][1024], COUNT[NTABLES][128],
    WIDTH[NTABLES][128];

static void make_sql(void) {
  for (int t = 0; t < NTABLES; t++) {
    const struct table *tb = &TABLES[t];
    snprintf(READ[t], sizeof READ[t], "SELECT %s FROM %s ORDER BY %s",
             tb->cols, tb->name, tb->order);
    int n = snprintf(WRITE[t], sizeof WRITE[t], "INSERT INTO %s(%s) VALUES(",
                     tb->name, tb->cols);
    for (int i = 1; i <= tb->ncols; i++)
      n += snprintf(WRITE[t] + n, sizeof WRITE[t] - n, "%s?%d",
                    i > 1 ? ", " : "", i);
    snprintf(WRITE[t] + n, sizeof WRITE[t] - n, ")");
    snprintf(COUNT[t], sizeof COUNT[t], "SELECT count(*) FROM %s", tb->name);
    snprintf(WIDTH[t], sizeof WIDTH[t], "SELECT * FROM %s LIMIT 1", tb->name);
  }
}

static int64_t count_rows(store_t *s, int t) {
  store_q *q = store__stmt(s, X_COUNT + t, COUNT[t]);
  if (!q || store__step(q) != STORE_ROW) return -1;
  int64_t n = store__col_int64(q, 0);
  store__reset(q);
  return n;
}

/* Copies table t; *rows gets how many rows. */
static int copy_table(store_t *from, store_t *to, int t, int64_t *rows,
                      char *err, size_t errlen) {
  const struct table *tb = &TABLES[t];
  store_q *w = store__stmt(from, X_WIDTH + t, WIDTH[t]);
  if (!w) goto read_error;
  int rc = store__step(w);
  if (rc == STORE_ERR) goto read_error;
  int width = from->be->col_count(w);
  store__reset(w);
  if (width != tb->ncols) {
    snprintf(err, errlen, "table %s of %s has %d columns, and this summit "
             "copies %d: it is from a newer summit, or was changed by hand",
             tb->name, from->path, width, tb->ncols);
    return STORE_ERR;
  }
  store_q *r = store__stmt(from, X_READ + t, READ[t]);
  if (!r) goto read_error;
  *rows = 0;
  while ((rc = store__step(r)) == STORE_ROW) {
    store_q *ins = store__stmt(to, X_WRITE + t, WRITE[t]);
    if (!ins) goto write_error;
    for (int i = 0; i < tb->ncols; i++)
      store__bind_text(ins, i + 1, store__col_text(r, i));
    if (store__exec(to, ins, "copying a row") != STORE_OK) goto write_error;
    ++*rows;
  }
  store__reset(r);
  if (rc == STORE_ERR) goto read_error;
  return STORE_OK;
read_error:
  store__fail(from, "reading");
  snprintf(err, errlen, "table %s: %s", tb->name, store_errmsg(from));
  return STORE_ERR;
write_error:
  store__reset(r);
  snprintf(err, errlen, "table %s: %s", tb->name, store_errmsg(to));
  return STORE_ERR;
}

int store_copy(store_t *from, store_t *to, store_copy_cb fn, void *ud,
               char *err, size_t errlen) {
  make_sql();
  for (int t = 0; t < NTABLES; t++) {
    int64_t n = count_rows(to, t);
    if (n != 0) {
      snprintf(err, errlen, n < 0 ? "cannot read table %s of %s: %s"
                                  : "%s of %s is not empty (%s): a copy "
                                    "goes into an empty store only",
               TABLES[t].name, to->path,
               n < 0 ? store_errmsg(to) : "it holds rows");
      return STORE_ERR;
    }
  }
  if (store__begin(to) != STORE_OK) {
    snprintf(err, errlen, "%s", store_errmsg(to));
    return STORE_ERR;
  }
  for (int t = 0; t < NTABLES; t++) {
    int64_t rows = 0;
    if (copy_table(from, to, t, &rows, err, errlen) != STORE_OK) {
      store__rollback(to);
      return STORE_ERR;
    }
    if (fn) fn(ud, TABLES[t].name, rows);
  }
  /* Identity columns continue after the copied ids. */
  if (to->be->after_copy && to->be->after_copy(to) != STORE_OK) {
    snprintf(err, errlen, "%s", store_errmsg(to));
    store__rollback(to);
    return STORE_ERR;
  }
  if (store_flush(to) != STORE_OK) {
    snprintf(err, errlen, "%s", store_errmsg(to));
    return STORE_ERR;
  }
  return STORE_OK;
}
