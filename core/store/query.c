/* Statements: each call goes to the connection's backend (lite.c, pg.c).
 * The files of core/store/ prepare, bind, step and read through these
 * only, so one body of SQL code serves both databases. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"

store_q *store__stmt(store_t *s, enum store_stmt id, const char *sql) {
  assert(s && sql);
  assert(id >= 0 && id < STORE_NSTMT);
  store_q *q = &s->q[id];
  if (!q->h) {
    if (s->be->prepare(q, sql) != STORE_OK) {
      store__fail(s, "prepare");
      return NULL;
    }
    q->sql = sql;
  } else {
    s->be->reset(q);
  }
  /* One slot, one statement: the SQL it was prepared from is this one. */
  assert(q->sql == sql || strcmp(q->sql, sql) == 0);
  return q;
}

void store__bind_text(store_q *q, int i, const char *v) {
  q->s->be->bind_text(q, i, v);
}

void store__bind_int64(store_q *q, int i, int64_t v) {
  q->s->be->bind_int64(q, i, v);
}

void store__bind_opt(store_q *q, int i, int64_t v) {
  if (v) q->s->be->bind_int64(q, i, v);
  else q->s->be->bind_text(q, i, NULL);
}

int store__step(store_q *q) { return q->s->be->step(q); }

const char *store__col_text(store_q *q, int i) {
  return q->s->be->col_text(q, i);
}

int64_t store__col_int64(store_q *q, int i) {
  return q->s->be->col_int64(q, i);
}

int store__col_null(store_q *q, int i) { return q->s->be->col_null(q, i); }

char *store__col_dup(store_q *q, int i) {
  const char *t = store__col_text(q, i);
  return t ? strdup(t) : NULL;
}

void store__reset(store_q *q) { q->s->be->reset(q); }

int store__constraint(store_t *s) { return s->be->constraint(s); }

int64_t store__changes(store_t *s) { return s->changes; }
