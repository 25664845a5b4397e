#ifndef SUMMIT_STORE_INTERNAL_H
#define SUMMIT_STORE_INTERNAL_H
/* Shared by the files of core/store/ only: each table group (runs and the
 * journal in sqlite.c, the audit trail in audit.c, approvals in
 * approvals.c, schedules and the daemon's claims in schedules.c, the
 * queue of submitted runs in queue.c, what notifications read in
 * notify.c, the modules a run pinned in pins.c)
 * keeps its own SQL and prepares it through these. */

#include <sqlite3.h>

#include "store/store.h"

/* Every prepared statement of core/store/: one slot each in a connection.
 * The compiler numbers them, so no two statements can share a slot; a file
 * uses only the names of its own group, and always with the same SQL
 * (store__stmt asserts both). Adding a statement is adding its name here. */
enum store_stmt {
  /* sqlite.c: transactions, runs, leases, the journal, cancels, locks */
  Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
  Q_RUN_INSERT, Q_RUN_GET, Q_RUN_STATUS, Q_RUN_PIN, Q_RUN_GIT,
  Q_RUN_RESULT_SET, Q_RUN_RESULT_GET,
  Q_RUN_LIST, Q_RUN_LIST_STATUS,
  Q_LEASE_GET, Q_LEASE_SET, Q_LEASE_RENEW, Q_LEASE_RELEASE,
  Q_LEASE_FIRST, Q_FENCE_GET,
  Q_JOURNAL_APPEND, Q_JOURNAL_EACH,
  Q_CANCEL_SET, Q_CANCEL_GET,
  Q_LOCK_GET, Q_LOCK_SET, Q_LOCK_RELEASE, Q_LOCK_RELEASE_RUN, Q_LOCK_LIST,
  /* audit.c */
  A_LAST, A_INSERT, A_EACH, A_ALL,
  /* approvals.c: waits (W_) and decisions (D_) */
  W_GET, W_INSERT, W_REPLACE, W_CLOSE, W_DEADLINE, W_LIST,
  D_INSERT, D_LIST, D_EACH,
  /* schedules.c: schedules (S_), the daemon's pending runs (P_), a run's
   * schedule (R_) */
  S_ADD, S_REMOVE, S_PAUSE, S_LIST, S_CLAIM, S_NOTE, S_RUN_MARK,
  S_RUN_LAST, S_ENDED, S_ACTIVE, S_FIRE_RUN,
  P_LIST, P_CLAIM, P_RELEASE, R_SCHEDULE,
  /* queue.c: submitted runs waiting for a worker */
  U_LIST, U_CLAIM,
  /* notify.c */
  N_STREAK,
  /* pins.c: module sources (M_) */
  M_SOURCE_PUT, M_SOURCE_GET, M_PIN, M_CLEAR, M_EACH, M_VERSION_SET,
  M_VERSION_GET,
  STORE_NSTMT
};

/* The statement of slot id, prepared from sql the first time and reused,
 * reset and unbound; NULL (error recorded) if it does not prepare. */
sqlite3_stmt *store__stmt(store_t *s, enum store_stmt id, const char *sql);
/* Opens the batched write transaction if none is open. */
int store__begin(store_t *s);
/* Drops the open write transaction (after an error inside it). */
void store__rollback(store_t *s);
/* Steps a statement that returns no rows; what names it in the error. */
int store__exec(store_t *s, sqlite3_stmt *st, const char *what);
/* Records sqlite's error for what; returns STORE_ERR. */
int store__fail(store_t *s, const char *what);
/* Records a message of our own; returns STORE_ERR. */
int store__failf(store_t *s, const char *fmt, ...);

/* Binds v as text, or NULL when v is NULL. */
static inline void store__bind_text(sqlite3_stmt *st, int i, const char *v) {
  if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, i);
}

/* Binds v, or NULL when v is 0 (an optional time or pid). */
static inline void store__bind_opt(sqlite3_stmt *st, int i, int64_t v) {
  if (v) sqlite3_bind_int64(st, i, v);
  else sqlite3_bind_null(st, i);
}

/* Column i as text, owned by st until its next step or reset. */
static inline const char *store__col_text(sqlite3_stmt *st, int i) {
  return (const char *)sqlite3_column_text(st, i);
}

/* Column i as a malloc'd copy, or NULL. */
char *store__col_dup(sqlite3_stmt *st, int i);

#endif
