/* The SQLite backend: the embedded default, one file in the state
 * directory. WAL mode lets `summit status` read while a run writes;
 * statements are prepared once per connection and reused. */
#include <assert.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/backend.h"

#define DB(s) ((sqlite3 *)(s)->db)
#define ST(q) ((sqlite3_stmt *)(q)->h)

static int migrate(store_t *s, int from) {
  char *msg = NULL;
  if (sqlite3_exec(DB(s), "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
    goto error;
  /* Read again inside the lock: another process may have migrated. */
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(DB(s), "PRAGMA user_version", -1, &st, NULL) !=
      SQLITE_OK)
    goto error;
  if (sqlite3_step(st) == SQLITE_ROW) from = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  for (int v = from; v < store_schema_version(); v++) {
    char pragma[64];
    if (sqlite3_exec(DB(s), store_migration(v), NULL, NULL, &msg) !=
        SQLITE_OK)
      goto error;
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
    if (sqlite3_exec(DB(s), pragma, NULL, NULL, &msg) != SQLITE_OK)
      goto error;
  }
  if (sqlite3_exec(DB(s), "COMMIT", NULL, NULL, &msg) != SQLITE_OK) goto error;
  return STORE_OK;
error:
  snprintf(s->err, sizeof s->err, "migrating the schema: %s",
           msg ? msg : sqlite3_errmsg(DB(s)));
  sqlite3_free(msg);
  sqlite3_exec(DB(s), "ROLLBACK", NULL, NULL, NULL);
  return STORE_ERR;
}

/* The schema version, or -1 (err written) if the file cannot be read or
 * is someone else's database. */
static int read_version(store_t *s, const char *path, char *err,
                        size_t errlen) {
  /* Read before writing anything, so a file that is not a database (or
   * not ours) is reported and left untouched. */
  sqlite3_stmt *st = NULL;
  int version = -1;
  if (sqlite3_prepare_v2(DB(s), "PRAGMA user_version", -1, &st, NULL) ==
          SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  if (version < 0) {
    snprintf(err, errlen,
             "state database %s cannot be read: %s (nothing was changed)",
             path, sqlite3_errmsg(DB(s)));
    return -1;
  }
  if (version > store_schema_version()) {
    snprintf(err, errlen,
             "state database %s has schema version %d, newer than this "
             "summit understands (%d); upgrade summit",
             path, version, store_schema_version());
    return -1;
  }
  if (version == 0) {
    /* A version-0 file with tables of its own is someone else's database. */
    int foreign = 0;
    if (sqlite3_prepare_v2(DB(s), "SELECT count(*) FROM sqlite_master", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      foreign = sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    if (foreign) {
      snprintf(err, errlen,
               "state database %s is a SQLite database but not summit's "
               "(it has tables and no summit schema version); nothing was "
               "changed", path);
      return -1;
    }
  }
  return version;
}

static int lite_open(store_t *s, const char *path, int create,
                     store_durability dur, char *err, size_t errlen) {
  if (!(s->path = strdup(path))) {
    snprintf(err, errlen, "%s: out of memory", path);
    return STORE_ERR;
  }
  sqlite3 *db = NULL;
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path, &db, flags, NULL);
  s->db = db;
  if (rc != SQLITE_OK) {
    snprintf(err, errlen, "cannot open state database %s: %s", path,
             db ? sqlite3_errmsg(db) : "out of memory");
    goto error;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 10000);
  int version = read_version(s, path, err, errlen);
  if (version < 0) goto error;
  const char *sync = dur == STORE_DURABILITY_FULL ? "PRAGMA synchronous=FULL"
                                                 : "PRAGMA synchronous=NORMAL";
  char *msg = NULL;
  if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, &msg) !=
          SQLITE_OK ||
      sqlite3_exec(db, sync, NULL, NULL, &msg) != SQLITE_OK ||
      sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, &msg) !=
          SQLITE_OK) {
    snprintf(err, errlen, "state database %s: %s", path,
             msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    goto error;
  }
  if (version < store_schema_version() && migrate(s, version) != STORE_OK) {
    snprintf(err, errlen, "state database %s: %s", path, s->err);
    goto error;
  }
  s->migrated = version < store_schema_version();
  return STORE_OK;
error:
  sqlite3_close(db);
  s->db = NULL;
  return STORE_ERR;
}

/* The WAL size under which the last connection to close leaves the WAL
 * for the next process instead of checkpointing it into the database.
 * The checkpoint on close costs 2 fsyncs, and a new WAL one more for its
 * header: 3 of a one-step run's 7. The next process instead reads the
 * kept frames to rebuild the WAL index, ~5,000 instructions a frame: a
 * one-step run leaves ~15 frames (60 KB), so at most a few runs' worth is
 * read before one of them checkpoints (docs/performance.md). */
#define KEEP_WAL_MAX_BYTES (256 * 1024)

static int keep_wal(store_t *s) {
  /* A database this process created or migrated is checkpointed: its file
   * then holds the schema on its own (as a copy of state.db alone, or a
   * test that edits its pages, expects). */
  if (s->migrated) return 0;
  const char *wal = sqlite3_filename_wal(sqlite3_db_filename(DB(s), "main"));
  struct stat st;
  return wal && stat(wal, &st) == 0 && st.st_size < KEEP_WAL_MAX_BYTES;
}

static void lite_close(store_t *s) {
  if (DB(s) && keep_wal(s))
    sqlite3_db_config(DB(s), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
  sqlite3_close(DB(s));
}

static int run(store_t *s, const char *sql) {
  return sqlite3_exec(DB(s), sql, NULL, NULL, NULL) == SQLITE_OK ? STORE_OK
                                                                 : STORE_ERR;
}

static int lite_begin(store_t *s) {
  if (run(s, "BEGIN IMMEDIATE") != STORE_OK) return STORE_ERR;
  assert(sqlite3_get_autocommit(DB(s)) == 0);
  return STORE_OK;
}

static int lite_commit(store_t *s) { return run(s, "COMMIT"); }

static void lite_rollback(store_t *s) {
  if (!sqlite3_get_autocommit(DB(s))) run(s, "ROLLBACK");
}

static const char *lite_errmsg(store_t *s) { return sqlite3_errmsg(DB(s)); }

static const char *lite_hint(store_t *s) {
  /* BUSY after the whole busy timeout: some process has kept the write lock
   * for 10 s, most likely one stopped (SIGSTOP, a paused VM) inside a
   * transaction. Say so: nothing but that process can release it. */
  if ((sqlite3_errcode(DB(s)) & 0xff) != SQLITE_BUSY) return "";
  return " (another process has held its write lock for 10 s; a stopped "
         "summit process keeps it until it is continued or killed)";
}

static int lite_constraint(store_t *s) {
  return (sqlite3_errcode(DB(s)) & 0xff) == SQLITE_CONSTRAINT;
}

static int lite_prepare(store_q *q, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v3(DB(q->s), sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
                         NULL) != SQLITE_OK)
    return STORE_ERR;
  q->h = st;
  return STORE_OK;
}

static void lite_finalize(store_q *q) {
  sqlite3_finalize(ST(q));
  q->h = NULL;
}

static void lite_bind_text(store_q *q, int i, const char *v) {
  if (v) sqlite3_bind_text(ST(q), i, v, -1, SQLITE_STATIC);
  else sqlite3_bind_null(ST(q), i);
}

static void lite_bind_int64(store_q *q, int i, int64_t v) {
  sqlite3_bind_int64(ST(q), i, v);
}

static int lite_step(store_q *q) {
  int rc = sqlite3_step(ST(q));
  if (rc == SQLITE_ROW) return STORE_ROW;
  if (rc == SQLITE_DONE) {
    q->s->changes = sqlite3_changes(DB(q->s));
    return STORE_DONE;
  }
  return STORE_ERR;
}

static const char *lite_col_text(store_q *q, int i) {
  return (const char *)sqlite3_column_text(ST(q), i);
}

static int64_t lite_col_int64(store_q *q, int i) {
  return sqlite3_column_int64(ST(q), i);
}

static int lite_col_null(store_q *q, int i) {
  return sqlite3_column_type(ST(q), i) == SQLITE_NULL;
}

static int lite_col_count(store_q *q) { return sqlite3_column_count(ST(q)); }

static void lite_reset(store_q *q) {
  sqlite3_reset(ST(q));
  sqlite3_clear_bindings(ST(q));
}

const store_backend store_lite = {
  .kind = "sqlite",
  .open = lite_open, .close = lite_close,
  .begin = lite_begin, .commit = lite_commit, .rollback = lite_rollback,
  .errmsg = lite_errmsg, .hint = lite_hint, .constraint = lite_constraint,
  .prepare = lite_prepare, .finalize = lite_finalize,
  .bind_text = lite_bind_text, .bind_int64 = lite_bind_int64,
  .step = lite_step, .col_text = lite_col_text, .col_int64 = lite_col_int64,
  .col_null = lite_col_null, .col_count = lite_col_count,
  .reset = lite_reset,
};
