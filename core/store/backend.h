#ifndef SUMMIT_STORE_BACKEND_H
#define SUMMIT_STORE_BACKEND_H
/* What a backend of the store implements (lite.c, pg.c), and the
 * connection struct they share with store.c and query.c. Nothing outside
 * core/store/ includes this. */

#include <stddef.h>
#include <stdint.h>

#include "store/internal.h"

struct store_q {
  store_t *s;
  const char *sql;   /* what it was prepared from (store__stmt asserts) */
  void *h;           /* the backend's statement */
};

typedef struct store_backend {
  const char *kind;  /* "sqlite" or "postgresql" */
  /* Connects to target (a file path, or a libpq URL / conninfo), checks
   * the database is summit's and migrates its schema forward. On failure
   * writes a message into err (never a password) and leaves nothing open:
   * store.c frees s. */
  int (*open)(store_t *s, const char *target, int create,
              store_durability dur, char *err, size_t errlen);
  void (*close)(store_t *s);
  /* Opens, commits or drops the write transaction. */
  int (*begin)(store_t *s);
  int (*commit)(store_t *s);
  /* Commits only if run is still at epoch, checked by the server in the
   * same round trip: STORE_OK, STORE_FENCED (nothing kept, transaction
   * ended) or STORE_ERR. NULL: store.c checks with a SELECT first. */
  int (*commit_fenced)(store_t *s, const char *run, int64_t epoch);
  void (*rollback)(store_t *s);
  /* The database's message for the last error, and a note of our own on
   * what it most likely means ("" if none). */
  const char *(*errmsg)(store_t *s);
  const char *(*hint)(store_t *s);
  int (*constraint)(store_t *s);  /* the last error broke a constraint */
  /* Statements (query.c calls these). */
  int (*prepare)(store_q *q, const char *sql);
  void (*finalize)(store_q *q);
  void (*bind_text)(store_q *q, int i, const char *v);
  void (*bind_int64)(store_q *q, int i, int64_t v);
  int (*step)(store_q *q);
  const char *(*col_text)(store_q *q, int i);
  int64_t (*col_int64)(store_q *q, int i);
  int (*col_null)(store_q *q, int i);
  int (*col_count)(store_q *q);     /* columns of the current row */
  /* After store_copy wrote explicit ids (NULL: nothing to do). */
  int (*after_copy)(store_t *s);
  void (*reset)(store_q *q);
} store_backend;

extern const store_backend store_lite;
extern const store_backend store_pg;

struct store {
  const store_backend *be;
  void *db;          /* the backend's connection */
  store_q q[STORE_NSTMT];  /* prepared on first use */
  int in_txn;        /* a write transaction is open (see store_flush) */
  int migrated;      /* this connection created or migrated the schema */
  uint64_t commits;  /* transactions store_flush committed (store_commits) */
  int64_t changes;   /* rows changed by the last write statement */
  int64_t last_id;   /* the id of the newest journal row appended */
  /* The audit head as this transaction knows it (audit_known: 0 when it
   * must be read; audit_seq 0 is the empty chain). */
  int audit_known;
  int64_t audit_seq;
  char audit_hash[65];
  char err[1024];
  char *path;        /* named in every error: a file, or a URL without
                      * its password */
  /* The fence (DESIGN §11): the run whose lease this connection holds and
   * the epoch of that acquisition. Every commit checks it inside its own
   * transaction; once a check fails the connection is fenced for good. */
  char *fence_run;
  int64_t fence_epoch;
  int fenced;
  char fence_msg[768];
  void (*on_fenced)(void *ud);
  void *on_fenced_ud;
};

/* Fencing (store.c): arms s for run id at epoch (inside the acquiring
 * transaction), forgets it, or records that the lease is lost (drops the
 * open transaction; returns STORE_FENCED). */
void store__fence_arm(store_t *s, const char *id, int64_t epoch);
void store__fence_disarm(store_t *s);
int store__fence_lost(store_t *s);

/* The schema (schema.c): MIGRATIONS[v] takes SQLite from v to v + 1;
 * PostgreSQL starts at store_pg_base() from one script and takes the
 * migrations after it in their PostgreSQL form. */
const char *store__pg_migration(int from);

#endif
