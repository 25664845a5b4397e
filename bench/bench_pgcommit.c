/* bench_pgcommit: the baseline of DESIGN §10 "per-step cost on PostgreSQL"
 * — N durable PostgreSQL commits from libpq, one small INSERT per
 * transaction, with synchronous_commit = on (COMMIT returns once the WAL
 * is flushed: what the PostgreSQL store pays per journal entry at best).
 *
 *   bench_pgcommit CONNINFO [N] [txn|single]
 *
 * txn (the default) sends BEGIN, the INSERT and COMMIT, three round trips
 * as a store that checks its lease in the same transaction does; single
 * sends the INSERT alone (autocommit: one round trip, one commit). The
 * table is created in a schema of its own and dropped at the end. Prints
 * one line:  commits=N total_ms=T per_commit_ms=P fsync=on|off
 * Used by bench/pg.sh only; never by tests. */
#include "bench_time.h"
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(PGconn *c, const char *what) {
  fprintf(stderr, "bench_pgcommit: %s: %s", what, PQerrorMessage(c));
  PQfinish(c);
  exit(1);
}

/* exec: a statement without parameters that must succeed. */
static void exec(PGconn *c, const char *sql) {
  PGresult *r = PQexec(c, sql);
  ExecStatusType st = PQresultStatus(r);
  PQclear(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) die(c, sql);
}

/* show: the value of a server setting, into buf. */
static void show(PGconn *c, const char *name, char *buf, size_t n) {
  char sql[128];
  snprintf(sql, sizeof sql, "SHOW %s", name);
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
    PQclear(r);
    die(c, sql);
  }
  snprintf(buf, n, "%s", PQgetvalue(r, 0, 0));
  PQclear(r);
}

/* insert: the journal row of entry i, through the prepared "ins". */
static void insert(PGconn *c, long i) {
  char key[32], name[32], result[32], ts[32];
  snprintf(key, sizeof key, "%ld", i);
  snprintf(name, sizeof name, "s%ld", i);
  snprintf(result, sizeof result, "[%ld]", i);
  snprintf(ts, sizeof ts, "%ld", i);
  const char *vals[4] = {key, name, result, ts};
  PGresult *r = PQexecPrepared(c, "ins", 4, vals, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(r);
  PQclear(r);
  if (st != PGRES_COMMAND_OK) die(c, "insert");
}

int main(int argc, char **argv) {
  const char *usage = "usage: bench_pgcommit CONNINFO [N] [txn|single]\n";
  if (argc < 2) {
    fputs(usage, stderr);
    return 2;
  }
  long n = argc > 2 ? strtol(argv[2], NULL, 10) : 10000;
  const char *mode = argc > 3 ? argv[3] : "txn";
  int txn = !strcmp(mode, "txn");
  if (n < 1 || (!txn && strcmp(mode, "single"))) {
    fputs(usage, stderr);
    return 2;
  }
  PGconn *c = PQconnectdb(argv[1]);
  if (PQstatus(c) != CONNECTION_OK) die(c, "connect");
  /* The server's default, stated: the goal is about durable commits. */
  exec(c, "SET synchronous_commit = on");
  exec(c, "SET client_min_messages = warning"); /* no NOTICE of the DROP */
  char fsync[16];
  show(c, "fsync", fsync, sizeof fsync);
  /* A row shaped like a journal entry of a step that returns a number. */
  exec(c, "DROP SCHEMA IF EXISTS bench_pgcommit CASCADE");
  exec(c, "CREATE SCHEMA bench_pgcommit");
  exec(c, "CREATE TABLE bench_pgcommit.journal(id bigserial PRIMARY KEY,"
          " run_id text NOT NULL, key text NOT NULL, attempt integer NOT NULL,"
          " state text NOT NULL, kind text NOT NULL, name text, result text,"
          " ts_ms bigint NOT NULL);"
          "CREATE INDEX journal_run ON bench_pgcommit.journal(run_id, id)");
  PGresult *r = PQprepare(c, "ins",
                          "INSERT INTO bench_pgcommit.journal(run_id, key,"
                          " attempt, state, kind, name, result, ts_ms)"
                          " VALUES('01bench', $1, 1, 'completed', 'step',"
                          " $2, $3, $4)", 4, NULL);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) die(c, "prepare");
  PQclear(r);

  double t0 = 0;
  long warm = n / 100 + 10; /* not timed: warms the caches and the WAL */
  for (long i = -warm; i < n; i++) {
    if (i == 0) t0 = now_ms();
    if (txn) exec(c, "BEGIN");
    insert(c, i + warm + 1);
    if (txn) exec(c, "COMMIT");
  }
  double total = now_ms() - t0;
  exec(c, "DROP SCHEMA bench_pgcommit CASCADE");
  PQfinish(c);
  printf("commits=%ld total_ms=%.1f per_commit_ms=%.4f fsync=%s\n", n, total,
         total / (double)n, fsync);
  return 0;
}
