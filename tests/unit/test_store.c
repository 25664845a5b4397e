/* Unit tests for core/store (store.h + sqlite.c): creation and schema
 * version, runs (create, get, list, status, pin), the journal (order,
 * fields, NULLs), the batching of writes (store_flush vs durable appends,
 * observed from a second connection), leases (busy, dead holder, expiry,
 * other hosts, renew, release), their fencing (a stale epoch's commit is
 * refused whole) and the refusal of files that are not
 * summit's (garbage, foreign SQLite, newer schema) without changing them. */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixtures.h"
#include "store/store.h"

/* ---- fixture: one temp dir per test (fixtures.h) --------------------- */

TestSuite(store, .init = tmpdir_setup, .fini = tmpdir_teardown);

static int file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

static void spit(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(data, 1, len, f), len);
  fclose(f);
}

/* Runs SQL on the file with the raw SQLite API (no summit involved), or
 * on the test's PostgreSQL schema with libpq. */
static void raw_sql(const char *path, const char *sql) {
  if (pg_base()) {
    pg_exec(path, sql);
    return;
  }
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
  sqlite3_free(msg);
  cr_assert_eq(sqlite3_close(db), SQLITE_OK);
}

static int raw_int(const char *path, const char *sql) {
  if (pg_base()) {
    PGconn *c = PQconnectdb(path);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql,
                 PQresultErrorMessage(r));
    int v = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return v;
  }
  sqlite3 *db;
  sqlite3_stmt *st;
  cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
               SQLITE_OK);
  cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s",
               sqlite3_errmsg(db));
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  int v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

/* ---- opening and schema ---------------------------------------------- */

Test(store, create_sets_schema_version_and_wal) {
  sqlite_only();
  cr_assert_gt(store_schema_version(), 0);
  cr_assert_not(file_exists(dbpath));
  store_t *s = open_db(1);
  store_close(s);
  cr_assert(file_exists(dbpath));
  cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), store_schema_version());
  /* WAL is persistent: it is recorded in the file header. */
  sqlite3 *db;
  sqlite3_stmt *st;
  cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
  cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL),
               SQLITE_OK);
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
  cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM sqlite_master WHERE "
                               "name IN ('runs', 'journal')"),
               2);
}

Test(store, reopen_keeps_data_and_version) {
  sqlite_only();
  store_t *s = open_db(1);
  store_run r = sample_run("r1", 1000);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  store_close(s);
  s = open_db(0);
  store_run got;
  cr_assert_eq(store_run_get(s, "r1", &got), STORE_OK);
  cr_assert_str_eq(got.name, "deploy");
  store_run_free(&got);
  store_close(s);
  cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), store_schema_version());
}

Test(store, missing_file_without_create_fails) {
  sqlite_only();
  char err[512] = "";
  store_t *s = store_open(dbpath, 0, STORE_DURABILITY_FULL, err, sizeof err);
  cr_assert_null(s);
  cr_assert_not_null(strstr(err, dbpath), "message names the file: %s", err);
  cr_assert_not(file_exists(dbpath), "nothing is created");
}

Test(store, empty_sqlite_db_is_migrated) {
  sqlite_only();
  /* A version-0 database with no tables (e.g. made by `sqlite3 f ''`). */
  raw_sql(dbpath, "PRAGMA user_version = 0");
  store_t *s = open_db(0);
  store_close(s);
  cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), store_schema_version());
}

Test(store, process_durability_opens) {
  char err[512] = "";
  store_t *s = store_open(dbpath, 1, STORE_DURABILITY_PROCESS, err,
                          sizeof err);
  cr_assert_not_null(s, "%s", err);
  store_run r = sample_run("r1", 1);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  store_close(s);
  cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM runs"), 1);
}

/* Opens a file that must be refused; checks the message names it and that
 * the file's bytes (and the absence of -wal/-shm) are unchanged. */
static void assert_refused(const char *expect_in_msg) {
  size_t before_len, after_len;
  char *before = slurp(dbpath, &before_len);
  char err[512] = "";
  store_t *s = store_open(dbpath, 1, STORE_DURABILITY_FULL, err, sizeof err);
  cr_assert_null(s, "a file that is not summit's must be refused");
  cr_assert_not_null(strstr(err, dbpath), "message names the file: %s", err);
  if (expect_in_msg)
    cr_assert_not_null(strstr(err, expect_in_msg), "message: %s", err);
  char *after = slurp(dbpath, &after_len);
  cr_assert_eq(after_len, before_len, "size changed");
  cr_assert(memcmp(before, after, before_len) == 0, "bytes changed");
  char side[600];
  snprintf(side, sizeof side, "%s-wal", dbpath);
  cr_assert_not(file_exists(side), "a WAL file was created next to it");
  free(before);
  free(after);
}

Test(store, garbage_file_is_refused_untouched) {
  sqlite_only();
  char buf[8192];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)('a' + i % 26);
  spit(dbpath, buf, sizeof buf);
  assert_refused(NULL);
}

Test(store, short_text_file_is_refused_untouched) {
  sqlite_only();
  const char *txt = "these are my notes, not a database\n";
  spit(dbpath, txt, strlen(txt));
  assert_refused(NULL);
}

Test(store, foreign_sqlite_db_is_refused_untouched) {
  sqlite_only();
  raw_sql(dbpath, "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);"
                  "INSERT INTO notes(body) VALUES('keep me');");
  assert_refused("not summit");
  cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM notes"), 1);
  cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), 0);
}

Test(store, newer_schema_is_refused_untouched) {
  sqlite_only();
  char sql[64];
  snprintf(sql, sizeof sql, "PRAGMA user_version = %d",
           store_schema_version() + 1);
  raw_sql(dbpath, "CREATE TABLE runs(id TEXT PRIMARY KEY);");
  raw_sql(dbpath, sql);
  assert_refused("newer");
  cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"),
               store_schema_version() + 1);
}

/* ---- runs ------------------------------------------------------------- */

Test(store, run_create_get_roundtrip) {
  store_t *s = open_db(1);
  store_run r = sample_run("01abc", 1000);
  r.rerun_of = "00prev";
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  store_run g;
  cr_assert_eq(store_run_get(s, "01abc", &g), STORE_OK);
  cr_assert_str_eq(g.id, "01abc");
  cr_assert_str_eq(g.name, "deploy");
  cr_assert_str_eq(g.version, "1.2.3");
  cr_assert_str_eq(g.source_path, "runbooks/deploy.lua");
  cr_assert_str_eq(g.source_sha256, "abc123");
  cr_assert_str_eq(g.source, "return runbook{}");
  cr_assert_str_eq(g.params, "{\"replicas\":3}");
  cr_assert_str_eq(g.env, "staging");
  cr_assert_str_eq(g.status, "running");
  cr_assert_str_eq(g.started_by, "alice");
  cr_assert_str_eq(g.rerun_of, "00prev");
  cr_assert_null(g.error);
  cr_assert_null(g.failed_key);
  cr_assert_null(g.owner_host);
  cr_assert_eq(g.created_ms, 1000);
  cr_assert_eq(g.updated_ms, 1000);
  cr_assert_eq(g.finished_ms, 0);
  cr_assert_eq(g.wake_ms, 0);
  cr_assert_eq(g.owner_pid, 0);
  cr_assert_eq(g.lease_expires_ms, 0);
  store_run_free(&g);
  cr_assert_null(g.id, "store_run_free clears the pointers");
  store_run_free(&g); /* and is then harmless to call again */
  store_close(s);
}

Test(store, run_result_set_and_read) {
  store_t *s = open_db(1);
  store_run r = sample_run("01res", 1000);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  char *json = (char *)"unset";
  cr_assert_eq(store_run_result(s, "01res", &json), STORE_OK);
  cr_assert_null(json, "a run has no result until one is recorded");
  cr_assert_eq(store_run_set_result(s, "01res", "{\"n\":[]}"), STORE_OK);
  cr_assert_eq(store_flush(s), STORE_OK);
  cr_assert_eq(store_run_result(s, "01res", &json), STORE_OK);
  cr_assert_str_eq(json, "{\"n\":[]}");
  free(json);
  cr_assert_eq(store_run_result(s, "nope", &json), STORE_NOTFOUND);
  cr_assert_null(json);
  store_close(s);
}

Test(store, run_get_missing_and_duplicate) {
  store_t *s = open_db(1);
  store_run g;
  cr_assert_eq(store_run_get(s, "nope", &g), STORE_NOTFOUND);
  store_run r = sample_run("dup", 1);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  /* Committed first: a failed statement ends PostgreSQL's transaction,
   * and store_run_create is buffered until store_flush. */
  cr_assert_eq(store_flush(s), STORE_OK);
  cr_assert_eq(store_run_create(s, &r), STORE_ERR);
  cr_assert_not_null(strstr(store_errmsg(s), "creating the run"), "%s",
                     store_errmsg(s));
  /* The store stays usable after a failed statement. */
  r.id = "dup2";
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  cr_assert_eq(store_run_get(s, "dup2", &g), STORE_OK);
  store_run_free(&g);
  store_close(s);
  cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM runs"), 2);
}

Test(store, run_null_optional_fields) {
  store_t *s = open_db(1);
  store_run r = sample_run("r", 5);
  r.version = NULL;
  r.env = NULL;
  r.started_by = NULL;
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  store_run g;
  cr_assert_eq(store_run_get(s, "r", &g), STORE_OK);
  cr_assert_null(g.version);
  cr_assert_null(g.env);
  cr_assert_null(g.started_by);
  store_run_free(&g);
  /* NOT NULL columns are enforced. */
  r = sample_run("bad", 5);
  r.source = NULL;
  cr_assert_eq(store_run_create(s, &r), STORE_ERR);
  store_close(s);
}

Test(store, run_set_status) {
  store_t *s = open_db(1);
  store_run r = sample_run("r", 100);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);

  cr_assert_eq(store_run_set_status(s, "r", "suspended", NULL, NULL, 99999, 0,
                                    200),
               STORE_OK);
  store_run g;
  cr_assert_eq(store_run_get(s, "r", &g), STORE_OK);
  cr_assert_str_eq(g.status, "suspended");
  cr_assert_eq(g.wake_ms, 99999);
  cr_assert_eq(g.updated_ms, 200);
  cr_assert_eq(g.finished_ms, 0, "not final");
  cr_assert_eq(g.created_ms, 100, "created_ms unchanged");
  store_run_free(&g);

  cr_assert_eq(store_run_set_status(s, "r", "failed",
                                    "{\"code\":\"E\",\"message\":\"boom\"}",
                                    "3/1.2/4", 0, 1, 300),
               STORE_OK);
  cr_assert_eq(store_flush(s), STORE_OK);
  cr_assert_eq(store_run_get(s, "r", &g), STORE_OK);
  cr_assert_str_eq(g.status, "failed");
  cr_assert_str_eq(g.error, "{\"code\":\"E\",\"message\":\"boom\"}");
  cr_assert_str_eq(g.failed_key, "3/1.2/4");
  cr_assert_eq(g.wake_ms, 0, "wake_ms 0 clears it");
  cr_assert_eq(g.finished_ms, 300);
  cr_assert_eq(g.updated_ms, 300);
  store_run_free(&g);

  /* Back to running (resume): error, failed_key, finished_ms cleared. */
  cr_assert_eq(store_run_set_status(s, "r", "running", NULL, NULL, 0, 0, 400),
               STORE_OK);
  cr_assert_eq(store_run_get(s, "r", &g), STORE_OK);
  cr_assert_str_eq(g.status, "running");
  cr_assert_null(g.error);
  cr_assert_null(g.failed_key);
  cr_assert_eq(g.finished_ms, 0);
  store_run_free(&g);
  store_close(s);
}

Test(store, run_pin_source) {
  store_t *s = open_db(1);
  store_run r = sample_run("r", 1);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  cr_assert_eq(store_run_pin_source(s, "r", "new/path.lua", "return 2",
                                    "def456", "2.0.0"),
               STORE_OK);
  cr_assert_eq(store_flush(s), STORE_OK);
  store_run g;
  cr_assert_eq(store_run_get(s, "r", &g), STORE_OK);
  cr_assert_str_eq(g.source_path, "new/path.lua");
  cr_assert_str_eq(g.source, "return 2");
  cr_assert_str_eq(g.source_sha256, "def456");
  cr_assert_str_eq(g.version, "2.0.0");
  cr_assert_str_eq(g.name, "deploy", "name is not part of the pin");
  cr_assert_str_eq(g.params, "{\"replicas\":3}");
  store_run_free(&g);
  store_close(s);
}

typedef struct {
  int n;
  char ids[8][32];
  char statuses[8][32];
  int stop_after;
} list_acc;

static int list_cb(void *ud, const store_run *r) {
  list_acc *a = ud;
  cr_assert_lt(a->n, 8);
  snprintf(a->ids[a->n], sizeof a->ids[0], "%s", r->id);
  snprintf(a->statuses[a->n], sizeof a->statuses[0], "%s", r->status);
  a->n++;
  return a->stop_after && a->n == a->stop_after ? 42 : 0;
}

Test(store, run_list_newest_first_and_filter) {
  /* Newest first by creation time; runs created in the same millisecond
   * keep their order of creation (the later one first). */
  store_t *s = open_db(1);
  const char *ids[] = {"01b", "01a", "01d", "01c"};
  const char *st[] = {"running", "failed", "succeeded", "failed"};
  const int64_t created[] = {10, 30, 20, 30};
  for (int i = 0; i < 4; i++) {
    store_run r = sample_run(ids[i], created[i]);
    r.status = (char *)st[i];
    cr_assert_eq(store_run_create(s, &r), STORE_OK);
  }
  list_acc a = {0};
  cr_assert_eq(store_run_list(s, NULL, list_cb, &a), STORE_OK);
  cr_assert_eq(a.n, 4);
  cr_assert_str_eq(a.ids[0], "01c");
  cr_assert_str_eq(a.ids[1], "01a");
  cr_assert_str_eq(a.ids[2], "01d");
  cr_assert_str_eq(a.ids[3], "01b");

  memset(&a, 0, sizeof a);
  cr_assert_eq(store_run_list(s, "failed", list_cb, &a), STORE_OK);
  cr_assert_eq(a.n, 2);
  cr_assert_str_eq(a.ids[0], "01c");
  cr_assert_str_eq(a.ids[1], "01a");
  cr_assert_str_eq(a.statuses[0], "failed");

  memset(&a, 0, sizeof a);
  cr_assert_eq(store_run_list(s, "cancelled", list_cb, &a), STORE_OK);
  cr_assert_eq(a.n, 0);

  /* A non-zero return stops the walk and is returned. */
  memset(&a, 0, sizeof a);
  a.stop_after = 2;
  cr_assert_eq(store_run_list(s, NULL, list_cb, &a), 42);
  cr_assert_eq(a.n, 2);
  /* The statement was reset: a new walk starts from the top. */
  memset(&a, 0, sizeof a);
  cr_assert_eq(store_run_list(s, NULL, list_cb, &a), STORE_OK);
  cr_assert_eq(a.n, 4);
  store_close(s);
}

/* ---- journal ----------------------------------------------------------- */

typedef struct {
  int n;
  int64_t ids[16];
  char rows[16][512];
  int stop_at;
} jacc;

#define S(x) ((x) ? (x) : "NULL")

static int journal_cb(void *ud, const store_entry *e) {
  jacc *a = ud;
  cr_assert_lt(a->n, 16);
  a->ids[a->n] = e->id;
  snprintf(a->rows[a->n], sizeof a->rows[0],
           "%s|%lld|%s|%s|%s|%s|%s|%s|%s|%s|%s|%lld", S(e->key),
           (long long)e->attempt, S(e->state), S(e->kind), S(e->name),
           S(e->args_hash), S(e->args), S(e->result), S(e->error),
           S(e->site), S(e->note), (long long)e->ts_ms);
  a->n++;
  return a->stop_at && a->n == a->stop_at ? 7 : 0;
}

static int count_cb(void *ud, const store_entry *e) {
  (void)e;
  ++*(int *)ud;
  return 0;
}

static int count_rows(store_t *s, const char *run) {
  int n = 0;
  cr_assert_eq(store_journal_each(s, run, count_cb, &n), STORE_OK, "%s",
               store_errmsg(s));
  return n;
}

static store_entry entry(const char *key, const char *state) {
  store_entry e;
  memset(&e, 0, sizeof e);
  e.key = key;
  e.state = state;
  e.kind = "step";
  e.attempt = 1;
  return e;
}

Test(store, journal_append_each_order_fields_nulls) {
  store_t *s = open_db(1);
  store_run r = sample_run("r", 1);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  r = sample_run("other", 2);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);

  store_entry e = entry("1", "started");
  e.name = "resolve commit";
  e.args_hash = "0123456789abcdef";
  e.args = "[\"main\"]";
  e.site = "deploy.lua:12";
  e.note = "recovered";
  e.ts_ms = 111;
  cr_assert_eq(store_journal_append(s, "r", &e, 1), STORE_OK);

  store_entry o = entry("1", "started");
  o.ts_ms = 5;
  cr_assert_eq(store_journal_append(s, "other", &o, 0), STORE_OK);

  e = entry("1", "completed");
  e.name = "resolve commit";
  e.result = "[\"abc\"]";
  e.ts_ms = 112;
  cr_assert_eq(store_journal_append(s, "r", &e, 0), STORE_OK);

  e = entry("3/1.2/4", "failed");
  e.attempt = 2;
  e.kind = "exec";
  e.error = "{\"code\":\"ETIMEDOUT\"}";
  e.ts_ms = 113;
  cr_assert_eq(store_journal_append(s, "r", &e, 0), STORE_OK);

  /* Unflushed rows are visible to the writing connection itself. */
  jacc a;
  memset(&a, 0, sizeof a);
  cr_assert_eq(store_journal_each(s, "r", journal_cb, &a), STORE_OK);
  cr_assert_eq(a.n, 3);
  cr_assert_str_eq(a.rows[0], "1|1|started|step|resolve commit|"
                              "0123456789abcdef|[\"main\"]|NULL|NULL|"
                              "deploy.lua:12|recovered|111");
  cr_assert_str_eq(a.rows[1], "1|1|completed|step|resolve commit|NULL|NULL|"
                              "[\"abc\"]|NULL|NULL|NULL|112");
  cr_assert_str_eq(a.rows[2], "3/1.2/4|2|failed|exec|NULL|NULL|NULL|NULL|"
                              "{\"code\":\"ETIMEDOUT\"}|NULL|NULL|113");
  cr_assert_lt(a.ids[0], a.ids[1]);
  cr_assert_lt(a.ids[1], a.ids[2]);

  cr_assert_eq(count_rows(s, "other"), 1);
  cr_assert_eq(count_rows(s, "nope"), 0);

  /* A non-zero return from the callback stops the walk. */
  memset(&a, 0, sizeof a);
  a.stop_at = 2;
  cr_assert_eq(store_journal_each(s, "r", journal_cb, &a), 7);
  cr_assert_eq(a.n, 2);
  cr_assert_eq(count_rows(s, "r"), 3, "the walk restarts from the top");
  store_close(s);

  /* store_close commits what was buffered. */
  cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM journal"), 4);
}

/* store_journal_since: only the run's rows after the id given (summit
 * serve's event streams resume there). */
Test(store, journal_since_after_id) {
  store_t *s = open_db(1);
  store_run r = sample_run("r", 1);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  r = sample_run("other", 2);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  const char *keys[] = {"1", "2", "3"};
  for (int i = 0; i < 3; i++) {
    store_entry e = entry(keys[i], "started");
    cr_assert_eq(store_journal_append(s, "r", &e, 0), STORE_OK);
    e = entry(keys[i], "started");
    cr_assert_eq(store_journal_append(s, "other", &e, 0), STORE_OK);
  }
  jacc a;
  memset(&a, 0, sizeof a);
  cr_assert_eq(store_journal_since(s, "r", 0, journal_cb, &a), STORE_OK);
  cr_assert_eq(a.n, 3, "0: every row of the run");
  int64_t first = a.ids[0], second = a.ids[1];
  memset(&a, 0, sizeof a);
  cr_assert_eq(store_journal_since(s, "r", first, journal_cb, &a), STORE_OK);
  cr_assert_eq(a.n, 2, "the rows after the first, of this run only");
  cr_assert_eq(a.ids[0], second);
  int64_t last = a.ids[1];
  memset(&a, 0, sizeof a);
  cr_assert_eq(store_journal_since(s, "r", last, journal_cb, &a), STORE_OK);
  cr_assert_eq(a.n, 0, "none after the last");
  store_close(s);
}

Test(store, journal_requires_existing_run) {
  store_t *s = open_db(1);
  store_entry e = entry("1", "started");
  cr_assert_eq(store_journal_append(s, "ghost", &e, 1), STORE_ERR,
               "foreign keys are enforced");
  cr_assert_not_null(strstr(store_errmsg(s), "journal"), "%s",
                     store_errmsg(s));
  store_run r = sample_run("r", 1);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  cr_assert_eq(store_journal_append(s, "r", &e, 1), STORE_OK);
  store_close(s);
  cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM journal"), 1);
}

Test(store, journal_many_rows_in_order) {
  store_t *s = open_db(1);
  store_run r = sample_run("r", 1);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  char key[16];
  for (int i = 1; i <= 500; i++) {
    snprintf(key, sizeof key, "%d", i);
    store_entry e = entry(key, "completed");
    e.ts_ms = i;
    cr_assert_eq(store_journal_append(s, "r", &e, i % 50 == 0), STORE_OK);
  }
  cr_assert_eq(store_flush(s), STORE_OK);
  store_close(s);
  s = open_db(0);
  cr_assert_eq(count_rows(s, "r"), 500);
  store_close(s);
  cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM journal j1 JOIN journal "
                               "j2 ON j2.id = j1.id + 1 WHERE j2.ts_ms <> "
                               "j1.ts_ms + 1"),
               0, "ids follow append order");
}

/* ---- batching: what a second connection sees ---------------------------- */

Test(store, flush_batches_writes) {
  store_t *w = open_db(1);
  store_run r = sample_run("r", 1);
  cr_assert_eq(store_run_create(w, &r), STORE_OK);
  store_t *rd = open_db(0);
  store_run g;
  /* Buffered like the other writes, so a new run's pinned modules share
   * its commit (engine/run.c record_run). */
  cr_assert_eq(store_run_get(rd, "r", &g), STORE_NOTFOUND,
               "store_run_create waits for store_flush");
  cr_assert_eq(store_flush(w), STORE_OK);
  cr_assert_eq(store_run_get(rd, "r", &g), STORE_OK,
               "store_flush commits the new run");
  store_run_free(&g);

  cr_assert_eq(store_flush(w), STORE_OK, "flush with nothing open is fine");

  store_entry e = entry("1", "started");
  cr_assert_eq(store_journal_append(w, "r", &e, 0), STORE_OK);
  e = entry("1", "completed");
  cr_assert_eq(store_journal_append(w, "r", &e, 0), STORE_OK);
  cr_assert_eq(count_rows(w, "r"), 2);
  cr_assert_eq(count_rows(rd, "r"), 0, "non-durable appends are buffered");

  cr_assert_eq(store_flush(w), STORE_OK);
  cr_assert_eq(count_rows(rd, "r"), 2, "store_flush commits them");

  /* A durable append commits what was buffered before it, in one commit. */
  e = entry("1", "completed");
  cr_assert_eq(store_journal_append(w, "r", &e, 0), STORE_OK);
  cr_assert_eq(count_rows(rd, "r"), 2);
  e = entry("2", "started");
  cr_assert_eq(store_journal_append(w, "r", &e, 1), STORE_OK);
  cr_assert_eq(count_rows(rd, "r"), 4);

  /* Status changes are buffered too. */
  cr_assert_eq(store_run_set_status(w, "r", "failed", NULL, "2", 0, 1, 9),
               STORE_OK);
  cr_assert_eq(store_run_get(rd, "r", &g), STORE_OK);
  cr_assert_str_eq(g.status, "running", "set_status is not yet committed");
  store_run_free(&g);
  cr_assert_eq(store_flush(w), STORE_OK);
  cr_assert_eq(store_run_get(rd, "r", &g), STORE_OK);
  cr_assert_str_eq(g.status, "failed");
  store_run_free(&g);

  /* Pinning is buffered as well. */
  cr_assert_eq(store_run_pin_source(w, "r", "p", "src2", "sha2", "9"),
               STORE_OK);
  cr_assert_eq(store_run_get(rd, "r", &g), STORE_OK);
  cr_assert_str_eq(g.source, "return runbook{}");
  store_run_free(&g);
  cr_assert_eq(store_flush(w), STORE_OK);
  cr_assert_eq(store_run_get(rd, "r", &g), STORE_OK);
  cr_assert_str_eq(g.source, "src2");
  store_run_free(&g);

  store_close(rd);
  store_close(w);
}

Test(store, second_writer_waits_for_flush) {
  /* While one connection holds buffered writes, a second one that writes
   * waits (busy timeout) rather than failing; it gets through once the
   * first flushes. The second writer is a child forked before any
   * connection exists (SQLite connections must not cross a fork). */
  int go[2];
  cr_assert_eq(pipe(go), 0);
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    char c, err[512];
    close(go[1]);
    if (read(go[0], &c, 1) != 1) _exit(9);
    store_t *o = store_open(dbpath, 0, STORE_DURABILITY_FULL, err, sizeof err);
    if (!o) _exit(10);
    store_entry e2 = {.key = "2", .state = "started", .kind = "step",
                      .attempt = 1};
    int rc = store_journal_append(o, "r", &e2, 1);
    store_close(o);
    _exit(rc == STORE_OK ? 0 : 11);
  }
  close(go[0]);
  store_t *w = open_db(1);
  store_run r = sample_run("r", 1);
  cr_assert_eq(store_run_create(w, &r), STORE_OK);
  store_entry e = entry("1", "started");
  cr_assert_eq(store_journal_append(w, "r", &e, 0), STORE_OK);
  cr_assert_eq(write(go[1], "x", 1), 1);
  close(go[1]);
  usleep(300 * 1000);
  int status;
  cr_assert_eq(waitpid(pid, &status, WNOHANG), 0,
               "the second writer waits for the first's batch");
  cr_assert_eq(store_flush(w), STORE_OK);
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status));
  cr_assert_eq(WEXITSTATUS(status), 0);
  cr_assert_eq(count_rows(w, "r"), 2);
  store_close(w);
  cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM journal WHERE key = '2' "
                               "AND id > (SELECT id FROM journal WHERE key = "
                               "'1')"),
               1, "the waiting writer's row comes after the batch");
}

/* ---- leases ----------------------------------------------------------- */

static pid_t spawn_sleeper(void) {
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    for (;;) pause();
  }
  return pid;
}

static void reap(pid_t pid) {
  kill(pid, SIGKILL);
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
}

Test(store, lease_acquire_busy_dead_holder) {
  store_t *s = open_db(1);
  store_run r = sample_run("r", 1);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  pid_t child = spawn_sleeper();
  int64_t hp = 0;
  char *hh = NULL;
  int64_t now = 1000000;

  cr_assert_eq(store_lease_acquire(s, "r", child, "hostA", now, 30000, &hp,
                                   &hh),
               STORE_OK);
  store_run g;
  cr_assert_eq(store_run_get(s, "r", &g), STORE_OK);
  cr_assert_eq(g.owner_pid, child);
  cr_assert_str_eq(g.owner_host, "hostA");
  cr_assert_eq(g.lease_expires_ms, now + 30000);
  store_run_free(&g);

  /* The lease is committed at once: a second connection sees it. */
  store_t *o = open_db(0);
  cr_assert_eq(store_run_get(o, "r", &g), STORE_OK);
  cr_assert_eq(g.owner_pid, child);
  store_run_free(&g);

  /* A live holder on this host: busy, holder reported. */
  cr_assert_eq(store_lease_acquire(o, "r", getpid(), "hostA", now + 1, 30000,
                                   &hp, &hh),
               STORE_BUSY);
  cr_assert_eq(hp, child);
  cr_assert_str_eq(hh, "hostA");
  free(hh);
  hh = NULL;

  /* The holder itself may take it again (re-entrant). */
  cr_assert_eq(store_lease_acquire(s, "r", child, "hostA", now + 2, 30000,
                                   &hp, &hh),
               STORE_OK);

  /* The holder dies: its lease is void although not expired. */
  reap(child);
  cr_assert_eq(store_lease_acquire(o, "r", getpid(), "hostA", now + 3, 30000,
                                   &hp, &hh),
               STORE_OK);
  cr_assert_eq(store_run_get(s, "r", &g), STORE_OK);
  cr_assert_eq(g.owner_pid, getpid());
  cr_assert_eq(g.lease_expires_ms, now + 3 + 30000);
  store_run_free(&g);
  store_close(o);
  store_close(s);
}

Test(store, lease_live_parent_is_busy) {
  store_t *s = open_db(1);
  store_run r = sample_run("r", 1);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  int64_t hp = 0;
  char *hh = NULL;
  cr_assert_eq(store_lease_acquire(s, "r", getppid(), "h", 10, 1000, &hp, &hh),
               STORE_OK);
  cr_assert_eq(store_lease_acquire(s, "r", getpid(), "h", 20, 1000, &hp, &hh),
               STORE_BUSY);
  cr_assert_eq(hp, getppid());
  free(hh);
  store_close(s);
}

Test(store, lease_expiry) {
  store_t *s = open_db(1);
  store_run r = sample_run("r", 1);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  pid_t child = spawn_sleeper();
  int64_t hp = 0;
  char *hh = NULL;
  cr_assert_eq(store_lease_acquire(s, "r", child, "h", 1000, 500, &hp, &hh),
               STORE_OK);
  /* Still valid at 1499, expired at 1500 (expires > now is required). */
  cr_assert_eq(store_lease_acquire(s, "r", getpid(), "h", 1499, 500, &hp, &hh),
               STORE_BUSY);
  free(hh);
  hh = NULL;
  cr_assert_eq(store_lease_acquire(s, "r", getpid(), "h", 1500, 500, &hp, &hh),
               STORE_OK, "an expired lease is free even with a live holder");
  store_run g;
  cr_assert_eq(store_run_get(s, "r", &g), STORE_OK);
  cr_assert_eq(g.owner_pid, getpid());
  store_run_free(&g);
  reap(child);
  store_close(s);
}

Test(store, lease_other_host_trusts_expiry) {
  store_t *s = open_db(1);
  store_run r = sample_run("r", 1);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  /* A pid that cannot exist here: on another host it is not checked. */
  int64_t ghost = 0x7ffffff0;
  int64_t hp = 0;
  char *hh = NULL;
  cr_assert_eq(store_lease_acquire(s, "r", ghost, "elsewhere", 1000, 5000,
                                   &hp, &hh),
               STORE_OK);
  cr_assert_eq(store_lease_acquire(s, "r", getpid(), "here", 2000, 5000, &hp,
                                   &hh),
               STORE_BUSY);
  cr_assert_eq(hp, ghost);
  cr_assert_str_eq(hh, "elsewhere");
  free(hh);
  hh = NULL;
  /* On another host, once expired, it is free. */
  cr_assert_eq(store_lease_acquire(s, "r", getpid(), "here", 6000, 5000, &hp,
                                   &hh),
               STORE_OK);
  /* The same dead pid on our own host is void before it expires. */
  cr_assert_eq(store_lease_release(s, "r", getpid()), STORE_OK);
  cr_assert_eq(store_lease_acquire(s, "r", ghost, "here", 7000, 5000, &hp,
                                   &hh),
               STORE_OK);
  cr_assert_eq(store_lease_acquire(s, "r", getpid(), "here", 7001, 5000, &hp,
                                   &hh),
               STORE_OK);
  store_run g;
  cr_assert_eq(store_run_get(s, "r", &g), STORE_OK);
  cr_assert_eq(g.owner_pid, getpid());
  store_run_free(&g);
  store_close(s);
}

Test(store, lease_renew_release_notfound) {
  store_t *s = open_db(1);
  store_run r = sample_run("r", 1);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  int64_t hp = 0;
  char *hh = NULL;
  cr_assert_eq(store_lease_acquire(s, "ghost", getpid(), "h", 1, 1, &hp, &hh),
               STORE_NOTFOUND);
  cr_assert_eq(store_lease_acquire(s, "r", getpid(), "h", 1000, 100, &hp, &hh),
               STORE_OK);

  /* Renewal by the owner extends; by someone else changes nothing. */
  cr_assert_eq(store_lease_renew(s, "r", getpid(), 5000, 100), STORE_OK);
  store_run g;
  store_t *o = open_db(0);
  cr_assert_eq(store_run_get(o, "r", &g), STORE_OK, "renew commits at once");
  cr_assert_eq(g.lease_expires_ms, 5100);
  store_run_free(&g);
  /* (On a connection not armed for the run: an armed one would be fenced,
   * see the fence_* tests.) */
  cr_assert_eq(store_lease_renew(o, "r", getpid() + 1, 9000, 100),
               STORE_FENCED);
  cr_assert_null(store_fenced(o), "an unarmed connection is not fenced");
  cr_assert_eq(store_run_get(o, "r", &g), STORE_OK);
  cr_assert_eq(g.lease_expires_ms, 5100);
  store_run_free(&g);

  /* Release by someone else changes nothing; by the owner clears. */
  cr_assert_eq(store_lease_release(s, "r", getpid() + 1), STORE_OK);
  cr_assert_eq(store_run_get(o, "r", &g), STORE_OK);
  cr_assert_eq(g.owner_pid, getpid());
  store_run_free(&g);
  cr_assert_eq(store_lease_release(s, "r", getpid()), STORE_OK);
  /* The release rides with the run's last write: buffered until flush. */
  cr_assert_eq(store_run_get(o, "r", &g), STORE_OK);
  cr_assert_eq(g.owner_pid, getpid(), "release is not committed yet");
  store_run_free(&g);
  cr_assert_eq(store_run_get(s, "r", &g), STORE_OK);
  cr_assert_eq(g.owner_pid, 0, "the releasing connection sees it");
  store_run_free(&g);
  cr_assert_eq(store_flush(s), STORE_OK);
  cr_assert_eq(store_run_get(o, "r", &g), STORE_OK);
  cr_assert_eq(g.owner_pid, 0);
  cr_assert_null(g.owner_host);
  cr_assert_eq(g.lease_expires_ms, 0);
  store_run_free(&g);

  /* Free again: anyone can take it. */
  pid_t child = spawn_sleeper();
  cr_assert_eq(store_lease_acquire(o, "r", child, "h", 6000, 100, &hp, &hh),
               STORE_OK);
  reap(child);
  store_close(o);
  store_close(s);
}

Test(store, lease_acquire_commits_buffered_writes) {
  /* Taking a lease flushes what was buffered before it. */
  store_t *s = open_db(1);
  store_run r = sample_run("r", 1);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  store_t *o = open_db(0);
  store_entry e = entry("1", "started");
  cr_assert_eq(store_journal_append(s, "r", &e, 0), STORE_OK);
  cr_assert_eq(count_rows(o, "r"), 0);
  int64_t hp;
  char *hh = NULL;
  cr_assert_eq(store_lease_acquire(s, "r", getpid(), "h", 1, 100, &hp, &hh),
               STORE_OK);
  cr_assert_eq(count_rows(o, "r"), 1);
  store_close(o);
  store_close(s);
}

/* ---- fencing (DESIGN §11) ---------------------------------------------- */

static int fenced_calls;
static void count_fenced(void *ud) {
  (void)ud;
  fenced_calls++;
}

static int audit_count(store_t *s) {
  int64_t seq = 0;
  char hash[65];
  cr_assert_eq(store_audit_head(s, &seq, hash), STORE_OK);
  return (int)seq;
}

/* s: a run "r" created with its owner (epoch 1, lease expired at 10), and
 * o: another connection that has taken the lease over (epoch 2). */
static void taken_over(store_t **s, store_t **o) {
  *s = open_db(1);
  store_run r = sample_run("r", 1);
  r.owner_pid = getpid();
  r.owner_host = "hostA";
  r.lease_expires_ms = 10;
  cr_assert_eq(store_run_create(*s, &r), STORE_OK, "%s", store_errmsg(*s));
  cr_assert_eq(store_fence_epoch(*s), 1, "creating a run with its owner "
                                         "is the first acquisition");
  fenced_calls = 0;
  store_on_fenced(*s, count_fenced, NULL);
  store_entry e = entry("1", "started");
  cr_assert_eq(store_journal_append(*s, "r", &e, 1), STORE_OK,
               "the owner writes while it holds the lease");
  *o = open_db(0);
  int64_t hp = 0;
  char *hh = NULL;
  cr_assert_eq(store_lease_acquire(*o, "r", getppid(), "hostB", 1000, 30000,
                                   &hp, &hh),
               STORE_OK, "an expired lease is taken over");
  cr_assert_eq(store_fence_epoch(*o), 2);
}

Test(store, fence_refuses_a_stale_owner_whole) {
  store_t *s, *o;
  taken_over(&s, &o);
  int audits = audit_count(o);
  /* A batch of the stalled owner: a journal row, an audit record, a lock
   * release and a status, then the commit. */
  store_entry e = entry("1", "completed");
  cr_assert_eq(store_journal_append(s, "r", &e, 0), STORE_OK);
  cr_assert_eq(store_audit_append(s, 5, "alice", "r", "run.finished", NULL, 0),
               STORE_OK);
  cr_assert_eq(store_run_set_status(s, "r", "succeeded", NULL, NULL, 0, 1, 6),
               STORE_OK);
  cr_assert_eq(store_flush(s), STORE_FENCED);
  cr_assert_eq(fenced_calls, 1, "the hook is called once");
  /* Nothing of the batch was kept. */
  cr_assert_eq(count_rows(o, "r"), 1);
  cr_assert_eq(audit_count(o), audits);
  store_run g;
  cr_assert_eq(store_run_get(o, "r", &g), STORE_OK);
  cr_assert_str_eq(g.status, "running");
  cr_assert_eq(g.owner_pid, getppid());
  store_run_free(&g);
  /* The refusal names the new owner. */
  const char *why = store_fenced(s);
  cr_assert_not_null(why);
  char want[128];
  snprintf(want, sizeof want, "taken over by pid %d on hostB", (int)getppid());
  cr_assert_not_null(strstr(why, want), "%s", why);
  cr_assert_not_null(strstr(why, "epoch 2"), "%s", why);
  cr_assert_not_null(strstr(store_errmsg(s), want), "%s", store_errmsg(s));
  /* Fenced for good: a durable append is refused before it writes. */
  cr_assert_neq(store_journal_append(s, "r", &e, 1), STORE_OK);
  cr_assert_neq(store_journal_append(s, "r", &e, 0), STORE_OK);
  cr_assert_eq(store_flush(s), STORE_OK, "nothing is left to commit");
  cr_assert_eq(count_rows(o, "r"), 1);
  cr_assert_eq(fenced_calls, 1);
  /* The new owner writes as usual. */
  cr_assert_eq(store_journal_append(o, "r", &e, 1), STORE_OK);
  cr_assert_eq(count_rows(o, "r"), 2);
  store_close(o);
  store_close(s);
}

Test(store, fence_renewal_reports_the_takeover) {
  store_t *s, *o;
  taken_over(&s, &o);
  cr_assert_eq(store_lease_renew(s, "r", getpid(), 2000, 30000),
               STORE_FENCED);
  cr_assert_eq(fenced_calls, 1);
  store_run g;
  cr_assert_eq(store_run_get(o, "r", &g), STORE_OK);
  cr_assert_eq(g.owner_pid, getppid(), "the lease stays the new owner's");
  cr_assert_eq(g.lease_expires_ms, 1000 + 30000);
  store_run_free(&g);
  /* The new owner renews. */
  cr_assert_eq(store_lease_renew(o, "r", getppid(), 3000, 30000), STORE_OK);
  store_close(o);
  store_close(s);
}

Test(store, fence_refuses_lock_writes) {
  store_t *s, *o;
  taken_over(&s, &o);
  char *holder = NULL;
  cr_assert_neq(store_lock_acquire(s, "env:prod", "r", "hostA", 2000,
                                   &holder),
                STORE_OK);
  cr_assert_null(holder);
  cr_assert_not_null(store_fenced(s));
  cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM locks"), 0,
               "no lock row was written");
  store_close(o);
  store_close(s);
}

Test(store, fence_new_acquisition_rearms) {
  store_t *s, *o;
  taken_over(&s, &o);
  store_entry e = entry("2", "started");
  cr_assert_eq(store_journal_append(s, "r", &e, 1), STORE_FENCED);
  /* The new owner lets go; the old connection may acquire again, at a
   * new epoch, and write again. */
  cr_assert_eq(store_lease_release(o, "r", getppid()), STORE_OK);
  cr_assert_eq(store_flush(o), STORE_OK);
  int64_t hp = 0;
  char *hh = NULL;
  cr_assert_eq(store_lease_acquire(s, "r", getpid(), "hostA", 3000, 30000,
                                   &hp, &hh),
               STORE_OK, "%s", store_errmsg(s));
  cr_assert_eq(store_fence_epoch(s), 3);
  cr_assert_null(store_fenced(s));
  cr_assert_eq(store_journal_append(s, "r", &e, 1), STORE_OK);
  /* Now o, which released at epoch 2, is the stale one. */
  cr_assert_eq(store_journal_append(o, "r", &e, 1), STORE_FENCED);
  cr_assert_eq(count_rows(s, "r"), 2);
  store_close(o);
  store_close(s);
}

/* ---- schema migration ------------------------------------------------- */

Test(store, migrates_version_1_forward_keeping_data) {
  sqlite_only();
  /* The schema of version 1: the first migration, which no release
   * changes. */
  const char *v1 = store_migration(0);
  cr_assert_not_null(v1);
  cr_assert_null(store_migration(store_schema_version()));
  raw_sql(dbpath, v1);
  raw_sql(dbpath,
          "INSERT INTO runs(id, name, source_path, source_sha256, source,"
          "  params, status, created_ms, updated_ms)"
          "  VALUES('old', 'n', 'p', 's', 'src', '{}', 'suspended', 1, 2);"
          "INSERT INTO journal(run_id, key, attempt, state, kind, ts_ms)"
          "  VALUES('old', '1', 1, 'completed', 'step', 3);"
          "PRAGMA user_version = 1;");
  store_t *s = open_db(0);
  store_run g;
  cr_assert_eq(store_run_get(s, "old", &g), STORE_OK, "%s", store_errmsg(s));
  cr_assert_str_eq(g.status, "suspended");
  cr_assert_null(g.cancel_request);
  cr_assert_eq(g.heartbeat_ms, 0);
  store_run_free(&g);
  cr_assert_eq(count_rows(s, "old"), 1);
  /* A run from before fencing is at epoch 0: its next owner gets 1. */
  cr_assert_eq(raw_int(dbpath, "SELECT epoch FROM runs WHERE id = 'old'"), 0);
  int64_t hp = 0;
  char *hh = NULL;
  cr_assert_eq(store_lease_acquire(s, "old", getpid(), "h", 5, 100, &hp, &hh),
               STORE_OK, "%s", store_errmsg(s));
  cr_assert_eq(store_fence_epoch(s), 1);
  store_close(s);
  cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), store_schema_version());
}

/* Schema 5 (the version before a run pinned its modules), made by the
 * migrations as they were released. */
static void make_schema_5(void) {
  for (int v = 0; v < 5; v++) raw_sql(dbpath, store_migration(v));
  raw_sql(dbpath,
          "INSERT INTO runs(id, name, source_path, source_sha256, source,"
          "  params, status, created_ms, updated_ms)"
          "  VALUES('old', 'n', 'p', 's', 'src', '{}', 'suspended', 1, 2);"
          "PRAGMA user_version = 5;");
}

static int count_module(void *ud, const store_module *m) {
  (void)m;
  (*(int *)ud)++;
  return 0;
}

Test(store, migrates_version_5_runs_without_module_pins) {
  sqlite_only();
  make_schema_5();
  store_t *s = open_db(0);
  cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), store_schema_version());
  /* An old run has no pins and no recorded version: it resumes from what
   * summit embeds, pinning that as it loads it. */
  int n = 0;
  cr_assert_eq(store_module_each(s, "old", count_module, &n), STORE_OK,
               "%s", store_errmsg(s));
  cr_assert_eq(n, 0);
  char *v = (char *)"x";
  cr_assert_eq(store_run_summit_version(s, "old", &v), STORE_OK);
  cr_assert_null(v);
  cr_assert_eq(store_module_pin(s, "old", "summit.stats",
                                "stdlib/summit/stats.lua", "aa", "return 1"),
               STORE_OK, "%s", store_errmsg(s));
  cr_assert_eq(store_flush(s), STORE_OK);
  cr_assert_eq(store_module_each(s, "old", count_module, &n), STORE_OK);
  cr_assert_eq(n, 1);
  store_close(s);
}

typedef struct {
  char names[4][32], shas[4][8];
  int n;
} module_list;

static int list_module(void *ud, const store_module *m) {
  module_list *l = ud;
  snprintf(l->names[l->n], sizeof l->names[0], "%s", m->name);
  snprintf(l->shas[l->n], sizeof l->shas[0], "%s", m->sha256);
  l->n++;
  return 0;
}

Test(store, module_sources_are_stored_once_and_pins_replaced) {
  store_t *s = open_db(1);
  store_run r = sample_run("r1", 1);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  store_run r2 = sample_run("r2", 2);
  cr_assert_eq(store_run_create(s, &r2), STORE_OK);
  cr_assert_eq(store_run_set_summit_version(s, "r1", "1.0.0"), STORE_OK);
  cr_assert_eq(store_run_set_summit_version(s, "r1", "2.0.0"), STORE_OK);
  cr_assert_eq(store_module_pin(s, "r1", "summit.b", "b.lua", "bb", "B"), STORE_OK);
  cr_assert_eq(store_module_pin(s, "r1", "summit.a", "a.lua", "aa", "A"), STORE_OK);
  cr_assert_eq(store_module_pin(s, "r2", "summit.a", "a.lua", "aa", "A"), STORE_OK);
  cr_assert_eq(store_flush(s), STORE_OK);
  cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM sources"), 2);
  module_list l = {0};
  cr_assert_eq(store_module_each(s, "r1", list_module, &l), STORE_OK);
  cr_assert_eq(l.n, 2);
  cr_assert_str_eq(l.names[0], "summit.a");   /* by name */
  cr_assert_str_eq(l.names[1], "summit.b");
  char *text = NULL, *v = NULL;
  cr_assert_eq(store_source_get(s, "bb", &text), STORE_OK);
  cr_assert_str_eq(text, "B");
  free(text);
  cr_assert_eq(store_source_get(s, "cc", &text), STORE_NOTFOUND);
  /* The version at the start is kept. */
  cr_assert_eq(store_run_summit_version(s, "r1", &v), STORE_OK);
  cr_assert_str_eq(v, "1.0.0");
  free(v);
  /* --upgrade: cleared, then pinned again; r2's pins are untouched. */
  cr_assert_eq(store_module_clear(s, "r1"), STORE_OK);
  cr_assert_eq(store_module_pin(s, "r1", "summit.a", "a.lua", "a2", "A2"), STORE_OK);
  cr_assert_eq(store_flush(s), STORE_OK);
  memset(&l, 0, sizeof l);
  cr_assert_eq(store_module_each(s, "r1", list_module, &l), STORE_OK);
  cr_assert_eq(l.n, 1);
  cr_assert_str_eq(l.shas[0], "a2");
  memset(&l, 0, sizeof l);
  cr_assert_eq(store_module_each(s, "r2", list_module, &l), STORE_OK);
  cr_assert_eq(l.n, 1);
  cr_assert_str_eq(l.shas[0], "aa");
  store_close(s);
}

/* ---- last id, cancel requests, liveness, locks --------------------------- */

static int last_row_id(void *ud, const store_entry *e) {
  *(int64_t *)ud = e->id;
  return 0;
}

Test(store, last_id_is_the_appended_row) {
  store_t *s = open_db(1);
  store_run r = sample_run("r", 1);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  store_entry e = entry("1", "started");
  cr_assert_eq(store_journal_append(s, "r", &e, 0), STORE_OK);
  int64_t first = store_last_id(s);
  cr_assert_eq(store_journal_append(s, "r", &e, 1), STORE_OK);
  int64_t second = store_last_id(s);
  cr_assert_gt(second, first);
  int64_t seen = 0;
  cr_assert_eq(store_journal_each(s, "r", last_row_id, &seen), STORE_OK);
  cr_assert_eq(seen, second);
  store_close(s);
}

Test(store, cancel_request_committed_at_once) {
  store_t *s = open_db(1);
  store_run r = sample_run("r", 1);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  cr_assert_eq(store_flush(s), STORE_OK);
  store_t *exec = open_db(0);
  char *mode = (char *)"sentinel";
  cr_assert_eq(store_run_cancel_requested(exec, "r", &mode), STORE_OK);
  cr_assert_null(mode);
  /* A buffered write on the executor's side does not hide the request. */
  store_entry e = entry("1", "started");
  cr_assert_eq(store_journal_append(exec, "r", &e, 0), STORE_OK);
  cr_assert_eq(store_flush(exec), STORE_OK);
  cr_assert_eq(store_run_request_cancel(s, "r", "rollback"), STORE_OK);
  cr_assert_eq(store_run_cancel_requested(exec, "r", &mode), STORE_OK);
  cr_assert_str_eq(mode, "rollback");
  free(mode);
  store_run g;
  cr_assert_eq(store_run_get(exec, "r", &g), STORE_OK);
  cr_assert_str_eq(g.cancel_request, "rollback");
  store_run_free(&g);
  mode = (char *)"sentinel";
  cr_assert_eq(store_run_cancel_requested(exec, "ghost", &mode), STORE_OK);
  cr_assert_null(mode);
  store_close(exec);
  store_close(s);
}

Test(store, run_alive_rules) {
  pid_t me = getpid();
  /* Waiting by design: alive whatever the lease says. */
  cr_assert(store_run_alive("suspended", 0, NULL, 0, "h", 100));
  cr_assert(store_run_alive("needs_attention", 0, NULL, 0, "h", 100));
  /* Finished: never. */
  cr_assert_not(store_run_alive("succeeded", me, "h", 1000, "h", 100));
  cr_assert_not(store_run_alive("failed", me, "h", 1000, "h", 100));
  cr_assert_not(store_run_alive(NULL, me, "h", 1000, "h", 100));
  /* Running: a live lease held by a live owner. */
  cr_assert(store_run_alive("running", me, "h", 1000, "h", 100));
  cr_assert_not(store_run_alive("running", me, "h", 100, "h", 100),
                "lease lapsed");
  cr_assert_not(store_run_alive("running", 0x7ffffff0, "h", 1000, "h", 100),
                "owner known dead on this host");
  cr_assert(store_run_alive("running", 0x7ffffff0, "other", 1000, "h", 100),
            "another host: trust the lease");
}

typedef struct {
  int n;
  char rows[8][160];
} lock_acc;

static int lock_cb(void *ud, const store_lock *l) {
  lock_acc *a = ud;
  cr_assert_lt(a->n, 8);
  snprintf(a->rows[a->n++], sizeof a->rows[0], "%s|%s|%s|%s|%lld", l->name,
           l->run_id, S(l->status), S(l->runbook), (long long)l->acquired_ms);
  return 0;
}

Test(store, locks_held_by_runs) {
  store_t *s = open_db(1);
  store_run r = sample_run("A", 1);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  r = sample_run("B", 2);
  r.name = "hotfix";
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  int64_t hp;
  char *hh = NULL, *holder = NULL;
  cr_assert_eq(store_lease_acquire(s, "A", getpid(), "h", 1000, 60000, &hp,
                                   &hh),
               STORE_OK);

  cr_assert_eq(store_lock_acquire(s, "db", "A", "h", 1000, &holder), STORE_OK);
  cr_assert_null(holder);
  cr_assert_eq(store_lock_acquire(s, "db", "A", "h", 1001, &holder), STORE_OK,
               "the holder may take it again");
  cr_assert_eq(store_lock_acquire(s, "db", "B", "h", 1002, &holder),
               STORE_BUSY);
  cr_assert_str_eq(holder, "A");
  free(holder);
  holder = NULL;

  /* A suspended holder keeps it. */
  cr_assert_eq(store_run_set_status(s, "A", "suspended", NULL, NULL, 5, 0, 3),
               STORE_OK);
  cr_assert_eq(store_lease_release(s, "A", getpid()), STORE_OK);
  cr_assert_eq(store_lock_acquire(s, "db", "B", "h", 1003, &holder),
               STORE_BUSY);
  free(holder);
  holder = NULL;

  cr_assert_eq(store_lock_acquire(s, "queue", "B", "h", 1004, &holder),
               STORE_OK);
  lock_acc a = {0};
  cr_assert_eq(store_lock_list(s, lock_cb, &a), STORE_OK);
  cr_assert_eq(a.n, 2);
  cr_assert_str_eq(a.rows[0], "db|A|suspended|deploy|1001");
  cr_assert_str_eq(a.rows[1], "queue|B|running|hotfix|1004");

  /* A finished holder's lock is taken over. */
  cr_assert_eq(store_run_set_status(s, "A", "succeeded", NULL, NULL, 0, 1, 4),
               STORE_OK);
  cr_assert_eq(store_lock_acquire(s, "db", "B", "h", 1005, &holder), STORE_OK);
  cr_assert_null(holder);

  /* Release by name (only by its holder), then every lock of a run. */
  cr_assert_eq(store_lock_release(s, "db", "A"), STORE_OK);
  memset(&a, 0, sizeof a);
  cr_assert_eq(store_lock_list(s, lock_cb, &a), STORE_OK);
  cr_assert_eq(a.n, 2, "A no longer holds db: nothing released");
  cr_assert_eq(store_lock_release(s, "db", "B"), STORE_OK);
  memset(&a, 0, sizeof a);
  cr_assert_eq(store_lock_list(s, lock_cb, &a), STORE_OK);
  cr_assert_eq(a.n, 1);
  cr_assert_eq(store_lock_release(s, NULL, "B"), STORE_OK);
  cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM locks"), 2,
               "both releases of B are buffered until store_flush");
  cr_assert_eq(store_flush(s), STORE_OK);
  cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM locks"), 0);
  memset(&a, 0, sizeof a);
  cr_assert_eq(store_lock_list(s, lock_cb, &a), STORE_OK);
  cr_assert_eq(a.n, 0);
  store_close(s);
}

Test(store, lock_of_dead_running_run_is_taken_over) {
  store_t *s = open_db(1);
  store_run r = sample_run("A", 1);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  r = sample_run("B", 2);
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  pid_t child = spawn_sleeper();
  int64_t hp;
  char *hh = NULL, *holder = NULL;
  cr_assert_eq(store_lease_acquire(s, "A", child, "h", 1000, 60000, &hp, &hh),
               STORE_OK);
  cr_assert_eq(store_lock_acquire(s, "db", "A", "h", 1000, &holder), STORE_OK);
  cr_assert_eq(store_lock_acquire(s, "db", "B", "h", 1001, &holder),
               STORE_BUSY, "running with a live owner");
  free(holder);
  holder = NULL;
  reap(child);
  cr_assert_eq(store_lock_acquire(s, "db", "B", "h", 1002, &holder), STORE_OK,
               "its owner died: the lock is taken over");
  store_close(s);
}
