/* The schema of both backends, in one place.
 *
 * SQLite: MIGRATIONS[v] takes user_version v to v + 1. A released one
 * never changes (databases out there were made by it): a new schema is a
 * new migration at the end, written for both backends.
 *
 * PostgreSQL came at version 7: PG_BASE creates that schema in one script,
 * with the same tables and columns in PostgreSQL's types (BIGINT for
 * milliseconds, identity columns for SQLite's INTEGER PRIMARY KEY, a
 * trigger function for the append-only audit table). A migration after 7
 * is a pair: PG_MIGRATIONS[v - 7] is MIGRATIONS[v] in PostgreSQL's SQL. */
#include "store/backend.h"

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
  /* 7 -> 8: workers (DESIGN §11, queue.c): the labels a worker must have
   * to take a run submitted with `summit submit --on` (a JSON object;
   * NULL: any worker). */
  "ALTER TABLE runs ADD COLUMN run_on TEXT;",
  /* 8 -> 9: the API tokens of summit serve (DESIGN §12, tokens.c): only
   * each token's SHA-256 is kept. */
  "CREATE TABLE tokens("
  "  name TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL,"
  "  created_ms INTEGER NOT NULL, expires_ms INTEGER, revoked_ms INTEGER,"
  "  created_by TEXT);",
};
#define NMIGRATIONS ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))

/* Version 7 in PostgreSQL. The schema_version table stands for SQLite's
 * PRAGMA user_version (pg.c). */
static const char PG_BASE_SQL[] =
  "CREATE TABLE summit_schema(version INTEGER NOT NULL);"
  "CREATE TABLE runs("
  "  id TEXT PRIMARY KEY,"
  "  name TEXT NOT NULL, version TEXT,"
  "  source_path TEXT NOT NULL, source_sha256 TEXT NOT NULL,"
  "  source TEXT NOT NULL, params TEXT NOT NULL, env TEXT,"
  "  status TEXT NOT NULL, error TEXT, failed_key TEXT,"
  "  started_by TEXT, rerun_of TEXT,"
  "  created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL,"
  "  finished_ms BIGINT, wake_ms BIGINT,"
  "  owner_pid BIGINT, owner_host TEXT, lease_expires_ms BIGINT,"
  "  cancel_request TEXT, heartbeat_ms BIGINT, config_path TEXT,"
  "  git_commit TEXT,"
  "  schedule TEXT, fire_ms BIGINT, claim_ms BIGINT, claim_by TEXT,"
  "  daemon_resume BIGINT,"
  "  epoch BIGINT NOT NULL DEFAULT 0, epoch_pid BIGINT, epoch_host TEXT,"
  "  start_sig TEXT, summit_version TEXT, result TEXT);"
  "CREATE INDEX runs_status ON runs(status, id);"
  "CREATE UNIQUE INDEX runs_fire ON runs(schedule, fire_ms);"
  "CREATE TABLE journal("
  "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
  "  run_id TEXT NOT NULL REFERENCES runs(id),"
  "  key TEXT NOT NULL, attempt BIGINT NOT NULL, state TEXT NOT NULL,"
  "  kind TEXT NOT NULL, name TEXT, args_hash TEXT, args TEXT,"
  "  result TEXT, error TEXT, site TEXT, note TEXT,"
  "  ts_ms BIGINT NOT NULL);"
  "CREATE INDEX journal_run ON journal(run_id, id);"
  "CREATE TABLE locks("
  "  name TEXT PRIMARY KEY,"
  "  run_id TEXT NOT NULL REFERENCES runs(id),"
  "  acquired_ms BIGINT NOT NULL);"
  "CREATE TABLE audit("
  "  seq BIGINT PRIMARY KEY,"
  "  ts_ms BIGINT NOT NULL, actor TEXT NOT NULL, run_id TEXT,"
  "  action TEXT NOT NULL, record TEXT NOT NULL,"
  "  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
  "CREATE FUNCTION summit_audit_append_only() RETURNS trigger"
  "  LANGUAGE plpgsql AS $$ BEGIN"
  "  RAISE EXCEPTION 'the audit trail is append-only'; END $$;"
  "CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit"
  "  FOR EACH ROW EXECUTE FUNCTION summit_audit_append_only();"
  "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
  "  FOR EACH STATEMENT EXECUTE FUNCTION summit_audit_append_only();"
  "CREATE TABLE waits("
  "  run_id TEXT NOT NULL REFERENCES runs(id),"
  "  wait_key TEXT NOT NULL, attempt BIGINT NOT NULL, gate TEXT NOT NULL,"
  "  request TEXT NOT NULL, since_ms BIGINT NOT NULL, deadline_ms BIGINT,"
  "  PRIMARY KEY(run_id, wait_key));"
  "CREATE TABLE approvals("
  "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
  "  run_id TEXT NOT NULL REFERENCES runs(id),"
  "  wait_key TEXT NOT NULL, attempt BIGINT NOT NULL, gate TEXT NOT NULL,"
  "  actor TEXT NOT NULL, decision TEXT NOT NULL, comment TEXT,"
  "  bind TEXT, signature TEXT, ts_ms BIGINT NOT NULL);"
  "CREATE INDEX approvals_run ON approvals(run_id, wait_key, id);"
  "CREATE TABLE schedules("
  "  name TEXT PRIMARY KEY, cron TEXT NOT NULL, tz TEXT NOT NULL,"
  "  runbook TEXT NOT NULL, params TEXT NOT NULL, env TEXT,"
  "  config_path TEXT, dir TEXT, missed TEXT NOT NULL,"
  "  paused BIGINT NOT NULL DEFAULT 0,"
  "  created_by TEXT, created_ms BIGINT NOT NULL,"
  "  next_fire_ms BIGINT, last_fire_ms BIGINT, last_run TEXT,"
  "  last_status TEXT, last_note TEXT,"
  "  consecutive_failures BIGINT NOT NULL DEFAULT 0);"
  "CREATE TABLE sources("
  "  sha256 TEXT PRIMARY KEY, text TEXT NOT NULL);"
  "CREATE TABLE run_modules("
  "  run_id TEXT NOT NULL REFERENCES runs(id),"
  "  name TEXT NOT NULL, path TEXT,"
  "  sha256 TEXT NOT NULL REFERENCES sources(sha256),"
  "  PRIMARY KEY(run_id, name));"
  /* The fence of a commit (pg.c commit_fenced): raises when the run is not
   * at the epoch the committing process holds, so the COMMIT sent with it
   * in one round trip is not carried out. */
  "CREATE FUNCTION summit_fence(run TEXT, want BIGINT) RETURNS void"
  "  LANGUAGE plpgsql AS $$ BEGIN"
  "  IF NOT EXISTS (SELECT 1 FROM runs WHERE id = run AND epoch = want) THEN"
  "    RAISE EXCEPTION 'the lease of run % was lost', run"
  "      USING ERRCODE = 'SF001';"
  "  END IF; END $$;"
  "INSERT INTO summit_schema(version) VALUES(7);";
#define PG_BASE 7

/* PG_MIGRATIONS[i] takes PostgreSQL from PG_BASE + i to PG_BASE + i + 1:
 * MIGRATIONS[PG_BASE + i] in PostgreSQL's SQL. A NULL ends the list. */
static const char *const PG_MIGRATIONS[] = {
  /* 7 -> 8 */
  "ALTER TABLE runs ADD COLUMN run_on TEXT;"
  "UPDATE summit_schema SET version = 8;",
  /* 8 -> 9 */
  "CREATE TABLE tokens("
  "  name TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL,"
  "  created_ms BIGINT NOT NULL, expires_ms BIGINT, revoked_ms BIGINT,"
  "  created_by TEXT);"
  "UPDATE summit_schema SET version = 9;",
  NULL};
#define NPG ((int)(sizeof PG_MIGRATIONS / sizeof PG_MIGRATIONS[0]) - 1)

_Static_assert(PG_BASE + NPG == NMIGRATIONS,
               "each schema migration needs its PostgreSQL form");

int store_schema_version(void) { return NMIGRATIONS; }

const char *store_migration(int from) {
  return from >= 0 && from < NMIGRATIONS ? MIGRATIONS[from] : NULL;
}

const char *store__pg_migration(int from) {
  if (from == 0) return PG_BASE_SQL;
  if (from >= PG_BASE && from < NMIGRATIONS) return PG_MIGRATIONS[from - PG_BASE];
  return NULL;
}
