/* The PostgreSQL backend: a team's shared store (DESIGN §11, docs/team.md).
 *
 * Same semantics as lite.c, kept the same way: every write transaction
 * first takes summit's write lock (a transaction-level advisory lock), so
 * writers are serialised as on SQLite. That keeps every check-then-write of
 * core/store/ (lease, lock and fire claims, the audit chain's head)
 * correct without a second version of it; readers never wait. The server
 * ends a session that sits idle inside a transaction for 10 s (a stopped
 * process), which releases the lock, where SQLite can only wait.
 *
 * A connection that breaks outside a transaction is re-opened with backoff
 * before the next statement (the database restarted). One that breaks
 * inside a transaction fails the call: what the transaction held is gone,
 * and a COMMIT whose answer was lost may or may not have happened, so the
 * caller stops and a resume reads the journal again (docs/team.md). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/backend.h"
#include "store/pq_lazy.h"  /* <libpq-fe.h>, loaded on first use */

#define MAXP 48  /* the widest statement: migrate.c's copy of runs */
/* pg_advisory_xact_lock's key for summit's write lock: "summit" in ASCII. */
#define WRITE_LOCK "115117109109105116"

typedef struct {
  PGconn *conn;
  char *target;       /* as given: it may hold a password, never shown */
  int gen;            /* counts connections: statements prepare per one */
  store_durability dur;
  int in_txn;
  char msg[512];      /* the last error */
  char state[6];      /* its SQLSTATE ("" if none) */
  int lost;           /* the last error was a broken connection */
  int lost_in_txn;
} pgdb;

typedef struct {
  char name[16];
  char *sql;          /* with $N placeholders */
  int nparams, gen;
  const char *vals[MAXP];
  Oid types[MAXP];    /* int8 for an integer bound, else 0: inferred */
  char ibuf[MAXP][24];
  PGresult *res;
  int row, nrows;
} pgstmt;

#define PG(s) ((pgdb *)(s)->db)
#define PS(q) ((pgstmt *)(q)->h)

static void quiet(void *arg, const char *message) {
  (void)arg;
  (void)message;  /* NOTICEs ("already exists, skipping") are not ours */
}

static void set_err(pgdb *d, const char *m, const char *state) {
  snprintf(d->msg, sizeof d->msg, "%s", m && *m ? m : "unknown error");
  size_t n = strlen(d->msg);
  while (n && (d->msg[n - 1] == '\n' || d->msg[n - 1] == ' ')) d->msg[--n] = 0;
  snprintf(d->state, sizeof d->state, "%s", state ? state : "");
  d->lost = PQstatus(d->conn) == CONNECTION_BAD;
  if (d->lost && d->in_txn) d->lost_in_txn = 1;
}

static void res_err(pgdb *d, PGresult *r) {
  set_err(d, r ? PQresultErrorMessage(r) : PQerrorMessage(d->conn),
          r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL);
  if (!d->msg[0] || !strcmp(d->msg, "unknown error"))
    set_err(d, PQerrorMessage(d->conn), d->state);
}

/* The target without its password: postgresql://user@host:port/db, from
 * libpq's own parse of it. */
static char *display_name(const char *target) {
  char *perr = NULL, out[512];
  PQconninfoOption *o = PQconninfoParse(target, &perr);
  PQfreemem(perr);
  const char *user = NULL, *host = NULL, *port = NULL, *db = NULL;
  for (PQconninfoOption *p = o; p && p->keyword; p++) {
    if (!p->val || !*p->val) continue;
    if (!strcmp(p->keyword, "user")) user = p->val;
    else if (!strcmp(p->keyword, "host")) host = p->val;
    else if (!strcmp(p->keyword, "port")) port = p->val;
    else if (!strcmp(p->keyword, "dbname")) db = p->val;
  }
  snprintf(out, sizeof out, "postgresql://%s%s%s%s%s/%s", user ? user : "",
           user ? "@" : "", host ? host : "", port ? ":" : "",
           port ? port : "", db ? db : "");
  PQconninfoFree(o);
  return strdup(out);
}

/* Runs sql (no parameters) and keeps its result in *out (may be NULL). */
static int simple(pgdb *d, const char *sql, PGresult **out) {
  PGresult *r = PQexec(d->conn, sql);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    res_err(d, r);
    PQclear(r);
    return STORE_ERR;
  }
  if (out) *out = r;
  else PQclear(r);
  return STORE_OK;
}

/* Session settings of every connection (and of each after a reconnect). */
static int configure(pgdb *d, store_durability dur) {
  PQsetNoticeProcessor(d->conn, quiet, NULL);
  return simple(d,
                dur == STORE_DURABILITY_FULL
                    ? "SET synchronous_commit = on;"
                      "SET idle_in_transaction_session_timeout = '10s';"
                      "SET lock_timeout = '30s'; SET TIME ZONE 'UTC'"
                    : "SET synchronous_commit = off;"
                      "SET idle_in_transaction_session_timeout = '10s';"
                      "SET lock_timeout = '30s'; SET TIME ZONE 'UTC'",
                NULL);
}

static int connect_db(pgdb *d) {
  if (d->conn) PQfinish(d->conn);
  /* The target may be a URL or key=value pairs (expand_dbname); the
   * application name tells summit's sessions apart in pg_stat_activity. */
  const char *const keys[] = {"dbname", "fallback_application_name", NULL};
  const char *const vals[] = {d->target, "summit", NULL};
  d->conn = PQconnectdbParams(keys, vals, 1);
  d->gen++;
  if (PQstatus(d->conn) != CONNECTION_OK) {
    set_err(d, PQerrorMessage(d->conn), NULL);
    d->lost = 1;
    return STORE_ERR;
  }
  d->lost = 0;
  return configure(d, d->dur);
}

static long env_ms(const char *name, long dflt) {
  const char *v = getenv(name);
  return v && *v ? strtol(v, NULL, 10) : dflt;
}

/* The connection broke outside a transaction: connect again, waiting
 * 100 ms, 200 ms, ... up to 2 s between tries, for SUMMIT_PG_RECONNECT_MS
 * (60 s) in all. */
static int reconnect(pgdb *d) {
  long budget = env_ms("SUMMIT_PG_RECONNECT_MS", 60000), wait = 100;
  for (;;) {
    if (connect_db(d) == STORE_OK) return STORE_OK;
    if (budget <= 0) return STORE_ERR;
    long w = wait < budget ? wait : budget;
    struct timespec ts = {w / 1000, (w % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    budget -= w;
    if (wait < 2000) wait *= 2;
  }
}

/* Before a statement: a connection known broken is replaced when no
 * transaction is open; inside one, the statement fails (see top). */
static int ready(pgdb *d) {
  if (PQstatus(d->conn) == CONNECTION_OK) return STORE_OK;
  if (d->in_txn) {
    set_err(d, "the connection to the database was lost inside a "
               "transaction; its writes were not kept", NULL);
    d->lost = d->lost_in_txn = 1;
    return STORE_ERR;
  }
  return reconnect(d);
}

/* ---- schema --------------------------------------------------------- */

/* The schema version: 0 when there is no summit_schema table (yet). */
static int read_version(pgdb *d, int *version) {
  PGresult *r = NULL;
  *version = 0;
  /* pg_tables, not to_regclass: a lookup without a lock may answer from
   * a cache that has not seen another process's migration commit. */
  if (simple(d, "SELECT count(*) FROM pg_tables WHERE schemaname ="
                " current_schema() AND tablename = 'summit_schema'", &r) !=
      STORE_OK)
    return STORE_ERR;
  int exists = atoi(PQgetvalue(r, 0, 0)) > 0;
  PQclear(r);
  if (!exists) return STORE_OK;
  if (simple(d, "SELECT max(version) FROM summit_schema", &r) != STORE_OK)
    return STORE_ERR;
  *version = PQgetisnull(r, 0, 0) ? 0 : atoi(PQgetvalue(r, 0, 0));
  PQclear(r);
  return STORE_OK;
}

/* Creates or moves the schema forward, under the write lock so two
 * processes starting together do it once. */
static int migrate(store_t *s, char *err, size_t errlen) {
  pgdb *d = PG(s);
  int v = 0;
  if (simple(d, "BEGIN; SELECT pg_advisory_xact_lock(" WRITE_LOCK ")",
             NULL) != STORE_OK ||
      read_version(d, &v) != STORE_OK)
    goto error;
  if (v == 0) {
    PGresult *r = NULL;
    if (simple(d, "SELECT count(*) FROM information_schema.tables"
                  " WHERE table_schema = current_schema()", &r) != STORE_OK)
      goto error;
    int foreign = atoi(PQgetvalue(r, 0, 0)) > 0;
    PQclear(r);
    if (foreign) {
      simple(d, "ROLLBACK", NULL);
      snprintf(err, errlen,
               "state database %s has tables and no summit schema: it is "
               "not summit's (nothing was changed)", s->path);
      return STORE_ERR;
    }
  }
  while (v < store_schema_version()) {
    const char *sql = store__pg_migration(v);
    if (!sql || simple(d, sql, NULL) != STORE_OK) goto error;
    if (read_version(d, &v) != STORE_OK) goto error;
  }
  if (simple(d, "COMMIT", NULL) != STORE_OK) goto error;
  return STORE_OK;
error:
  snprintf(err, errlen, "state database %s: migrating the schema: %s",
           s->path, d->msg);
  simple(d, "ROLLBACK", NULL);
  return STORE_ERR;
}

static int pg_open(store_t *s, const char *target, int create,
                   store_durability dur, char *err, size_t errlen) {
  (void)create;  /* the database is the team's: summit never creates it */
  const char *why = pq_lazy_load();  /* the first PostgreSQL store */
  if (why) {
    snprintf(err, errlen, "cannot open a PostgreSQL state database: %s",
             why);
    return STORE_ERR;
  }
  pgdb *d = calloc(1, sizeof *d);
  s->path = display_name(target);
  if (!d || !s->path || !(d->target = strdup(target))) {
    free(d);
    snprintf(err, errlen, "out of memory");
    return STORE_ERR;
  }
  s->db = d;
  d->dur = dur;
  if (connect_db(d) != STORE_OK) {
    snprintf(err, errlen, "cannot open state database %s: %s", s->path,
             d->msg);
    goto error;
  }
  int v = 0;
  if (read_version(d, &v) != STORE_OK) {
    snprintf(err, errlen, "state database %s cannot be read: %s", s->path,
             d->msg);
    goto error;
  }
  if (v > store_schema_version()) {
    snprintf(err, errlen,
             "state database %s has schema version %d, newer than this "
             "summit understands (%d); upgrade summit",
             s->path, v, store_schema_version());
    goto error;
  }
  if (v < store_schema_version() && migrate(s, err, errlen) != STORE_OK)
    goto error;
  return STORE_OK;
error:
  PQfinish(d->conn);
  free(d->target);
  free(d);
  s->db = NULL;
  return STORE_ERR;
}

static void pg_close(store_t *s) {
  pgdb *d = PG(s);
  if (!d) return;
  PQfinish(d->conn);
  free(d->target);
  free(d);
}

/* BEGIN, the write lock and the audit chain's head, in one round trip:
 * most write transactions append an audit record, and under the lock
 * the head read here stays the head (store__audit_head). */
#define BEGIN_SQL                                                         \
  "BEGIN; SELECT pg_advisory_xact_lock(" WRITE_LOCK ");"                  \
  "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"

static int pg_begin(store_t *s) {
  pgdb *d = PG(s);
  d->lost_in_txn = 0;
  if (ready(d) != STORE_OK) return STORE_ERR;
  PGresult *r = NULL;
  int rc = simple(d, BEGIN_SQL, &r);
  if (rc != STORE_OK && d->lost && reconnect(d) == STORE_OK)
    rc = simple(d, BEGIN_SQL, &r);
  if (rc != STORE_OK) return rc;
  d->in_txn = 1;
  if (PQntuples(r) == 1)
    store__audit_keep(s, strtoll(PQgetvalue(r, 0, 0), NULL, 10),
                      PQgetvalue(r, 0, 1));
  else
    store__audit_keep(s, 0, STORE_AUDIT_GENESIS);
  PQclear(r);
  return STORE_OK;
}

static int pg_commit(store_t *s) {
  pgdb *d = PG(s);
  int rc = d->lost_in_txn ? STORE_ERR : simple(d, "COMMIT", NULL);
  if (rc != STORE_OK && d->lost)
    set_err(d, "the connection to the database was lost before COMMIT "
               "answered: the transaction may or may not have been kept",
            "08006");
  d->in_txn = 0;
  return rc;
}

/* The fence check and COMMIT in one round trip (summit_fence, schema.c):
 * when the check raises, the COMMIT after it in the same query string is
 * not run and the transaction is rolled back here. */
static int pg_commit_fenced(store_t *s, const char *run, int64_t epoch) {
  pgdb *d = PG(s);
  if (d->lost_in_txn) {
    d->in_txn = 0;
    return STORE_ERR;
  }
  char *lit = PQescapeLiteral(d->conn, run, strlen(run));
  if (!lit) {
    set_err(d, PQerrorMessage(d->conn), NULL);
    return STORE_ERR;
  }
  char sql[512];
  snprintf(sql, sizeof sql, "SELECT summit_fence(%s, %lld); COMMIT", lit,
           (long long)epoch);
  PQfreemem(lit);
  int rc = simple(d, sql, NULL);
  if (rc == STORE_OK) {
    d->in_txn = 0;
    return STORE_OK;
  }
  if (!strcmp(d->state, "SF001")) {
    PQclear(PQexec(d->conn, "ROLLBACK"));
    d->in_txn = 0;
    return STORE_FENCED;
  }
  if (d->lost)
    set_err(d, "the connection to the database was lost before COMMIT "
               "answered: the transaction may or may not have been kept",
            "08006");
  return STORE_ERR;
}

static void pg_rollback(store_t *s) {
  pgdb *d = PG(s);
  if (PQstatus(d->conn) == CONNECTION_OK) PQclear(PQexec(d->conn, "ROLLBACK"));
  d->in_txn = 0;
}

static const char *pg_errmsg(store_t *s) { return PG(s)->msg; }

static const char *pg_hint(store_t *s) {
  pgdb *d = PG(s);
  if (d->lost) return " (the database connection broke; a resume continues "
                      "from what the journal kept)";
  if (!strcmp(d->state, "55P03"))
    return " (summit's write lock was held for 30 s by another process)";
  return "";
}

static int pg_constraint(store_t *s) { return !strncmp(PG(s)->state, "23", 2); }

/* ---- statements ----------------------------------------------------- */

/* ?N -> $N outside quoted text; *nparams gets the largest N. */
static char *translate(const char *sql, int *nparams) {
  size_t n = strlen(sql);
  char *out = malloc(n + 1), *o = out;
  if (!out) return NULL;
  char quote = 0;
  *nparams = 0;
  for (const char *p = sql; *p; p++) {
    if (quote) {
      if (*p == quote) quote = 0;
    } else if (*p == '\'' || *p == '"') {
      quote = *p;
    } else if (*p == '?' && p[1] >= '0' && p[1] <= '9') {
      *o++ = '$';
      int v = atoi(p + 1);
      if (v > *nparams) *nparams = v;
      continue;
    }
    *o++ = *p;
  }
  *o = 0;
  return out;
}

static int pg_prepare(store_q *q, const char *sql) {
  pgstmt *p = calloc(1, sizeof *p);
  if (!p || !(p->sql = translate(sql, &p->nparams))) {
    free(p);
    return STORE_ERR;
  }
  if (p->nparams > MAXP) {
    set_err(PG(q->s), "a statement with more parameters than pg.c binds",
            NULL);
    free(p->sql);
    free(p);
    return STORE_ERR;
  }
  snprintf(p->name, sizeof p->name, "s%d", (int)(q - q->s->q));
  p->gen = -1;
  q->h = p;
  return STORE_OK;
}

static void pg_reset(store_q *q) {
  pgstmt *p = PS(q);
  PQclear(p->res);
  p->res = NULL;
  memset(p->vals, 0, sizeof p->vals);
  memset(p->types, 0, sizeof p->types);
}

static void pg_finalize(store_q *q) {
  pg_reset(q);
  free(PS(q)->sql);
  free(q->h);
  q->h = NULL;
}

static void pg_bind_text(store_q *q, int i, const char *v) {
  assert(i >= 1 && i <= PS(q)->nparams);
  PS(q)->vals[i - 1] = v;
  PS(q)->types[i - 1] = 0;
}

static void pg_bind_int64(store_q *q, int i, int64_t v) {
  assert(i >= 1 && i <= PS(q)->nparams);
  pgstmt *p = PS(q);
  snprintf(p->ibuf[i - 1], sizeof p->ibuf[i - 1], "%lld", (long long)v);
  p->vals[i - 1] = p->ibuf[i - 1];
  p->types[i - 1] = 20;  /* INT8OID: no guessing from context */
}

/* Prepares (once per connection, with the parameter types of its first
 * execution) and runs the statement. */
static PGresult *execute(pgdb *d, pgstmt *p) {
  if (p->gen != d->gen) {
    PGresult *r = PQprepare(d->conn, p->name, p->sql, p->nparams, p->types);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) return r;
    PQclear(r);
    p->gen = d->gen;
  }
  return PQexecPrepared(d->conn, p->name, p->nparams, p->vals, NULL, NULL, 0);
}

static int pg_step(store_q *q) {
  pgstmt *p = PS(q);
  pgdb *d = PG(q->s);
  if (!p->res) {
    if (ready(d) != STORE_OK) return STORE_ERR;
    PGresult *r = execute(d, p);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !d->in_txn &&
        PQstatus(d->conn) == CONNECTION_BAD && reconnect(d) == STORE_OK) {
      PQclear(r);  /* a read (no transaction): safe to ask again */
      r = execute(d, p);
      st = PQresultStatus(r);
    }
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      res_err(d, r);
      PQclear(r);
      /* PostgreSQL has aborted the whole transaction (SQLite undoes only
       * the statement): end it now, so the connection stays usable and
       * the caller's error stands for everything the transaction held. */
      if (d->in_txn) {
        pg_rollback(q->s);
        q->s->in_txn = 0;
      }
      return STORE_ERR;
    }
    const char *n = PQcmdTuples(r);
    q->s->changes = n && *n ? strtoll(n, NULL, 10) : 0;
    p->res = r;
    p->nrows = st == PGRES_TUPLES_OK ? PQntuples(r) : 0;
    p->row = -1;
  }
  if (++p->row < p->nrows) return STORE_ROW;
  return STORE_DONE;
}

static const char *pg_col_text(store_q *q, int i) {
  pgstmt *p = PS(q);
  if (PQgetisnull(p->res, p->row, i)) return NULL;
  return PQgetvalue(p->res, p->row, i);
}

static int64_t pg_col_int64(store_q *q, int i) {
  const char *v = pg_col_text(q, i);
  return v ? strtoll(v, NULL, 10) : 0;
}

static int pg_col_null(store_q *q, int i) {
  return PQgetisnull(PS(q)->res, PS(q)->row, i);
}

static int pg_col_count(store_q *q) { return PQnfields(PS(q)->res); }

/* The identity columns go on after the ids a copy wrote. */
static int pg_after_copy(store_t *s) {
  pgdb *d = PG(s);
  if (simple(d, "SELECT setval(pg_get_serial_sequence('journal', 'id'),"
                " coalesce(max(id), 0) + 1, false) FROM journal;"
                "SELECT setval(pg_get_serial_sequence('approvals', 'id'),"
                " coalesce(max(id), 0) + 1, false) FROM approvals", NULL) !=
      STORE_OK)
    return store__fail(s, "setting the id sequences");
  return STORE_OK;
}

const store_backend store_pg = {
  .kind = "postgresql",
  .open = pg_open, .close = pg_close,
  .begin = pg_begin, .commit = pg_commit, .commit_fenced = pg_commit_fenced,
  .rollback = pg_rollback,
  .errmsg = pg_errmsg, .hint = pg_hint, .constraint = pg_constraint,
  .prepare = pg_prepare, .finalize = pg_finalize,
  .bind_text = pg_bind_text, .bind_int64 = pg_bind_int64,
  .step = pg_step, .col_text = pg_col_text, .col_int64 = pg_col_int64,
  .col_null = pg_col_null, .col_count = pg_col_count,
  .after_copy = pg_after_copy, .reset = pg_reset,
};
