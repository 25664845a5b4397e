/* Criterion fixtures shared by the unit tests of the state database
 * (test_store.c, test_audit.c, test_notify_streak.c) and file helpers
 * (test_proc.c): one temp directory per test holding state.db, the store
 * opened on it, a run row to create, a file read whole. Each test file is
 * its own executable, so everything here is static inline: a test uses
 * what it needs without unused-function warnings. */
#ifndef SUMMIT_TESTS_UNIT_FIXTURES_H
#define SUMMIT_TESTS_UNIT_FIXTURES_H

#include <criterion/criterion.h>

#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

/* The test's temp directory and the state database's path in it. */
static char dir[64];
static char dbpath[512];

/* With SUMMIT_TEST_PG_URL set (tests/integration/test_pg_unit.sh), the
 * same tests run on PostgreSQL: each gets a schema of its own there, and
 * dbpath is the URL that makes it the connection's search_path. */
static char pg_schema[32];

static inline const char *pg_base(void) {
  const char *u = getenv("SUMMIT_TEST_PG_URL");
  return u && *u ? u : NULL;
}

static inline void pg_quiet(void *arg, const char *m) {
  (void)arg;
  (void)m;  /* NOTICEs of DROP ... CASCADE */
}

/* Runs sql on url with libpq; fails the test on an error. */
static inline void pg_exec(const char *url, const char *sql) {
  PGconn *c = PQconnectdb(url);
  cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
  PQsetNoticeProcessor(c, pg_quiet, NULL);
  PGresult *r = PQexec(c, sql);
  ExecStatusType st = PQresultStatus(r);
  cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
            PQresultErrorMessage(r));
  PQclear(r);
  PQfinish(c);
}


/* .init: a fresh /tmp/summit-unit-XXXXXX as dir, dbpath = dir/state.db
 * (or the test's schema on PostgreSQL). */
static inline void tmpdir_setup(void) {
  snprintf(dir, sizeof dir, "/tmp/summit-unit-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(dbpath, sizeof dbpath, "%s/state.db", dir);
  const char *base = pg_base();
  if (!base) return;
  char sql[128];
  snprintf(pg_schema, sizeof pg_schema, "unit_%d", (int)getpid());
  snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; "
           "CREATE SCHEMA %s", pg_schema, pg_schema);
  pg_exec(base, sql);
  snprintf(dbpath, sizeof dbpath, "%s%coptions=-csearch_path%%3D%s", base,
           strchr(base, '?') ? '&' : '?', pg_schema);
}

/* A test of what only SQLite has (a file, PRAGMAs, old schemas). A
 * skipped test gets no .fini: its schema goes here. */
static inline void sqlite_only(void) {
  if (!pg_base()) return;
  char sql[128];
  snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", pg_schema);
  pg_exec(pg_base(), sql);
  snprintf(sql, sizeof sql, "rm -rf '%s'", dir);
  cr_assert_eq(system(sql), 0);
  cr_skip_test("SQLite only");
}

/* .fini: removes dir and all in it (and the test's schema). */
static inline void tmpdir_teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
  if (pg_base()) {
    snprintf(cmd, sizeof cmd, "DROP SCHEMA %s CASCADE", pg_schema);
    pg_exec(pg_base(), cmd);
  }
}

/* The store on dbpath (created when create is set); fails the test when it
 * cannot be opened. The caller closes it. */
static inline store_t *open_db_with(int create, store_durability dur) {
  char err[512] = "";
  store_t *s = store_open(dbpath, create, dur, err, sizeof err);
  cr_assert_not_null(s, "store_open: %s", err);
  return s;
}

static inline store_t *open_db(int create) {
  return open_db_with(create, STORE_DURABILITY_FULL);
}

/* A running run "deploy" 1.2.3 created at created (ms); the strings are
 * static, so the row is only for store_run_create, never to free. */
static inline store_run sample_run(const char *id, int64_t created) {
  store_run r;
  memset(&r, 0, sizeof r);
  r.id = (char *)id;
  r.name = "deploy";
  r.version = "1.2.3";
  r.source_path = "runbooks/deploy.lua";
  r.source_sha256 = "abc123";
  r.source = "return runbook{}";
  r.params = "{\"replicas\":3}";
  r.env = "staging";
  r.status = "running";
  r.started_by = "alice";
  r.created_ms = created;
  r.updated_ms = created;
  return r;
}

/* The whole file at path, NUL-terminated, its length in *len; the caller
 * frees it. Fails the test when the file cannot be opened. */
static inline char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "%s: %s", path, strerror(errno));
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *b = malloc((size_t)n + 1);
  cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
  b[n] = '\0';
  fclose(f);
  *len = (size_t)n;
  return b;
}

#endif
