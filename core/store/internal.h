#ifndef SUMMIT_STORE_INTERNAL_H
#define SUMMIT_STORE_INTERNAL_H
/* Shared by the files of core/store/ only: each table group (runs and the
 * journal in sqlite.c, the audit trail in audit.c, approvals in
 * approvals.c) keeps its own SQL and prepares it through these. */

#include <sqlite3.h>

#include "store/store.h"

/* Statement slots of the files other than sqlite.c. */
enum {
  STORE_AUX_AUDIT = 0,       /* audit.c: 16 slots */
  STORE_AUX_APPROVALS = 16,  /* approvals.c: 16 slots */
  STORE_AUX_SCHEDULES = 32,  /* schedules.c: 16 slots */
  STORE_AUX_NOTIFY = 48,     /* notify.c: 4 slots */
  STORE_AUX_SLOTS = 52
};

/* The statement of slot, prepared once from sql, reset and unbound. */
sqlite3_stmt *store__aux(store_t *s, int slot, const char *sql);
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

static inline void store__bind_text(sqlite3_stmt *st, int i, const char *v) {
  if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, i);
}

char *store__col_dup(sqlite3_stmt *st, int i);

#endif
