/* bench_commit: the baseline of DESIGN §10 "cost of one durable step" —
 * N durable SQLite commits, one small INSERT per transaction, in WAL mode
 * with synchronous=FULL (what summit's journal pays per entry at best).
 *
 *   bench_commit DB [N] [full|normal]
 *
 * DB must not exist (it is created, and removed with its -wal/-shm at the
 * end). Prints one line:  commits=N total_ms=T per_commit_ms=P
 * Used by bench/run.sh only; never by tests. */
#include "bench_time.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(sqlite3 *db, const char *what) {
  fprintf(stderr, "bench_commit: %s: %s\n", what,
          db ? sqlite3_errmsg(db) : "?");
  exit(1);
}

static void exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    fprintf(stderr, "bench_commit: %s: %s\n", sql, msg ? msg : "?");
    exit(1);
  }
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) die(db, sql);
  return st;
}

static void step_done(sqlite3 *db, sqlite3_stmt *st, const char *what) {
  if (sqlite3_step(st) != SQLITE_DONE) die(db, what);
  sqlite3_reset(st);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_commit DB [N] [full|normal]\n");
    return 2;
  }
  const char *path = argv[1];
  long n = argc > 2 ? strtol(argv[2], NULL, 10) : 10000;
  const char *sync = argc > 3 ? argv[3] : "full";
  if (n < 1 || (strcmp(sync, "full") && strcmp(sync, "normal"))) {
    fprintf(stderr, "usage: bench_commit DB [N] [full|normal]\n");
    return 2;
  }
  if (access(path, F_OK) == 0) {
    fprintf(stderr, "bench_commit: %s exists; give a fresh path\n", path);
    return 2;
  }
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) die(db, "open");
  exec(db, "PRAGMA journal_mode=WAL");
  exec(db, !strcmp(sync, "full") ? "PRAGMA synchronous=FULL"
                                 : "PRAGMA synchronous=NORMAL");
  /* A row shaped like a journal entry of a step that returns a number. */
  exec(db, "CREATE TABLE journal(id INTEGER PRIMARY KEY, run_id TEXT NOT NULL,"
           " key TEXT NOT NULL, attempt INTEGER NOT NULL, state TEXT NOT NULL,"
           " kind TEXT NOT NULL, name TEXT, result TEXT, ts_ms INTEGER NOT NULL);"
           "CREATE INDEX journal_run ON journal(run_id, id)");

  sqlite3_stmt *begin = prep(db, "BEGIN IMMEDIATE");
  sqlite3_stmt *commit = prep(db, "COMMIT");
  sqlite3_stmt *ins = prep(db, "INSERT INTO journal(run_id, key, attempt,"
                               " state, kind, name, result, ts_ms)"
                               " VALUES('01bench', ?1, 1, 'completed', 'step',"
                               " ?2, ?3, ?4)");
  char key[32], name[32], result[32];
  double t0 = 0;
  long warm = n / 100 + 10;  /* not timed: creates the WAL, warms caches */
  for (long i = -warm; i < n; i++) {
    if (i == 0) t0 = now_ms();
    snprintf(key, sizeof key, "%ld", i + warm + 1);
    snprintf(name, sizeof name, "s%ld", i + warm + 1);
    snprintf(result, sizeof result, "[%ld]", i + warm + 1);
    step_done(db, begin, "begin");
    sqlite3_bind_text(ins, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins, 3, result, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(ins, 4, (sqlite3_int64)i);
    step_done(db, ins, "insert");
    step_done(db, commit, "commit");
  }
  double total = now_ms() - t0;
  sqlite3_finalize(begin);
  sqlite3_finalize(commit);
  sqlite3_finalize(ins);
  sqlite3_close(db);

  char side[4200];
  unlink(path);
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", path);
  unlink(side);
  printf("commits=%ld total_ms=%.1f per_commit_ms=%.4f\n", n, total,
         total / (double)n);
  return 0;
}
