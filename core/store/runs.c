/* Runs, their leases, the journal, cancel requests and locks: the SQL of
 * both backends (internal.h says what it may use). */
#include "store/store.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"

#define RUN_COLS                                                          \
  "id, name, version, source_path, source_sha256, source, params, env, "  \
  "status, error, failed_key, started_by, rerun_of, created_ms, "         \
  "updated_ms, finished_ms, wake_ms, owner_pid, owner_host, "             \
  "lease_expires_ms, cancel_request, heartbeat_ms, config_path, git_commit, " \
  "start_sig, run_on"

/* The SQL of this file's statements (internal.h names them). */
static const char *const SQL[] = {
  [Q_RUN_INSERT] = "INSERT INTO runs(" RUN_COLS ") VALUES(?1, ?2, ?3, ?4, "
                   "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
                   "?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)",
  [Q_RUN_GET] = "SELECT " RUN_COLS " FROM runs WHERE id = ?1",
  [Q_RUN_STATUS] = "UPDATE runs SET status = ?2, error = ?3, failed_key = ?4,"
                   " wake_ms = ?5, updated_ms = ?6,"
                   " finished_ms = CASE WHEN CAST(?7 AS BIGINT) <> 0"
                   " THEN CAST(?6 AS BIGINT) ELSE NULL END"
                   " WHERE id = ?1",
  [Q_RUN_PIN] = "UPDATE runs SET source_path = ?2, source = ?3,"
                " source_sha256 = ?4, version = ?5 WHERE id = ?1",
  [Q_RUN_GIT] = "UPDATE runs SET git_commit = ?2 WHERE id = ?1",
  [Q_RUN_RESULT_SET] = "UPDATE runs SET result = ?2 WHERE id = ?1",
  [Q_RUN_RESULT_GET] = "SELECT result FROM runs WHERE id = ?1",
  [Q_RUN_LIST] = "SELECT " RUN_COLS " FROM runs"
                 " ORDER BY created_ms DESC, id DESC",
  [Q_RUN_LIST_STATUS] = "SELECT " RUN_COLS " FROM runs WHERE status = ?1"
                        " ORDER BY created_ms DESC, id DESC",
  [Q_LEASE_GET] = "SELECT owner_pid, owner_host, lease_expires_ms, epoch"
                  " FROM runs WHERE id = ?1",
  [Q_LEASE_SET] = "UPDATE runs SET owner_pid = ?2, owner_host = ?3,"
                  " lease_expires_ms = ?4, heartbeat_ms = ?5,"
                  " epoch = epoch + 1, epoch_pid = ?2, epoch_host = ?3"
                  " WHERE id = ?1 RETURNING epoch",
  /* ?5: the epoch this connection holds (NULL: none armed for the run). */
  [Q_LEASE_RENEW] = "UPDATE runs SET lease_expires_ms = ?3, heartbeat_ms = ?4"
                    " WHERE id = ?1 AND owner_pid = ?2"
                    " AND (CAST(?5 AS BIGINT) IS NULL OR epoch = ?5)",
  [Q_LEASE_FIRST] = "UPDATE runs SET epoch = epoch + 1, epoch_pid = owner_pid,"
                    " epoch_host = owner_host WHERE id = ?1 RETURNING epoch",
  [Q_LEASE_RELEASE] = "UPDATE runs SET owner_pid = NULL, owner_host = NULL,"
                      " lease_expires_ms = NULL"
                      " WHERE id = ?1 AND owner_pid = ?2",
  [Q_JOURNAL_APPEND] = "INSERT INTO journal(run_id, key, attempt, state, kind,"
                       " name, args_hash, args, result, error, site, note,"
                       " ts_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
                       " ?10, ?11, ?12, ?13) RETURNING id",
  [Q_CANCEL_SET] = "UPDATE runs SET cancel_request = ?2 WHERE id = ?1",
  [Q_CANCEL_GET] = "SELECT cancel_request FROM runs WHERE id = ?1",
  [Q_LOCK_GET] = "SELECT l.run_id, r.status, r.owner_pid, r.owner_host,"
                 " r.lease_expires_ms FROM locks l LEFT JOIN runs r"
                 " ON r.id = l.run_id WHERE l.name = ?1",
  [Q_LOCK_SET] = "INSERT INTO locks(name, run_id, acquired_ms)"
                 " VALUES(?1, ?2, ?3) ON CONFLICT(name) DO UPDATE SET"
                 " run_id = excluded.run_id, acquired_ms = excluded.acquired_ms",
  [Q_LOCK_RELEASE] = "DELETE FROM locks WHERE name = ?1 AND run_id = ?2",
  [Q_LOCK_RELEASE_RUN] = "DELETE FROM locks WHERE run_id = ?1",
  [Q_LOCK_LIST] = "SELECT l.name, l.run_id, l.acquired_ms, r.status,"
                  " r.owner_pid, r.owner_host, r.lease_expires_ms, r.name"
                  " FROM locks l LEFT JOIN runs r ON r.id = l.run_id"
                  " ORDER BY l.name",
  [Q_JOURNAL_EACH] = "SELECT id, key, attempt, state, kind, name, args_hash,"
                     " args, result, error, site, note, ts_ms FROM journal"
                     " WHERE run_id = ?1 ORDER BY id",
  [Q_JOURNAL_SINCE] = "SELECT id, key, attempt, state, kind, name, args_hash,"
                      " args, result, error, site, note, ts_ms FROM journal"
                      " WHERE run_id = ?1 AND id > ?2 ORDER BY id",
};

/* Returns the prepared statement q of this file, reset and unbound. */
static store_q *stmt(store_t *s, enum store_stmt q) {
  assert((size_t)q < sizeof SQL / sizeof SQL[0] && SQL[q]);
  return store__stmt(s, q, SQL[q]);
}

#define bind_text store__bind_text
#define col_text store__col_text

/* Steps st, an UPDATE ... RETURNING epoch that is prepared and bound;
 * *epoch gets the run's new epoch (the run must exist). */
static int step_epoch(store_t *s, store_q *st, int64_t *epoch) {
  assert(s->in_txn);
  int rc = store__step(st), got = rc == STORE_ROW;
  if (got) *epoch = store__col_int64(st, 0);
  while (rc == STORE_ROW) rc = store__step(st);
  store__reset(st);
  if (rc != STORE_DONE) return store__fail(s, "taking the lease");
  if (!got) return store__failf(s, "taking the lease: no such run");
  return STORE_OK;
}

/* ---- runs ---------------------------------------------------------- */

#define col_dup store__col_dup

static void run_from_row(store_q *st, store_run *r) {
  memset(r, 0, sizeof *r);
  r->id = col_dup(st, 0);
  r->name = col_dup(st, 1);
  r->version = col_dup(st, 2);
  r->source_path = col_dup(st, 3);
  r->source_sha256 = col_dup(st, 4);
  r->source = col_dup(st, 5);
  r->params = col_dup(st, 6);
  r->env = col_dup(st, 7);
  r->status = col_dup(st, 8);
  r->error = col_dup(st, 9);
  r->failed_key = col_dup(st, 10);
  r->started_by = col_dup(st, 11);
  r->rerun_of = col_dup(st, 12);
  r->created_ms = store__col_int64(st, 13);
  r->updated_ms = store__col_int64(st, 14);
  r->finished_ms = store__col_int64(st, 15);
  r->wake_ms = store__col_int64(st, 16);
  r->owner_pid = store__col_int64(st, 17);
  r->owner_host = col_dup(st, 18);
  r->lease_expires_ms = store__col_int64(st, 19);
  r->cancel_request = col_dup(st, 20);
  r->heartbeat_ms = store__col_int64(st, 21);
  r->config_path = col_dup(st, 22);
  r->git_commit = col_dup(st, 23);
  r->start_sig = col_dup(st, 24);
  r->run_on = col_dup(st, 25);
}

void store_run_free(store_run *r) {
  if (!r) return;
  char **strs[] = {&r->id, &r->name, &r->version, &r->source_path,
                   &r->source_sha256, &r->source, &r->params, &r->env,
                   &r->status, &r->error, &r->failed_key, &r->started_by,
                   &r->owner_host, &r->rerun_of, &r->cancel_request,
                   &r->config_path, &r->git_commit, &r->start_sig,
                   &r->run_on};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
    free(*strs[i]);
    *strs[i] = NULL;
  }
}

int store_run_create(store_t *s, const store_run *r) {
  store_q *st = stmt(s, Q_RUN_INSERT);
  if (!st || store__begin(s) != STORE_OK) return STORE_ERR;
  bind_text(st, 1, r->id);
  bind_text(st, 2, r->name);
  bind_text(st, 3, r->version);
  bind_text(st, 4, r->source_path);
  bind_text(st, 5, r->source_sha256);
  bind_text(st, 6, r->source);
  bind_text(st, 7, r->params);
  bind_text(st, 8, r->env);
  bind_text(st, 9, r->status);
  bind_text(st, 10, r->error);
  bind_text(st, 11, r->failed_key);
  bind_text(st, 12, r->started_by);
  bind_text(st, 13, r->rerun_of);
  store__bind_int64(st, 14, r->created_ms);
  store__bind_int64(st, 15, r->updated_ms);
  store__bind_opt(st, 16, r->finished_ms);
  store__bind_opt(st, 17, r->wake_ms);
  store__bind_opt(st, 18, r->owner_pid);
  bind_text(st, 19, r->owner_host);
  store__bind_opt(st, 20, r->lease_expires_ms);
  bind_text(st, 21, r->cancel_request);
  store__bind_opt(st, 22, r->heartbeat_ms);
  bind_text(st, 23, r->config_path);
  bind_text(st, 24, r->git_commit);
  bind_text(st, 25, r->start_sig);
  bind_text(st, 26, r->run_on);
  if (store__exec(s, st, "creating the run") != STORE_OK) return STORE_ERR;
  if (r->owner_pid > 0) {
    /* A run created with its owner: the owner's first acquisition. */
    int64_t epoch = 0;
    store_q *le = stmt(s, Q_LEASE_FIRST);
    if (!le) return STORE_ERR;
    bind_text(le, 1, r->id);
    if (step_epoch(s, le, &epoch) != STORE_OK) return STORE_ERR;
    store__fence_arm(s, r->id, epoch);
  }
  return STORE_OK;  /* committed by the caller's store_flush (store.h) */
}

int store_run_get(store_t *s, const char *id, store_run *out) {
  store_q *st = stmt(s, Q_RUN_GET);
  if (!st) return STORE_ERR;
  bind_text(st, 1, id);
  int rc = store__step(st);
  if (rc == STORE_ROW) {
    run_from_row(st, out);
    store__reset(st);
    return STORE_OK;
  }
  store__reset(st);
  if (rc == STORE_DONE) return STORE_NOTFOUND;
  return store__fail(s, "reading the run");
}

int store_run_set_status(store_t *s, const char *id, const char *status,
                         const char *error, const char *failed_key,
                         int64_t wake_ms, int final, int64_t now_ms) {
  store_q *st = stmt(s, Q_RUN_STATUS);
  if (!st || store__begin(s) != STORE_OK) return STORE_ERR;
  bind_text(st, 1, id);
  bind_text(st, 2, status);
  bind_text(st, 3, error);
  bind_text(st, 4, failed_key);
  store__bind_opt(st, 5, wake_ms);
  store__bind_int64(st, 6, now_ms);
  store__bind_int64(st, 7, final != 0);
  return store__exec(s, st, "updating the run");
}

int store_run_pin_source(store_t *s, const char *id, const char *path,
                         const char *source, const char *sha256,
                         const char *version) {
  store_q *st = stmt(s, Q_RUN_PIN);
  if (!st || store__begin(s) != STORE_OK) return STORE_ERR;
  bind_text(st, 1, id);
  bind_text(st, 2, path);
  bind_text(st, 3, source);
  bind_text(st, 4, sha256);
  bind_text(st, 5, version);
  return store__exec(s, st, "pinning the source");
}

int store_run_set_git(store_t *s, const char *id, const char *git_json) {
  store_q *st = stmt(s, Q_RUN_GIT);
  if (!st || store__begin(s) != STORE_OK) return STORE_ERR;
  bind_text(st, 1, id);
  bind_text(st, 2, git_json);
  if (store__exec(s, st, "recording the git state") != STORE_OK) return STORE_ERR;
  return store_flush(s);
}

int store_run_set_result(store_t *s, const char *id, const char *json) {
  store_q *st = stmt(s, Q_RUN_RESULT_SET);
  if (!st || store__begin(s) != STORE_OK) return STORE_ERR;
  bind_text(st, 1, id);
  bind_text(st, 2, json);
  return store__exec(s, st, "recording the run's result");
}

int store_run_result(store_t *s, const char *id, char **json) {
  store_q *st = stmt(s, Q_RUN_RESULT_GET);
  *json = NULL;
  if (!st) return STORE_ERR;
  bind_text(st, 1, id);
  int rc = store__step(st);
  if (rc == STORE_ROW) *json = col_dup(st, 0);
  store__reset(st);
  if (rc == STORE_DONE) return STORE_NOTFOUND;
  if (rc != STORE_ROW) return store__fail(s, "reading the run's result");
  return STORE_OK;
}

int store_run_list(store_t *s, const char *status, store_run_cb fn,
                   void *ud) {
  store_q *st = stmt(s, status ? Q_RUN_LIST_STATUS : Q_RUN_LIST);
  if (!st) return STORE_ERR;
  if (status) bind_text(st, 1, status);
  int rc, ret = STORE_OK;
  while ((rc = store__step(st)) == STORE_ROW) {
    store_run r;
    run_from_row(st, &r);
    ret = fn(ud, &r);
    store_run_free(&r);
    if (ret) break;
  }
  store__reset(st);
  if (rc == STORE_ERR) return store__fail(s, "listing runs");
  return ret;
}

/* ---- leases -------------------------------------------------------- */

/* A holder on this host whose pid is gone has died: its lease is void. */
static int holder_alive(int64_t pid, const char *host, const char *myhost) {
  if (pid <= 0) return 0;
  if (!host || strcmp(host, myhost) != 0) return 1; /* trust the expiry */
  return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

int store_lease_acquire(store_t *s, const char *id, int64_t pid,
                        const char *host, int64_t now_ms, int64_t ttl_ms,
                        int64_t *holder_pid, char **holder_host) {
  if (store_flush(s) != STORE_OK) return STORE_ERR;
  /* A new acquisition replaces whatever fence this connection had. */
  store__fence_disarm(s);
  if (store__begin(s) != STORE_OK) return STORE_ERR;
  store_q *st = stmt(s, Q_LEASE_GET);
  if (!st) goto error;
  bind_text(st, 1, id);
  int rc = store__step(st);
  if (rc != STORE_ROW) {
    store__reset(st);
    if (rc == STORE_DONE) {
      store_flush(s);
      return STORE_NOTFOUND;
    }
    store__fail(s, "reading the lease");
    goto error;
  }
  int64_t opid = store__col_int64(st, 0);
  char *ohost = col_dup(st, 1);
  int64_t expires = store__col_int64(st, 2);
  store__reset(st);
  if (opid > 0 && opid != pid && expires > now_ms &&
      holder_alive(opid, ohost, host)) {
    *holder_pid = opid;
    *holder_host = ohost;
    store_flush(s);
    return STORE_BUSY;
  }
  free(ohost);
  st = stmt(s, Q_LEASE_SET);
  if (!st) goto error;
  bind_text(st, 1, id);
  store__bind_int64(st, 2, pid);
  bind_text(st, 3, host);
  store__bind_int64(st, 4, now_ms + ttl_ms);
  store__bind_int64(st, 5, now_ms);
  int64_t epoch = 0;
  if (step_epoch(s, st, &epoch) != STORE_OK) goto error;
  /* Armed before the commit: the commit checks the epoch it just set. */
  store__fence_arm(s, id, epoch);
  return store_flush(s);
error:
  store__rollback(s);
  return STORE_ERR;
}

int store_lease_renew(store_t *s, const char *id, int64_t pid, int64_t now_ms,
                      int64_t ttl_ms) {
  int mine = s->fence_run && !strcmp(s->fence_run, id);
  assert(!mine || s->fence_epoch > 0);
  store_q *st = stmt(s, Q_LEASE_RENEW);
  if (!st) return STORE_ERR;
  int rc = store__begin(s);
  if (rc != STORE_OK) return rc;
  bind_text(st, 1, id);
  store__bind_int64(st, 2, pid);
  store__bind_int64(st, 3, now_ms + ttl_ms);
  store__bind_int64(st, 4, now_ms);
  if (mine) store__bind_int64(st, 5, s->fence_epoch);
  if (store__exec(s, st, "renewing the lease") != STORE_OK) return STORE_ERR;
  if (store__changes(s) == 0) {
    if (mine) return store__fence_lost(s);
    /* Not ours to renew: what else is buffered still commits. */
    rc = store_flush(s);
    if (rc != STORE_OK) return rc;
    store__failf(s, "the lease of run %s is not held by pid %lld", id,
                 (long long)pid);
    return STORE_FENCED;
  }
  return store_flush(s);
}

int store_lease_release(store_t *s, const char *id, int64_t pid) {
  store_q *st = stmt(s, Q_LEASE_RELEASE);
  if (!st || store__begin(s) != STORE_OK) return STORE_ERR;
  bind_text(st, 1, id);
  store__bind_int64(st, 2, pid);
  return store__exec(s, st, "releasing the lease");
}

/* ---- journal ------------------------------------------------------- */

int store_journal_append(store_t *s, const char *run_id, const store_entry *e,
                         int durable) {
  store_q *st = stmt(s, Q_JOURNAL_APPEND);
  if (!st || store__begin(s) != STORE_OK) return STORE_ERR;
  bind_text(st, 1, run_id);
  bind_text(st, 2, e->key);
  store__bind_int64(st, 3, e->attempt);
  bind_text(st, 4, e->state);
  bind_text(st, 5, e->kind);
  bind_text(st, 6, e->name);
  bind_text(st, 7, e->args_hash);
  bind_text(st, 8, e->args);
  bind_text(st, 9, e->result);
  bind_text(st, 10, e->error);
  bind_text(st, 11, e->site);
  bind_text(st, 12, e->note);
  store__bind_int64(st, 13, e->ts_ms);
  int rc = store__step(st);
  if (rc == STORE_ROW) s->last_id = store__col_int64(st, 0);
  store__reset(st);
  if (rc != STORE_ROW) return store__fail(s, "appending to the journal");
  return durable ? store_flush(s) : STORE_OK;
}

int64_t store_last_id(store_t *s) { return s->last_id; }


/* Calls fn for each journal row st selects. */
static int journal_walk(store_t *s, store_q *st, store_entry_cb fn, void *ud) {
  int rc, ret = STORE_OK;
  while ((rc = store__step(st)) == STORE_ROW) {
    store_entry e = {
      .id = store__col_int64(st, 0),
      .key = col_text(st, 1),
      .attempt = store__col_int64(st, 2),
      .state = col_text(st, 3),
      .kind = col_text(st, 4),
      .name = col_text(st, 5),
      .args_hash = col_text(st, 6),
      .args = col_text(st, 7),
      .result = col_text(st, 8),
      .error = col_text(st, 9),
      .site = col_text(st, 10),
      .note = col_text(st, 11),
      .ts_ms = store__col_int64(st, 12),
    };
    ret = fn(ud, &e);
    if (ret) break;
  }
  store__reset(st);
  if (rc == STORE_ERR) return store__fail(s, "reading the journal");
  return ret;
}

int store_journal_each(store_t *s, const char *run_id, store_entry_cb fn,
                       void *ud) {
  store_q *st = stmt(s, Q_JOURNAL_EACH);
  if (!st) return STORE_ERR;
  bind_text(st, 1, run_id);
  return journal_walk(s, st, fn, ud);
}

int store_journal_since(store_t *s, const char *run_id, int64_t after_id,
                        store_entry_cb fn, void *ud) {
  store_q *st = stmt(s, Q_JOURNAL_SINCE);
  if (!st) return STORE_ERR;
  bind_text(st, 1, run_id);
  store__bind_int64(st, 2, after_id);
  return journal_walk(s, st, fn, ud);
}

/* ---- cancellation requests ----------------------------------------- */

int store_run_request_cancel(store_t *s, const char *id, const char *mode) {
  store_q *st = stmt(s, Q_CANCEL_SET);
  if (!st || store__begin(s) != STORE_OK) return STORE_ERR;
  bind_text(st, 1, id);
  bind_text(st, 2, mode);
  if (store__exec(s, st, "requesting the cancel") != STORE_OK) return STORE_ERR;
  return store_flush(s);
}

int store_run_cancel_requested(store_t *s, const char *id, char **mode) {
  store_q *st = stmt(s, Q_CANCEL_GET);
  if (!st) return STORE_ERR;
  bind_text(st, 1, id);
  int rc = store__step(st);
  *mode = rc == STORE_ROW ? col_dup(st, 0) : NULL;
  store__reset(st);
  if (rc == STORE_ERR) return store__fail(s, "reading the run");
  return STORE_OK;
}

/* ---- locks --------------------------------------------------------- */

int store_run_alive(const char *status, int64_t pid, const char *host,
                    int64_t lease_expires_ms, const char *myhost,
                    int64_t now_ms) {
  if (!status) return 0;
  if (!strcmp(status, "suspended") || !strcmp(status, "needs_attention"))
    return 1;
  if (strcmp(status, "running") != 0) return 0;
  return lease_expires_ms > now_ms && holder_alive(pid, host, myhost);
}

int store_lock_acquire(store_t *s, const char *name, const char *run_id,
                       const char *myhost, int64_t now_ms, char **holder) {
  *holder = NULL;
  if (store_flush(s) != STORE_OK || store__begin(s) != STORE_OK) return STORE_ERR;
  store_q *st = stmt(s, Q_LOCK_GET);
  if (!st) goto error;
  bind_text(st, 1, name);
  int rc = store__step(st);
  if (rc == STORE_ROW) {
    char *hrun = col_dup(st, 0);
    const char *status = col_text(st, 1);
    int alive = store_run_alive(status, store__col_int64(st, 2),
                                col_text(st, 3), store__col_int64(st, 4),
                                myhost, now_ms);
    store__reset(st);
    if (alive && strcmp(hrun, run_id) != 0) {
      *holder = hrun;
      store_flush(s);
      return STORE_BUSY;
    }
    free(hrun);
  } else {
    store__reset(st);
    if (rc != STORE_DONE) {
      store__fail(s, "reading the lock");
      goto error;
    }
  }
  st = stmt(s, Q_LOCK_SET);
  if (!st) goto error;
  bind_text(st, 1, name);
  bind_text(st, 2, run_id);
  store__bind_int64(st, 3, now_ms);
  if (store__exec(s, st, "taking the lock") != STORE_OK) goto error;
  return store_flush(s);
error:
  store__rollback(s);
  return STORE_ERR;
}

int store_lock_release(store_t *s, const char *name, const char *run_id) {
  store_q *st = stmt(s, name ? Q_LOCK_RELEASE : Q_LOCK_RELEASE_RUN);
  if (!st || store__begin(s) != STORE_OK) return STORE_ERR;
  if (name) {
    bind_text(st, 1, name);
    bind_text(st, 2, run_id);
  } else {
    bind_text(st, 1, run_id);
  }
  return store__exec(s, st, "releasing the lock");
}

int store_lock_list(store_t *s, store_lock_cb fn, void *ud) {
  store_q *st = stmt(s, Q_LOCK_LIST);
  if (!st) return STORE_ERR;
  int rc, ret = STORE_OK;
  while ((rc = store__step(st)) == STORE_ROW) {
    store_lock l = {
      .name = col_text(st, 0), .run_id = col_text(st, 1),
      .acquired_ms = store__col_int64(st, 2), .status = col_text(st, 3),
      .owner_pid = store__col_int64(st, 4), .owner_host = col_text(st, 5),
      .lease_expires_ms = store__col_int64(st, 6),
      .runbook = col_text(st, 7),
    };
    if ((ret = fn(ud, &l))) break;
  }
  store__reset(st);
  if (rc == STORE_ERR) return store__fail(s, "listing locks");
  return ret;
}
