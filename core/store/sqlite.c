/* The state store on SQLite: schema, migrations and every SQL statement.
 *
 * WAL mode lets `summit status` read while a run writes. Statements are
 * prepared once per connection and reused. */
#include "store/store.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

/* Forward migrations: MIGRATIONS[i] takes user_version i to i + 1. A
 * released one never changes (databases out there were made by it): a new
 * schema is a new migration at the end. */
static const char *const MIGRATIONS[] = {
  /* 0 -> 1: runs and the journal. */
  "CREATE TABLE runs("
  "  id TEXT PRIMARY KEY,"
  "  name TEXT NOT NULL, version TEXT,"
  "  source_path TEXT NOT NULL, source_sha256 TEXT NOT NULL,"
  "  source TEXT NOT NULL, params TEXT NOT NULL, env TEXT,"
  "  status TEXT NOT NULL, error TEXT, failed_key TEXT,"
  "  started_by TEXT, rerun_of TEXT,"
  "  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
  "  finished_ms INTEGER, wake_ms INTEGER,"
  "  owner_pid INTEGER, owner_host TEXT, lease_expires_ms INTEGER);"
  "CREATE INDEX runs_status ON runs(status, id);"
  "CREATE TABLE journal("
  "  id INTEGER PRIMARY KEY,"
  "  run_id TEXT NOT NULL REFERENCES runs(id),"
  "  key TEXT NOT NULL, attempt INTEGER NOT NULL, state TEXT NOT NULL,"
  "  kind TEXT NOT NULL, name TEXT, args_hash TEXT, args TEXT,"
  "  result TEXT, error TEXT, site TEXT, note TEXT,"
  "  ts_ms INTEGER NOT NULL);"
  "CREATE INDEX journal_run ON journal(run_id, id);",
  /* 1 -> 2: cancellation requests, heartbeats and locks. */
  "ALTER TABLE runs ADD COLUMN cancel_request TEXT;"
  "ALTER TABLE runs ADD COLUMN heartbeat_ms INTEGER;"
  "ALTER TABLE runs ADD COLUMN config_path TEXT;"
  "CREATE TABLE locks("
  "  name TEXT PRIMARY KEY,"
  "  run_id TEXT NOT NULL REFERENCES runs(id),"
  "  acquired_ms INTEGER NOT NULL);",
  /* 2 -> 3: the audit trail, approval gates and the decisions on them. */
  "CREATE TABLE audit("
  "  seq INTEGER PRIMARY KEY,"          /* 1, 2, 3, ...: no gaps */
  "  ts_ms INTEGER NOT NULL, actor TEXT NOT NULL, run_id TEXT,"
  "  action TEXT NOT NULL,"
  "  record TEXT NOT NULL,"             /* the canonical JSON that is hashed */
  "  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
  /* No index by run: every durable step appends a record, and an index
   * page more per commit cost more than the few commands that read one
   * run's records (audit show/export --run, provenance) save by it. */
  /* Append-only by the schema too: editing it takes a deliberate DROP
   * TRIGGER, and the hash chain still tells. */
  "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
  "  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;"
  "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
  "  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;"
  "CREATE TABLE waits("                 /* the gates runs wait on now */
  "  run_id TEXT NOT NULL REFERENCES runs(id),"
  "  wait_key TEXT NOT NULL, attempt INTEGER NOT NULL, gate TEXT NOT NULL,"
  "  request TEXT NOT NULL, since_ms INTEGER NOT NULL, deadline_ms INTEGER,"
  "  PRIMARY KEY(run_id, wait_key));"
  "CREATE TABLE approvals("
  "  id INTEGER PRIMARY KEY,"
  "  run_id TEXT NOT NULL REFERENCES runs(id),"
  "  wait_key TEXT NOT NULL, attempt INTEGER NOT NULL, gate TEXT NOT NULL,"
  "  actor TEXT NOT NULL, decision TEXT NOT NULL, comment TEXT,"
  "  bind TEXT, signature TEXT, ts_ms INTEGER NOT NULL);"
  "CREATE INDEX approvals_run ON approvals(run_id, wait_key, id);"
  "ALTER TABLE runs ADD COLUMN git_commit TEXT;"
  /* Schedules (schedules.c, docs/schedules.md) and what the daemon
   * records on runs: the fire a run was started for (one run per fire,
   * by the unique index), its claim on a run it resumes, and runs its
   * own stop interrupted (to be resumed when it starts again). */
  "CREATE TABLE schedules("
  "  name TEXT PRIMARY KEY, cron TEXT NOT NULL, tz TEXT NOT NULL,"
  "  runbook TEXT NOT NULL, params TEXT NOT NULL, env TEXT,"
  "  config_path TEXT, dir TEXT, missed TEXT NOT NULL,"
  "  paused INTEGER NOT NULL DEFAULT 0,"
  "  created_by TEXT, created_ms INTEGER NOT NULL,"
  "  next_fire_ms INTEGER, last_fire_ms INTEGER, last_run TEXT,"
  "  last_status TEXT, last_note TEXT,"
  "  consecutive_failures INTEGER NOT NULL DEFAULT 0);"
  "ALTER TABLE runs ADD COLUMN schedule TEXT;"
  "ALTER TABLE runs ADD COLUMN fire_ms INTEGER;"
  "ALTER TABLE runs ADD COLUMN claim_ms INTEGER;"
  "ALTER TABLE runs ADD COLUMN claim_by TEXT;"
  "ALTER TABLE runs ADD COLUMN daemon_resume INTEGER;"
  "CREATE UNIQUE INDEX runs_fire ON runs(schedule, fire_ms);",
  /* 3 -> 4: fencing (DESIGN §11). epoch counts the acquisitions of a
   * run's lease; epoch_pid/epoch_host name the process of the newest one,
   * kept after it released the lease so a stalled owner can be told who
   * took over. Existing runs start at 0: their next acquisition makes 1. */
  "ALTER TABLE runs ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE runs ADD COLUMN epoch_pid INTEGER;"
  "ALTER TABLE runs ADD COLUMN epoch_host TEXT;",
  /* 4 -> 5: a signed start (summit run --sign): who started the run, in a way a
   * signed gate can check (docs/approvals.md). */
  "ALTER TABLE runs ADD COLUMN start_sig TEXT;",
  /* 5 -> 6: the closure a run pins (DESIGN §14, pins.c): every module
   * source it loaded, stored once by SHA-256, and summit's version when
   * it started. A run from before has no rows: it loads what is embedded,
   * and pins that when it first loads it. */
  "CREATE TABLE sources("
  "  sha256 TEXT PRIMARY KEY, text TEXT NOT NULL);"
  "CREATE TABLE run_modules("
  "  run_id TEXT NOT NULL REFERENCES runs(id),"
  "  name TEXT NOT NULL, path TEXT,"
  "  sha256 TEXT NOT NULL REFERENCES sources(sha256),"
  "  PRIMARY KEY(run_id, name));"
  "ALTER TABLE runs ADD COLUMN summit_version TEXT;",
  /* 6 -> 7: what a succeeded run's run() returned, as redacted JSON
   * (`summit result`, status --json). Older runs have none. */
  "ALTER TABLE runs ADD COLUMN result TEXT;",
};
#define NMIGRATIONS ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))

#define RUN_COLS                                                          \
  "id, name, version, source_path, source_sha256, source, params, env, "  \
  "status, error, failed_key, started_by, rerun_of, created_ms, "         \
  "updated_ms, finished_ms, wake_ms, owner_pid, owner_host, "             \
  "lease_expires_ms, cancel_request, heartbeat_ms, config_path, git_commit, " \
  "start_sig"

/* The SQL of this file's statements (internal.h names them). */
static const char *const SQL[] = {
  [Q_BEGIN] = "BEGIN IMMEDIATE",
  [Q_COMMIT] = "COMMIT",
  [Q_ROLLBACK] = "ROLLBACK",
  [Q_RUN_INSERT] = "INSERT INTO runs(" RUN_COLS ") VALUES(?1, ?2, ?3, ?4, "
                   "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
                   "?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)",
  [Q_RUN_GET] = "SELECT " RUN_COLS " FROM runs WHERE id = ?1",
  [Q_RUN_STATUS] = "UPDATE runs SET status = ?2, error = ?3, failed_key = ?4,"
                   " wake_ms = ?5, updated_ms = ?6,"
                   " finished_ms = CASE WHEN ?7 THEN ?6 ELSE NULL END"
                   " WHERE id = ?1",
  [Q_RUN_PIN] = "UPDATE runs SET source_path = ?2, source = ?3,"
                " source_sha256 = ?4, version = ?5 WHERE id = ?1",
  [Q_RUN_GIT] = "UPDATE runs SET git_commit = ?2 WHERE id = ?1",
  [Q_RUN_RESULT_SET] = "UPDATE runs SET result = ?2 WHERE id = ?1",
  [Q_RUN_RESULT_GET] = "SELECT result FROM runs WHERE id = ?1",
  [Q_RUN_LIST] = "SELECT " RUN_COLS " FROM runs"
                 " ORDER BY created_ms DESC, rowid DESC",
  [Q_RUN_LIST_STATUS] = "SELECT " RUN_COLS " FROM runs WHERE status = ?1"
                        " ORDER BY created_ms DESC, rowid DESC",
  [Q_LEASE_GET] = "SELECT owner_pid, owner_host, lease_expires_ms, epoch"
                  " FROM runs WHERE id = ?1",
  [Q_LEASE_SET] = "UPDATE runs SET owner_pid = ?2, owner_host = ?3,"
                  " lease_expires_ms = ?4, heartbeat_ms = ?5,"
                  " epoch = epoch + 1, epoch_pid = ?2, epoch_host = ?3"
                  " WHERE id = ?1 RETURNING epoch",
  /* ?5: the epoch this connection holds (NULL: none armed for the run). */
  [Q_LEASE_RENEW] = "UPDATE runs SET lease_expires_ms = ?3, heartbeat_ms = ?4"
                    " WHERE id = ?1 AND owner_pid = ?2"
                    " AND (?5 IS NULL OR epoch = ?5)",
  [Q_LEASE_FIRST] = "UPDATE runs SET epoch = epoch + 1, epoch_pid = owner_pid,"
                    " epoch_host = owner_host WHERE id = ?1 RETURNING epoch",
  [Q_FENCE_GET] = "SELECT epoch, epoch_pid, epoch_host, status FROM runs"
                  " WHERE id = ?1",
  [Q_LEASE_RELEASE] = "UPDATE runs SET owner_pid = NULL, owner_host = NULL,"
                      " lease_expires_ms = NULL"
                      " WHERE id = ?1 AND owner_pid = ?2",
  [Q_JOURNAL_APPEND] = "INSERT INTO journal(run_id, key, attempt, state, kind,"
                       " name, args_hash, args, result, error, site, note,"
                       " ts_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
                       " ?10, ?11, ?12, ?13)",
  [Q_CANCEL_SET] = "UPDATE runs SET cancel_request = ?2 WHERE id = ?1",
  [Q_CANCEL_GET] = "SELECT cancel_request FROM runs WHERE id = ?1",
  [Q_LOCK_GET] = "SELECT l.run_id, r.status, r.owner_pid, r.owner_host,"
                 " r.lease_expires_ms FROM locks l LEFT JOIN runs r"
                 " ON r.id = l.run_id WHERE l.name = ?1",
  [Q_LOCK_SET] = "INSERT OR REPLACE INTO locks(name, run_id, acquired_ms)"
                 " VALUES(?1, ?2, ?3)",
  [Q_LOCK_RELEASE] = "DELETE FROM locks WHERE name = ?1 AND run_id = ?2",
  [Q_LOCK_RELEASE_RUN] = "DELETE FROM locks WHERE run_id = ?1",
  [Q_LOCK_LIST] = "SELECT l.name, l.run_id, l.acquired_ms, r.status,"
                  " r.owner_pid, r.owner_host, r.lease_expires_ms, r.name"
                  " FROM locks l LEFT JOIN runs r ON r.id = l.run_id"
                  " ORDER BY l.name",
  [Q_JOURNAL_EACH] = "SELECT id, key, attempt, state, kind, name, args_hash,"
                     " args, result, error, site, note, ts_ms FROM journal"
                     " WHERE run_id = ?1 ORDER BY id",
};

struct store {
  sqlite3 *db;
  sqlite3_stmt *stmt[STORE_NSTMT];  /* prepared on first use (internal.h) */
  int in_txn;      /* a write transaction is open (see store_flush) */
  uint64_t commits; /* transactions store_flush committed (store_commits) */
  char err[1024];
  char *path;      /* named in every error */
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

int store_schema_version(void) { return NMIGRATIONS; }

const char *store_migration(int from) {
  return from >= 0 && from < NMIGRATIONS ? MIGRATIONS[from] : NULL;
}

const char *store_errmsg(store_t *s) { return s->err; }

static int fail(store_t *s, const char *what) {
  /* BUSY after the whole busy timeout: some process has kept the write lock
   * for 10 s, most likely one stopped (SIGSTOP, a paused VM) inside a
   * transaction. Say so: nothing but that process can release it. */
  int busy = (sqlite3_errcode(s->db) & 0xff) == SQLITE_BUSY;
  snprintf(s->err, sizeof s->err, "%s in state database %s: %s%s", what,
           s->path ? s->path : "?", sqlite3_errmsg(s->db),
           busy ? " (another process has held its write lock for 10 s; a "
                  "stopped summit process keeps it until it is continued "
                  "or killed)"
                : "");
  return STORE_ERR;
}

/* Returns the prepared statement q of this file, reset and unbound. */
static sqlite3_stmt *stmt(store_t *s, enum store_stmt q) {
  assert((size_t)q < sizeof SQL / sizeof SQL[0] && SQL[q]);
  return store__stmt(s, q, SQL[q]);
}

#define bind_text store__bind_text
#define col_text store__col_text

/* Runs a statement that returns no rows. */
static int exec_stmt(store_t *s, sqlite3_stmt *st, const char *what) {
  assert(st && what);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return fail(s, what);
  return STORE_OK;
}

static int fence_refuse(store_t *s) {
  snprintf(s->err, sizeof s->err, "%s", s->fence_msg);
  return STORE_FENCED;
}

static int begin(store_t *s) {
  if (s->in_txn) return STORE_OK;
  if (s->fenced) return fence_refuse(s);
  sqlite3_stmt *st = stmt(s, Q_BEGIN);
  if (!st || exec_stmt(s, st, "begin") != STORE_OK) return STORE_ERR;
  assert(sqlite3_get_autocommit(s->db) == 0);
  s->in_txn = 1;
  return STORE_OK;
}

/* ---- for the other files of core/store/ (internal.h) ---------------- */

sqlite3_stmt *store__stmt(store_t *s, enum store_stmt id, const char *sql) {
  assert(s && s->db && sql);
  assert(id >= 0 && id < STORE_NSTMT);
  sqlite3_stmt *st = s->stmt[id];
  if (!st) {
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
                           NULL) != SQLITE_OK) {
      fail(s, "prepare");
      return NULL;
    }
    s->stmt[id] = st;
  }
  /* One slot, one statement: the SQL it was prepared from is this one. */
  assert(strcmp(sqlite3_sql(st), sql) == 0);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return st;
}

int store__begin(store_t *s) { return begin(s); }

void store__rollback(store_t *s) {
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  s->in_txn = 0;
}

int store__exec(store_t *s, sqlite3_stmt *st, const char *what) {
  return exec_stmt(s, st, what);
}

int store__fail(store_t *s, const char *what) { return fail(s, what); }

int store__failf(store_t *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->err, sizeof s->err, fmt, ap);
  va_end(ap);
  return STORE_ERR;
}

/* The lease of s->fence_run is lost: says who holds the run now (read in
 * the open transaction), drops that transaction and fences s for good.
 * Returns STORE_FENCED. */
static int fence_fail(store_t *s) {
  assert(s->in_txn && s->fence_run);
  int64_t epoch = -1, pid = 0;
  char host[256] = "", status[64] = "";
  sqlite3_stmt *st = stmt(s, Q_FENCE_GET);
  if (st) {
    bind_text(st, 1, s->fence_run);
    if (sqlite3_step(st) == SQLITE_ROW) {
      epoch = sqlite3_column_int64(st, 0);
      pid = sqlite3_column_int64(st, 1);
      const unsigned char *h = sqlite3_column_text(st, 2),
                          *t = sqlite3_column_text(st, 3);
      snprintf(host, sizeof host, "%s", h ? (const char *)h : "?");
      snprintf(status, sizeof status, "%s", t ? (const char *)t : "?");
    }
    sqlite3_reset(st);
  }
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  s->in_txn = 0;
  if (epoch < 0)
    snprintf(s->fence_msg, sizeof s->fence_msg,
             "run %s is gone from state database %s; this process no "
             "longer holds its lease (epoch %lld)", s->fence_run, s->path,
             (long long)s->fence_epoch);
  else if (pid > 0)
    snprintf(s->fence_msg, sizeof s->fence_msg,
             "run %s was taken over by pid %lld on %s (lease epoch %lld; "
             "this process held epoch %lld); the run is now %s",
             s->fence_run, (long long)pid, host, (long long)epoch,
             (long long)s->fence_epoch, status);
  else
    snprintf(s->fence_msg, sizeof s->fence_msg,
             "the lease of run %s was taken over (lease epoch %lld; this "
             "process held epoch %lld); the run is now %s", s->fence_run,
             (long long)epoch, (long long)s->fence_epoch, status);
  int first = !s->fenced;
  s->fenced = 1;
  if (first && s->on_fenced) s->on_fenced(s->on_fenced_ud);
  return fence_refuse(s);
}

/* Inside the open write transaction (BEGIN IMMEDIATE: no other writer
 * can move the epoch until it ends): is s->fence_run still at the epoch
 * this connection acquired? */
static int fence_check(store_t *s) {
  assert(s->in_txn && s->fence_run);
  sqlite3_stmt *st = stmt(s, Q_FENCE_GET);
  if (!st) return STORE_ERR;
  bind_text(st, 1, s->fence_run);
  int rc = sqlite3_step(st);
  int64_t epoch = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(s, "checking the lease");
  return epoch == s->fence_epoch ? STORE_OK : fence_fail(s);
}

int store_flush(store_t *s) {
  if (!s->in_txn) return STORE_OK;
  if (s->fence_run) {
    /* Armed only by an acquisition, whose epoch counts from 1. */
    assert(s->fence_epoch > 0);
    int rc = fence_check(s);
    if (rc == STORE_ERR) {
      store__rollback(s);
      return rc;
    }
    if (rc != STORE_OK) return rc;
  }
  sqlite3_stmt *st = stmt(s, Q_COMMIT);
  if (!st || exec_stmt(s, st, "commit") != STORE_OK) return STORE_ERR;
  s->in_txn = 0;
  s->commits++;
  return STORE_OK;
}

uint64_t store_commits(store_t *s) { return s->commits; }

static int migrate(store_t *s, int from) {
  char *msg = NULL;
  if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
    goto error;
  /* Read again inside the lock: another process may have migrated. */
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) !=
      SQLITE_OK)
    goto error;
  if (sqlite3_step(st) == SQLITE_ROW) from = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  for (int v = from; v < NMIGRATIONS; v++) {
    char pragma[64];
    if (sqlite3_exec(s->db, MIGRATIONS[v], NULL, NULL, &msg) != SQLITE_OK)
      goto error;
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
    if (sqlite3_exec(s->db, pragma, NULL, NULL, &msg) != SQLITE_OK) goto error;
  }
  if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) goto error;
  return STORE_OK;
error:
  snprintf(s->err, sizeof s->err, "migrating the schema: %s",
           msg ? msg : sqlite3_errmsg(s->db));
  sqlite3_free(msg);
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return STORE_ERR;
}

store_t *store_open(const char *path, int create, store_durability dur,
                    char *err, size_t errlen) {
  store_t *s = calloc(1, sizeof *s);
  if (!s || !(s->path = strdup(path))) {
    free(s);
    snprintf(err, errlen, "%s: out of memory", path);
    return NULL;
  }
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "cannot open state database %s: %s", path,
             s->db ? sqlite3_errmsg(s->db) : "out of memory");
    goto error;
  }
  sqlite3_extended_result_codes(s->db, 1);
  sqlite3_busy_timeout(s->db, 10000);

  /* Read the schema version before writing anything, so a file that is not
   * a database (or not ours) is reported and left untouched. */
  sqlite3_stmt *st = NULL;
  int version = -1;
  if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) ==
          SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  if (version < 0) {
    snprintf(err, errlen,
             "state database %s cannot be read: %s (nothing was changed)",
             path, sqlite3_errmsg(s->db));
    goto error;
  }
  if (version > NMIGRATIONS) {
    snprintf(err, errlen,
             "state database %s has schema version %d, newer than this "
             "summit understands (%d); upgrade summit",
             path, version, NMIGRATIONS);
    goto error;
  }
  if (version == 0) {
    /* A version-0 file with tables of its own is someone else's database. */
    int foreign = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      foreign = sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    if (foreign) {
      snprintf(err, errlen,
               "state database %s is a SQLite database but not summit's "
               "(it has tables and no summit schema version); nothing was "
               "changed", path);
      goto error;
    }
  }
  const char *sync = dur == STORE_DURABILITY_FULL ? "PRAGMA synchronous=FULL"
                                                 : "PRAGMA synchronous=NORMAL";
  char *msg = NULL;
  if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL", NULL, NULL, &msg) !=
          SQLITE_OK ||
      sqlite3_exec(s->db, sync, NULL, NULL, &msg) != SQLITE_OK ||
      sqlite3_exec(s->db, "PRAGMA foreign_keys=ON", NULL, NULL, &msg) !=
          SQLITE_OK) {
    snprintf(err, errlen, "state database %s: %s", path,
             msg ? msg : sqlite3_errmsg(s->db));
    sqlite3_free(msg);
    goto error;
  }
  if (version < NMIGRATIONS && migrate(s, version) != STORE_OK) {
    snprintf(err, errlen, "state database %s: %s", path, s->err);
    goto error;
  }
  return s;
error:
  store_close(s);
  return NULL;
}

void store_close(store_t *s) {
  if (!s) return;
  if (s->in_txn) store_flush(s);
  for (int i = 0; i < STORE_NSTMT; i++) sqlite3_finalize(s->stmt[i]);
  sqlite3_close(s->db);
  free(s->path);
  free(s->fence_run);
  free(s);
}

/* ---- fencing (DESIGN §11) ------------------------------------------ */

/* From now on every commit of s checks that run id is at epoch. */
static void fence_arm(store_t *s, const char *id, int64_t epoch) {
  assert(id && epoch > 0);
  /* Armed inside the transaction of the acquisition: its commit is the
   * first to check the epoch. */
  assert(s->in_txn);
  free(s->fence_run);
  s->fence_run = strdup(id);
  s->fence_epoch = epoch;
  s->fenced = 0;
}

static void fence_disarm(store_t *s) {
  free(s->fence_run);
  s->fence_run = NULL;
  s->fence_epoch = 0;
  s->fenced = 0;
}

/* Steps st, an UPDATE ... RETURNING epoch that is prepared and bound;
 * *epoch gets the run's new epoch (the run must exist). */
static int step_epoch(store_t *s, sqlite3_stmt *st, int64_t *epoch) {
  assert(s->in_txn);
  int rc = sqlite3_step(st), got = rc == SQLITE_ROW;
  if (got) *epoch = sqlite3_column_int64(st, 0);
  while (rc == SQLITE_ROW) rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return fail(s, "taking the lease");
  if (!got) return store__failf(s, "taking the lease: no such run");
  return STORE_OK;
}

int64_t store_fence_epoch(store_t *s) { return s->fence_run ? s->fence_epoch : 0; }

const char *store_fenced(store_t *s) { return s->fenced ? s->fence_msg : NULL; }

void store_on_fenced(store_t *s, void (*fn)(void *ud), void *ud) {
  s->on_fenced = fn;
  s->on_fenced_ud = ud;
}

/* ---- runs ---------------------------------------------------------- */

char *store__col_dup(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? strdup((const char *)t) : NULL;
}
#define col_dup store__col_dup

static void run_from_row(sqlite3_stmt *st, store_run *r) {
  memset(r, 0, sizeof *r);
  r->id = col_dup(st, 0);
  r->name = col_dup(st, 1);
  r->version = col_dup(st, 2);
  r->source_path = col_dup(st, 3);
  r->source_sha256 = col_dup(st, 4);
  r->source = col_dup(st, 5);
  r->params = col_dup(st, 6);
  r->env = col_dup(st, 7);
  r->status = col_dup(st, 8);
  r->error = col_dup(st, 9);
  r->failed_key = col_dup(st, 10);
  r->started_by = col_dup(st, 11);
  r->rerun_of = col_dup(st, 12);
  r->created_ms = sqlite3_column_int64(st, 13);
  r->updated_ms = sqlite3_column_int64(st, 14);
  r->finished_ms = sqlite3_column_int64(st, 15);
  r->wake_ms = sqlite3_column_int64(st, 16);
  r->owner_pid = sqlite3_column_int64(st, 17);
  r->owner_host = col_dup(st, 18);
  r->lease_expires_ms = sqlite3_column_int64(st, 19);
  r->cancel_request = col_dup(st, 20);
  r->heartbeat_ms = sqlite3_column_int64(st, 21);
  r->config_path = col_dup(st, 22);
  r->git_commit = col_dup(st, 23);
  r->start_sig = col_dup(st, 24);
}

void store_run_free(store_run *r) {
  if (!r) return;
  char **strs[] = {&r->id, &r->name, &r->version, &r->source_path,
                   &r->source_sha256, &r->source, &r->params, &r->env,
                   &r->status, &r->error, &r->failed_key, &r->started_by,
                   &r->owner_host, &r->rerun_of, &r->cancel_request,
                   &r->config_path, &r->git_commit, &r->start_sig};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
    free(*strs[i]);
    *strs[i] = NULL;
  }
}

int store_run_create(store_t *s, const store_run *r) {
  sqlite3_stmt *st = stmt(s, Q_RUN_INSERT);
  if (!st || begin(s) != STORE_OK) return STORE_ERR;
  bind_text(st, 1, r->id);
  bind_text(st, 2, r->name);
  bind_text(st, 3, r->version);
  bind_text(st, 4, r->source_path);
  bind_text(st, 5, r->source_sha256);
  bind_text(st, 6, r->source);
  bind_text(st, 7, r->params);
  bind_text(st, 8, r->env);
  bind_text(st, 9, r->status);
  bind_text(st, 10, r->error);
  bind_text(st, 11, r->failed_key);
  bind_text(st, 12, r->started_by);
  bind_text(st, 13, r->rerun_of);
  sqlite3_bind_int64(st, 14, r->created_ms);
  sqlite3_bind_int64(st, 15, r->updated_ms);
  store__bind_opt(st, 16, r->finished_ms);
  store__bind_opt(st, 17, r->wake_ms);
  store__bind_opt(st, 18, r->owner_pid);
  bind_text(st, 19, r->owner_host);
  store__bind_opt(st, 20, r->lease_expires_ms);
  bind_text(st, 21, r->cancel_request);
  store__bind_opt(st, 22, r->heartbeat_ms);
  bind_text(st, 23, r->config_path);
  bind_text(st, 24, r->git_commit);
  bind_text(st, 25, r->start_sig);
  if (exec_stmt(s, st, "creating the run") != STORE_OK) return STORE_ERR;
  if (r->owner_pid > 0) {
    /* A run created with its owner: the owner's first acquisition. */
    int64_t epoch = 0;
    sqlite3_stmt *le = stmt(s, Q_LEASE_FIRST);
    if (!le) return STORE_ERR;
    bind_text(le, 1, r->id);
    if (step_epoch(s, le, &epoch) != STORE_OK) return STORE_ERR;
    fence_arm(s, r->id, epoch);
  }
  return store_flush(s);
}

int store_run_get(store_t *s, const char *id, store_run *out) {
  sqlite3_stmt *st = stmt(s, Q_RUN_GET);
  if (!st) return STORE_ERR;
  bind_text(st, 1, id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    run_from_row(st, out);
    sqlite3_reset(st);
    return STORE_OK;
  }
  sqlite3_reset(st);
  if (rc == SQLITE_DONE) return STORE_NOTFOUND;
  return fail(s, "reading the run");
}

int store_run_set_status(store_t *s, const char *id, const char *status,
                         const char *error, const char *failed_key,
                         int64_t wake_ms, int final, int64_t now_ms) {
  sqlite3_stmt *st = stmt(s, Q_RUN_STATUS);
  if (!st || begin(s) != STORE_OK) return STORE_ERR;
  bind_text(st, 1, id);
  bind_text(st, 2, status);
  bind_text(st, 3, error);
  bind_text(st, 4, failed_key);
  store__bind_opt(st, 5, wake_ms);
  sqlite3_bind_int64(st, 6, now_ms);
  sqlite3_bind_int(st, 7, final != 0);
  return exec_stmt(s, st, "updating the run");
}

int store_run_pin_source(store_t *s, const char *id, const char *path,
                         const char *source, const char *sha256,
                         const char *version) {
  sqlite3_stmt *st = stmt(s, Q_RUN_PIN);
  if (!st || begin(s) != STORE_OK) return STORE_ERR;
  bind_text(st, 1, id);
  bind_text(st, 2, path);
  bind_text(st, 3, source);
  bind_text(st, 4, sha256);
  bind_text(st, 5, version);
  return exec_stmt(s, st, "pinning the source");
}

int store_run_set_git(store_t *s, const char *id, const char *git_json) {
  sqlite3_stmt *st = stmt(s, Q_RUN_GIT);
  if (!st || begin(s) != STORE_OK) return STORE_ERR;
  bind_text(st, 1, id);
  bind_text(st, 2, git_json);
  if (exec_stmt(s, st, "recording the git state") != STORE_OK) return STORE_ERR;
  return store_flush(s);
}

int store_run_set_result(store_t *s, const char *id, const char *json) {
  sqlite3_stmt *st = stmt(s, Q_RUN_RESULT_SET);
  if (!st || begin(s) != STORE_OK) return STORE_ERR;
  bind_text(st, 1, id);
  bind_text(st, 2, json);
  return exec_stmt(s, st, "recording the run's result");
}

int store_run_result(store_t *s, const char *id, char **json) {
  sqlite3_stmt *st = stmt(s, Q_RUN_RESULT_GET);
  *json = NULL;
  if (!st) return STORE_ERR;
  bind_text(st, 1, id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *json = col_dup(st, 0);
  sqlite3_reset(st);
  if (rc == SQLITE_DONE) return STORE_NOTFOUND;
  if (rc != SQLITE_ROW) return fail(s, "reading the run's result");
  return STORE_OK;
}

int store_run_list(store_t *s, const char *status, store_run_cb fn,
                   void *ud) {
  sqlite3_stmt *st = stmt(s, status ? Q_RUN_LIST_STATUS : Q_RUN_LIST);
  if (!st) return STORE_ERR;
  if (status) bind_text(st, 1, status);
  int rc, ret = STORE_OK;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    store_run r;
    run_from_row(st, &r);
    ret = fn(ud, &r);
    store_run_free(&r);
    if (ret) break;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(s, "listing runs");
  return ret;
}

/* ---- leases -------------------------------------------------------- */

/* A holder on this host whose pid is gone has died: its lease is void. */
static int holder_alive(int64_t pid, const char *host, const char *myhost) {
  if (pid <= 0) return 0;
  if (!host || strcmp(host, myhost) != 0) return 1; /* trust the expiry */
  return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

int store_lease_acquire(store_t *s, const char *id, int64_t pid,
                        const char *host, int64_t now_ms, int64_t ttl_ms,
                        int64_t *holder_pid, char **holder_host) {
  if (store_flush(s) != STORE_OK) return STORE_ERR;
  /* A new acquisition replaces whatever fence this connection had. */
  fence_disarm(s);
  if (begin(s) != STORE_OK) return STORE_ERR;
  sqlite3_stmt *st = stmt(s, Q_LEASE_GET);
  if (!st) goto error;
  bind_text(st, 1, id);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
      store_flush(s);
      return STORE_NOTFOUND;
    }
    fail(s, "reading the lease");
    goto error;
  }
  int64_t opid = sqlite3_column_int64(st, 0);
  char *ohost = col_dup(st, 1);
  int64_t expires = sqlite3_column_int64(st, 2);
  sqlite3_reset(st);
  if (opid > 0 && opid != pid && expires > now_ms &&
      holder_alive(opid, ohost, host)) {
    *holder_pid = opid;
    *holder_host = ohost;
    store_flush(s);
    return STORE_BUSY;
  }
  free(ohost);
  st = stmt(s, Q_LEASE_SET);
  if (!st) goto error;
  bind_text(st, 1, id);
  sqlite3_bind_int64(st, 2, pid);
  bind_text(st, 3, host);
  sqlite3_bind_int64(st, 4, now_ms + ttl_ms);
  sqlite3_bind_int64(st, 5, now_ms);
  int64_t epoch = 0;
  if (step_epoch(s, st, &epoch) != STORE_OK) goto error;
  /* Armed before the commit: the commit checks the epoch it just set. */
  fence_arm(s, id, epoch);
  return store_flush(s);
error:
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  s->in_txn = 0;
  return STORE_ERR;
}

int store_lease_renew(store_t *s, const char *id, int64_t pid, int64_t now_ms,
                      int64_t ttl_ms) {
  int mine = s->fence_run && !strcmp(s->fence_run, id);
  assert(!mine || s->fence_epoch > 0);
  sqlite3_stmt *st = stmt(s, Q_LEASE_RENEW);
  if (!st) return STORE_ERR;
  int rc = begin(s);
  if (rc != STORE_OK) return rc;
  bind_text(st, 1, id);
  sqlite3_bind_int64(st, 2, pid);
  sqlite3_bind_int64(st, 3, now_ms + ttl_ms);
  sqlite3_bind_int64(st, 4, now_ms);
  if (mine) sqlite3_bind_int64(st, 5, s->fence_epoch);
  if (exec_stmt(s, st, "renewing the lease") != STORE_OK) return STORE_ERR;
  if (sqlite3_changes(s->db) == 0) {
    if (mine) return fence_fail(s);
    /* Not ours to renew: what else is buffered still commits. */
    rc = store_flush(s);
    if (rc != STORE_OK) return rc;
    store__failf(s, "the lease of run %s is not held by pid %lld", id,
                 (long long)pid);
    return STORE_FENCED;
  }
  return store_flush(s);
}

int store_lease_release(store_t *s, const char *id, int64_t pid) {
  sqlite3_stmt *st = stmt(s, Q_LEASE_RELEASE);
  if (!st || begin(s) != STORE_OK) return STORE_ERR;
  bind_text(st, 1, id);
  sqlite3_bind_int64(st, 2, pid);
  return exec_stmt(s, st, "releasing the lease");
}

/* ---- journal ------------------------------------------------------- */

int store_journal_append(store_t *s, const char *run_id, const store_entry *e,
                         int durable) {
  sqlite3_stmt *st = stmt(s, Q_JOURNAL_APPEND);
  if (!st || begin(s) != STORE_OK) return STORE_ERR;
  bind_text(st, 1, run_id);
  bind_text(st, 2, e->key);
  sqlite3_bind_int64(st, 3, e->attempt);
  bind_text(st, 4, e->state);
  bind_text(st, 5, e->kind);
  bind_text(st, 6, e->name);
  bind_text(st, 7, e->args_hash);
  bind_text(st, 8, e->args);
  bind_text(st, 9, e->result);
  bind_text(st, 10, e->error);
  bind_text(st, 11, e->site);
  bind_text(st, 12, e->note);
  sqlite3_bind_int64(st, 13, e->ts_ms);
  if (exec_stmt(s, st, "appending to the journal") != STORE_OK)
    return STORE_ERR;
  return durable ? store_flush(s) : STORE_OK;
}

int64_t store_last_id(store_t *s) { return sqlite3_last_insert_rowid(s->db); }


int store_journal_each(store_t *s, const char *run_id, store_entry_cb fn,
                       void *ud) {
  sqlite3_stmt *st = stmt(s, Q_JOURNAL_EACH);
  if (!st) return STORE_ERR;
  bind_text(st, 1, run_id);
  int rc, ret = STORE_OK;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    store_entry e = {
      .id = sqlite3_column_int64(st, 0),
      .key = col_text(st, 1),
      .attempt = sqlite3_column_int64(st, 2),
      .state = col_text(st, 3),
      .kind = col_text(st, 4),
      .name = col_text(st, 5),
      .args_hash = col_text(st, 6),
      .args = col_text(st, 7),
      .result = col_text(st, 8),
      .error = col_text(st, 9),
      .site = col_text(st, 10),
      .note = col_text(st, 11),
      .ts_ms = sqlite3_column_int64(st, 12),
    };
    ret = fn(ud, &e);
    if (ret) break;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(s, "reading the journal");
  return ret;
}

/* ---- cancellation requests ----------------------------------------- */

int store_run_request_cancel(store_t *s, const char *id, const char *mode) {
  sqlite3_stmt *st = stmt(s, Q_CANCEL_SET);
  if (!st || begin(s) != STORE_OK) return STORE_ERR;
  bind_text(st, 1, id);
  bind_text(st, 2, mode);
  if (exec_stmt(s, st, "requesting the cancel") != STORE_OK) return STORE_ERR;
  return store_flush(s);
}

int store_run_cancel_requested(store_t *s, const char *id, char **mode) {
  sqlite3_stmt *st = stmt(s, Q_CANCEL_GET);
  if (!st) return STORE_ERR;
  bind_text(st, 1, id);
  int rc = sqlite3_step(st);
  *mode = rc == SQLITE_ROW ? col_dup(st, 0) : NULL;
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(s, "reading the run");
  return STORE_OK;
}

/* ---- locks --------------------------------------------------------- */

int store_run_alive(const char *status, int64_t pid, const char *host,
                    int64_t lease_expires_ms, const char *myhost,
                    int64_t now_ms) {
  if (!status) return 0;
  if (!strcmp(status, "suspended") || !strcmp(status, "needs_attention"))
    return 1;
  if (strcmp(status, "running") != 0) return 0;
  return lease_expires_ms > now_ms && holder_alive(pid, host, myhost);
}

int store_lock_acquire(store_t *s, const char *name, const char *run_id,
                       const char *myhost, int64_t now_ms, char **holder) {
  *holder = NULL;
  if (store_flush(s) != STORE_OK || begin(s) != STORE_OK) return STORE_ERR;
  sqlite3_stmt *st = stmt(s, Q_LOCK_GET);
  if (!st) goto error;
  bind_text(st, 1, name);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    char *hrun = col_dup(st, 0);
    const char *status = col_text(st, 1);
    int alive = store_run_alive(status, sqlite3_column_int64(st, 2),
                                col_text(st, 3), sqlite3_column_int64(st, 4),
                                myhost, now_ms);
    sqlite3_reset(st);
    if (alive && strcmp(hrun, run_id) != 0) {
      *holder = hrun;
      store_flush(s);
      return STORE_BUSY;
    }
    free(hrun);
  } else {
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
      fail(s, "reading the lock");
      goto error;
    }
  }
  st = stmt(s, Q_LOCK_SET);
  if (!st) goto error;
  bind_text(st, 1, name);
  bind_text(st, 2, run_id);
  sqlite3_bind_int64(st, 3, now_ms);
  if (exec_stmt(s, st, "taking the lock") != STORE_OK) goto error;
  return store_flush(s);
error:
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  s->in_txn = 0;
  return STORE_ERR;
}

int store_lock_release(store_t *s, const char *name, const char *run_id) {
  sqlite3_stmt *st = stmt(s, name ? Q_LOCK_RELEASE : Q_LOCK_RELEASE_RUN);
  if (!st || begin(s) != STORE_OK) return STORE_ERR;
  if (name) {
    bind_text(st, 1, name);
    bind_text(st, 2, run_id);
  } else {
    bind_text(st, 1, run_id);
  }
  return exec_stmt(s, st, "releasing the lock");
}

int store_lock_list(store_t *s, store_lock_cb fn, void *ud) {
  sqlite3_stmt *st = stmt(s, Q_LOCK_LIST);
  if (!st) return STORE_ERR;
  int rc, ret = STORE_OK;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    store_lock l = {
      .name = col_text(st, 0), .run_id = col_text(st, 1),
      .acquired_ms = sqlite3_column_int64(st, 2), .status = col_text(st, 3),
      .owner_pid = sqlite3_column_int64(st, 4), .owner_host = col_text(st, 5),
      .lease_expires_ms = sqlite3_column_int64(st, 6),
      .runbook = col_text(st, 7),
    };
    if ((ret = fn(ud, &l))) break;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(s, "listing locks");
  return ret;
}
