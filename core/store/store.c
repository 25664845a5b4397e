/* The store's connection: which backend, the batched write transaction,
 * and fencing (DESIGN §11), the same for SQLite and PostgreSQL. */
#include "store/store.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"

static const char SQL_FENCE_GET[] =
    "SELECT epoch, epoch_pid, epoch_host, status FROM runs WHERE id = ?1";

void store_target(const char *state_dir, char *out, size_t n) {
  snprintf(out, n, "%s/state.db", state_dir);
}

int store_is_url(const char *target) {
  return target && (!strncmp(target, "postgresql://", 13) ||
                    !strncmp(target, "postgres://", 11));
}

store_t *store_open(const char *target, int create, store_durability dur,
                    char *err, size_t errlen) {
  store_t *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  s->be = store_is_url(target) ? &store_pg : &store_lite;
  for (int i = 0; i < STORE_NSTMT; i++) s->q[i].s = s;
  if (s->be->open(s, target, create, dur, err, errlen) != STORE_OK) {
    free(s->path);
    free(s);
    return NULL;
  }
  return s;
}

void store_close(store_t *s) {
  if (!s) return;
  if (s->in_txn) store_flush(s);
  for (int i = 0; i < STORE_NSTMT; i++)
    if (s->q[i].h) s->be->finalize(&s->q[i]);
  s->be->close(s);
  free(s->path);
  free(s->fence_run);
  free(s);
}

const char *store_errmsg(store_t *s) { return s->err; }

const char *store_kind(store_t *s) { return s->be->kind; }

const char *store_name(store_t *s) { return s->path; }

/* ---- for the other files of core/store/ (internal.h) ---------------- */

int store__fail(store_t *s, const char *what) {
  snprintf(s->err, sizeof s->err, "%s in state database %s: %s%s", what,
           s->path ? s->path : "?", s->be->errmsg(s), s->be->hint(s));
  return STORE_ERR;
}

int store__failf(store_t *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->err, sizeof s->err, fmt, ap);
  va_end(ap);
  return STORE_ERR;
}

static int fence_refuse(store_t *s) {
  snprintf(s->err, sizeof s->err, "%s", s->fence_msg);
  return STORE_FENCED;
}

int store__audit_head(store_t *s, int64_t *seq, char hash[65]) {
  if (!s->in_txn || !s->audit_known) return 0;
  *seq = s->audit_seq;
  memcpy(hash, s->audit_hash, 65);
  return 1;
}

void store__audit_keep(store_t *s, int64_t seq, const char *hash) {
  s->audit_known = 1;
  s->audit_seq = seq;
  snprintf(s->audit_hash, sizeof s->audit_hash, "%s", hash);
}

int store__begin(store_t *s) {
  if (s->in_txn) return STORE_OK;
  s->audit_known = 0;  /* another process may have appended since */
  if (s->fenced) return fence_refuse(s);
  if (s->be->begin(s) != STORE_OK) return store__fail(s, "begin");
  s->in_txn = 1;
  return STORE_OK;
}

void store__rollback(store_t *s) {
  s->be->rollback(s);
  s->in_txn = 0;
  s->audit_known = 0;
}

int store__exec(store_t *s, store_q *q, const char *what) {
  assert(q && what);
  int rc = store__step(q);
  store__reset(q);
  if (rc != STORE_DONE) return rc == STORE_ERR ? store__fail(s, what)
                                               : store__failf(s, "%s: a row was returned", what);
  return STORE_OK;
}

/* ---- fencing (DESIGN §11) ------------------------------------------ */

/* The lease of s->fence_run is lost: says who holds the run now (read in
 * the open transaction), drops that transaction and fences s for good.
 * Returns STORE_FENCED. */
static int fence_fail(store_t *s, store_q *q) {
  assert(s->fence_run);
  int64_t epoch = -1, pid = 0;
  char host[256] = "", status[64] = "";
  if (q) {
    store__bind_text(q, 1, s->fence_run);
    if (store__step(q) == STORE_ROW) {
      epoch = store__col_int64(q, 0);
      pid = store__col_int64(q, 1);
      const char *h = store__col_text(q, 2), *t = store__col_text(q, 3);
      snprintf(host, sizeof host, "%s", h ? h : "?");
      snprintf(status, sizeof status, "%s", t ? t : "?");
    }
    store__reset(q);
  }
  if (s->in_txn) store__rollback(s);
  if (epoch < 0)
    snprintf(s->fence_msg, sizeof s->fence_msg,
             "run %s is gone from state database %s; this process no "
             "longer holds its lease (epoch %lld)", s->fence_run, s->path,
             (long long)s->fence_epoch);
  else if (pid > 0)
    snprintf(s->fence_msg, sizeof s->fence_msg,
             "run %s was taken over by pid %lld on %s (lease epoch %lld; "
             "this process held epoch %lld); the run is now %s",
             s->fence_run, (long long)pid, host, (long long)epoch,
             (long long)s->fence_epoch, status);
  else
    snprintf(s->fence_msg, sizeof s->fence_msg,
             "the lease of run %s was taken over (lease epoch %lld; this "
             "process held epoch %lld); the run is now %s", s->fence_run,
             (long long)epoch, (long long)s->fence_epoch, status);
  int first = !s->fenced;
  s->fenced = 1;
  if (first && s->on_fenced) s->on_fenced(s->on_fenced_ud);
  return fence_refuse(s);
}

int store__fence_lost(store_t *s) {
  return fence_fail(s, store__stmt(s, Q_FENCE_GET, SQL_FENCE_GET));
}

/* Inside the open write transaction (which holds the write lock: no other
 * writer can move the epoch until it ends): is s->fence_run still at the
 * epoch this connection acquired? */
static int fence_check(store_t *s) {
  assert(s->in_txn && s->fence_run);
  store_q *q = store__stmt(s, Q_FENCE_GET, SQL_FENCE_GET);
  if (!q) return STORE_ERR;
  store__bind_text(q, 1, s->fence_run);
  int rc = store__step(q);
  int64_t epoch = rc == STORE_ROW ? store__col_int64(q, 0) : -1;
  store__reset(q);
  if (rc == STORE_ERR) return store__fail(s, "checking the lease");
  return epoch == s->fence_epoch ? STORE_OK : store__fence_lost(s);
}

int store_flush(store_t *s) {
  if (!s->in_txn) return STORE_OK;
  if (s->fence_run && s->be->commit_fenced) {
    assert(s->fence_epoch > 0);
    int rc = s->be->commit_fenced(s, s->fence_run, s->fence_epoch);
    if (rc == STORE_OK) {
      s->in_txn = 0;
      s->commits++;
      return STORE_OK;
    }
    if (rc == STORE_FENCED) {
      s->in_txn = 0;  /* the backend ended it: nothing was kept */
      return store__fence_lost(s);
    }
    store__fail(s, "commit");
    store__rollback(s);
    return STORE_ERR;
  }
  if (s->fence_run) {
    /* Armed only by an acquisition, whose epoch counts from 1. */
    assert(s->fence_epoch > 0);
    int rc = fence_check(s);
    if (rc == STORE_ERR) {
      store__rollback(s);
      return rc;
    }
    if (rc != STORE_OK) return rc;
  }
  if (s->be->commit(s) != STORE_OK) {
    store__fail(s, "commit");
    store__rollback(s);
    return STORE_ERR;
  }
  s->in_txn = 0;
  s->commits++;
  return STORE_OK;
}

uint64_t store_commits(store_t *s) { return s->commits; }

void store__fence_arm(store_t *s, const char *id, int64_t epoch) {
  assert(id && epoch > 0);
  /* Armed inside the transaction of the acquisition: its commit is the
   * first to check the epoch. */
  assert(s->in_txn);
  free(s->fence_run);
  s->fence_run = strdup(id);
  s->fence_epoch = epoch;
  s->fenced = 0;
}

void store__fence_disarm(store_t *s) {
  free(s->fence_run);
  s->fence_run = NULL;
  s->fence_epoch = 0;
  s->fenced = 0;
}

int64_t store_fence_epoch(store_t *s) { return s->fence_run ? s->fence_epoch : 0; }

const char *store_fenced(store_t *s) { return s->fenced ? s->fence_msg : NULL; }

void store_on_fenced(store_t *s, void (*fn)(void *ud), void *ud) {
  s->on_fenced = fn;
  s->on_fenced_ud = ud;
}
