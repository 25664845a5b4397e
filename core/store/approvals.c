/* Approval gates: the waits runs have open on them and the decisions
 * (approve, reject) recorded against each (docs/approvals.md).
 *
 * A wait is identified by (run, wait_key): the journal key of the
 * approval entry. Its attempt tells requests of the same key apart (a gate
 * asked again after a failure), and decisions are recorded against (run,
 * wait_key, attempt), so a decision given for one request never counts
 * for another. Judging the decisions is not done here (engine/approval.c). */
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

static const char *const SQL_W_GET =
    "SELECT attempt FROM waits WHERE run_id = ?1 AND wait_key = ?2";
static const char *const SQL_W_INSERT =
    "INSERT INTO waits(run_id, wait_key, attempt, gate, request, since_ms,"
    " deadline_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char *const SQL_W_REPLACE =
    "UPDATE waits SET attempt = ?3, gate = ?4, request = ?5, since_ms = ?6,"
    " deadline_ms = ?7 WHERE run_id = ?1 AND wait_key = ?2";
static const char *const SQL_W_CLOSE =
    "DELETE FROM waits WHERE run_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR wait_key = ?2)";
static const char *const SQL_W_DEADLINE =
    "UPDATE waits SET deadline_ms = ?3 WHERE run_id = ?1 AND wait_key = ?2";
#define WAIT_COLS                                                          \
  "w.run_id, w.wait_key, w.attempt, w.gate, w.request, w.since_ms,"        \
  " w.deadline_ms, r.status, r.name, r.started_by, r.owner_pid,"           \
  " r.owner_host, r.lease_expires_ms"
/* ?1 NULL: the waits of every run. */
static const char *const SQL_W_LIST =
    "SELECT " WAIT_COLS " FROM waits w JOIN runs r ON r.id = w.run_id"
    " WHERE CAST(?1 AS TEXT) IS NULL OR w.run_id = ?1"
    " ORDER BY w.since_ms, w.run_id, w.wait_key";
static const char *const SQL_D_INSERT =
    "INSERT INTO approvals(run_id, wait_key, attempt, gate, actor, decision,"
    " comment, bind, signature, ts_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
    " ?9, ?10)";
#define DECISION_COLS                                                      \
  "id, run_id, wait_key, attempt, gate, actor, decision, comment, bind,"   \
  " signature, ts_ms"
static const char *const SQL_D_LIST =
    "SELECT " DECISION_COLS " FROM approvals WHERE run_id = ?1"
    " AND wait_key = ?2 AND attempt = ?3 AND id > ?4 ORDER BY id";
static const char *const SQL_D_EACH =
    "SELECT " DECISION_COLS " FROM approvals WHERE run_id = ?1 ORDER BY id";

int store_wait_open(store_t *s, const store_wait *w, int *opened) {
  if (!w->run_id || !w->wait_key || !w->gate || !w->request)
    return store__failf(s, "a wait needs a run, a key, a gate and a request");
  *opened = 0;
  store_q *st = store__stmt(s, W_GET, SQL_W_GET);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, w->run_id);
  store__bind_text(st, 2, w->wait_key);
  int rc = store__step(st);
  int64_t attempt = rc == STORE_ROW ? store__col_int64(st, 0) : 0;
  store__reset(st);
  if (rc == STORE_ERR)
    return store__fail(s, "reading the waits");
  /* The same request again (a resumed run): it keeps its row, its
   * since_ms and whatever deadline it has now. */
  if (rc == STORE_ROW && attempt == w->attempt) return STORE_OK;
  if (store__begin(s) != STORE_OK) return STORE_ERR;
  st = store__stmt(s, rc == STORE_ROW ? W_REPLACE : W_INSERT,
                  rc == STORE_ROW ? SQL_W_REPLACE : SQL_W_INSERT);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, w->run_id);
  store__bind_text(st, 2, w->wait_key);
  store__bind_int64(st, 3, w->attempt);
  store__bind_text(st, 4, w->gate);
  store__bind_text(st, 5, w->request);
  store__bind_int64(st, 6, w->since_ms);
  store__bind_opt(st, 7, w->deadline_ms);
  if (store__exec(s, st, "opening the wait") != STORE_OK) return STORE_ERR;
  *opened = 1;
  return STORE_OK;
}

int store_wait_close(store_t *s, const char *run_id, const char *wait_key) {
  if (store__begin(s) != STORE_OK) return STORE_ERR;
  store_q *st = store__stmt(s, W_CLOSE, SQL_W_CLOSE);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, run_id);
  store__bind_text(st, 2, wait_key);
  return store__exec(s, st, "closing the wait");
}

int store_wait_set_deadline(store_t *s, const char *run_id,
                            const char *wait_key, int64_t deadline_ms) {
  if (store__begin(s) != STORE_OK) return STORE_ERR;
  store_q *st = store__stmt(s, W_DEADLINE, SQL_W_DEADLINE);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, run_id);
  store__bind_text(st, 2, wait_key);
  store__bind_opt(st, 3, deadline_ms);
  return store__exec(s, st, "changing the wait's deadline");
}

int store_wait_list(store_t *s, const char *run_id, store_wait_cb fn,
                    void *ud) {
  store_q *st = store__stmt(s, W_LIST, SQL_W_LIST);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, run_id);
  int rc, ret = STORE_OK;
  while ((rc = store__step(st)) == STORE_ROW) {
    store_wait w = {
      .run_id = store__col_text(st, 0),
      .wait_key = store__col_text(st, 1),
      .attempt = store__col_int64(st, 2),
      .gate = store__col_text(st, 3),
      .request = store__col_text(st, 4),
      .since_ms = store__col_int64(st, 5),
      .deadline_ms = store__col_int64(st, 6),
      .status = store__col_text(st, 7),
      .runbook = store__col_text(st, 8),
      .started_by = store__col_text(st, 9),
      .owner_pid = store__col_int64(st, 10),
      .owner_host = store__col_text(st, 11),
      .lease_expires_ms = store__col_int64(st, 12),
    };
    if ((ret = fn(ud, &w))) break;
  }
  store__reset(st);
  if (ret) return ret;
  if (rc != STORE_DONE) return store__fail(s, "listing the waits");
  return STORE_OK;
}

int store_approval_add(store_t *s, const store_approval *a, int commit) {
  if (!a->run_id || !a->wait_key || !a->gate || !a->actor || !a->decision)
    return store__failf(s, "a decision needs a run, a key, a gate, an actor "
                           "and a decision");
  if (strcmp(a->decision, "approve") != 0 && strcmp(a->decision, "reject") != 0)
    return store__failf(s, "a decision is approve or reject, not '%s'",
                        a->decision);
  if (store__begin(s) != STORE_OK) return STORE_ERR;
  store_q *st = store__stmt(s, D_INSERT, SQL_D_INSERT);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, a->run_id);
  store__bind_text(st, 2, a->wait_key);
  store__bind_int64(st, 3, a->attempt);
  store__bind_text(st, 4, a->gate);
  store__bind_text(st, 5, a->actor);
  store__bind_text(st, 6, a->decision);
  store__bind_text(st, 7, a->comment);
  store__bind_text(st, 8, a->bind);
  store__bind_text(st, 9, a->signature);
  store__bind_int64(st, 10, a->ts_ms);
  if (store__exec(s, st, "recording the decision") != STORE_OK)
    return STORE_ERR;
  return commit ? store_flush(s) : STORE_OK;
}

static int each_decision(store_t *s, store_q *st, store_approval_cb fn,
                         void *ud) {
  int rc, ret = STORE_OK;
  while ((rc = store__step(st)) == STORE_ROW) {
    store_approval a = {
      .id = store__col_int64(st, 0),
      .run_id = store__col_text(st, 1),
      .wait_key = store__col_text(st, 2),
      .attempt = store__col_int64(st, 3),
      .gate = store__col_text(st, 4),
      .actor = store__col_text(st, 5),
      .decision = store__col_text(st, 6),
      .comment = store__col_text(st, 7),
      .bind = store__col_text(st, 8),
      .signature = store__col_text(st, 9),
      .ts_ms = store__col_int64(st, 10),
    };
    if ((ret = fn(ud, &a))) break;
  }
  store__reset(st);
  if (ret) return ret;
  if (rc != STORE_DONE) return store__fail(s, "reading the approvals");
  return STORE_OK;
}

int store_approval_list(store_t *s, const char *run_id, const char *wait_key,
                        int64_t attempt, int64_t after_id,
                        store_approval_cb fn, void *ud) {
  store_q *st = store__stmt(s, D_LIST, SQL_D_LIST);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, run_id);
  store__bind_text(st, 2, wait_key);
  store__bind_int64(st, 3, attempt);
  store__bind_int64(st, 4, after_id);
  return each_decision(s, st, fn, ud);
}

int store_approval_each(store_t *s, const char *run_id, store_approval_cb fn,
                        void *ud) {
  store_q *st = store__stmt(s, D_EACH, SQL_D_EACH);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, run_id);
  return each_decision(s, st, fn, ud);
}
