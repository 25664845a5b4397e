#ifndef SUMMIT_STORE_INTERNAL_H
#define SUMMIT_STORE_INTERNAL_H
/* Shared by the files of core/store/ only.
 *
 * Two backends sit behind store.h: SQLite (lite.c, the embedded default)
 * and PostgreSQL (pg.c, a team's shared store). The table groups (runs and
 * the journal in runs.c, the audit trail in audit.c, approvals in
 * approvals.c, schedules and the daemon's claims in schedules.c, the
 * queue of submitted runs in queue.c, what notifications read in notify.c, the modules a run pinned in pins.c, serve's API tokens in tokens.c) are
 * written once, against the small statement interface below, in SQL both
 * databases run: `?N` placeholders (pg.c turns them into `$N`), standard
 * upserts, RETURNING, and a CAST where PostgreSQL cannot infer a
 * parameter's type. query.c hands each call to the connection's backend. */

#include <stdint.h>

#include "store/store.h"

/* Every prepared statement of core/store/: one slot each in a connection.
 * The compiler numbers them, so no two statements can share a slot; a file
 * uses only the names of its own group, and always with the same SQL
 * (store__stmt asserts both). Adding a statement is adding its name here. */
enum store_stmt {
  /* runs.c: runs, leases, the journal, cancels, locks */
  Q_RUN_INSERT, Q_RUN_GET, Q_RUN_STATUS, Q_RUN_PIN, Q_RUN_GIT,
  Q_RUN_RESULT_SET, Q_RUN_RESULT_GET,
  Q_RUN_LIST, Q_RUN_LIST_STATUS,
  Q_LEASE_GET, Q_LEASE_SET, Q_LEASE_RENEW, Q_LEASE_RELEASE,
  Q_LEASE_FIRST, Q_FENCE_GET,
  Q_JOURNAL_APPEND, Q_JOURNAL_EACH, Q_JOURNAL_SINCE,
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
  /* tokens.c: the API tokens of summit serve */
  K_ADD, K_LIST, K_REVOKE,
  /* migrate.c: per table, a row count, a width check, the read and the
   * write of `summit store migrate` */
#define X_TABLES 9
  X_COUNT, X_WIDTH = X_COUNT + X_TABLES, X_READ = X_WIDTH + X_TABLES,
  X_WRITE = X_READ + X_TABLES, X_END = X_WRITE + X_TABLES,
  STORE_NSTMT = X_END
};

/* A prepared statement of either backend (query.c). */
typedef struct store_q store_q;

/* What store__step returns besides STORE_ERR. */
enum { STORE_ROW = 100, STORE_DONE = 101 };

/* The statement of slot id, prepared from sql the first time and reused,
 * reset and unbound; NULL (error recorded) if it does not prepare. */
store_q *store__stmt(store_t *s, enum store_stmt id, const char *sql);
/* Binds v as text (NULL: SQL NULL). The text must live until the
 * statement is stepped. */
void store__bind_text(store_q *q, int i, const char *v);
void store__bind_int64(store_q *q, int i, int64_t v);
/* Binds v, or NULL when v is 0 (an optional time or pid). */
void store__bind_opt(store_q *q, int i, int64_t v);
/* The next row: STORE_ROW, STORE_DONE, or STORE_ERR with the database's
 * message recorded (store__fail names what failed). */
int store__step(store_q *q);
/* Column i of the current row: text owned by q until its next step or
 * reset (NULL for SQL NULL); an integer (0 for NULL). */
const char *store__col_text(store_q *q, int i);
int64_t store__col_int64(store_q *q, int i);
int store__col_null(store_q *q, int i);
/* Column i as a malloc'd copy, or NULL. */
char *store__col_dup(store_q *q, int i);
/* Ends the statement's current execution (its rows are gone). */
void store__reset(store_q *q);
/* Whether the last error of s broke a constraint (a unique key). */
int store__constraint(store_t *s);
/* Rows changed by the last write statement of s. */
int64_t store__changes(store_t *s);

/* The audit chain's head as this write transaction knows it: 1 with it in
 * *seq (0: empty) and hash when known (read by the backend's BEGIN, or
 * written by an append of this transaction), 0 when it must be read. store__audit_keep records a new head; both are
 * forgotten when the transaction ends. */
int store__audit_head(store_t *s, int64_t *seq, char hash[65]);
void store__audit_keep(store_t *s, int64_t seq, const char *hash);
/* Opens the batched write transaction if none is open: SQLite's BEGIN
 * IMMEDIATE, or on PostgreSQL a BEGIN that takes summit's write lock (an
 * advisory lock), so every check-then-write of core/store/ is as safe as
 * on SQLite and the audit chain stays linear. */
int store__begin(store_t *s);
/* Drops the open write transaction (after an error inside it). */
void store__rollback(store_t *s);
/* Steps a statement that returns no rows, then resets it; what names it in
 * the error. */
int store__exec(store_t *s, store_q *q, const char *what);
/* Records the database's last error for what; returns STORE_ERR. */
int store__fail(store_t *s, const char *what);
/* Records a message of our own; returns STORE_ERR. */
int store__failf(store_t *s, const char *fmt, ...);

#endif
