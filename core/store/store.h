#ifndef SUMMIT_STORE_H
#define SUMMIT_STORE_H
/* The state store: runs, their journals and leases, in one SQLite database
 * (the default) or a team's PostgreSQL database (DESIGN §11).
 *
 * Every SQL statement of summit lives behind this interface (core/store/). It
 * knows nothing of Lua. Writes are batched in one open transaction that
 * store_flush() commits; store_journal_append() with durable=1 commits at
 * once, so a `started` row is on disk before its effect runs and the
 * `completed` row of the previous entry rides along in the same fsync. */

#include <stddef.h>
#include <stdint.h>

typedef struct store store_t;

enum {
  STORE_OK = 0,
  STORE_ERR = -1,      /* see store_errmsg() */
  STORE_NOTFOUND = -2,
  STORE_BUSY = -3,     /* a lease is held by a live owner */
  STORE_FENCED = -4    /* this connection lost the run's lease: the write
                        * was refused and nothing of its transaction was
                        * kept (see store_fenced) */
};

/* How a commit reaches the disk: FULL survives a power cut (the default),
 * PROCESS survives a killed process only (WAL with synchronous=NORMAL). */
typedef enum { STORE_DURABILITY_FULL, STORE_DURABILITY_PROCESS } store_durability;

/* Opens the store at target: a SQLite file path (create != 0: created if
 * missing), or a PostgreSQL libpq URL (postgresql://... or postgres://...,
 * DESIGN §11; the database must exist). Checks that it is a summit
 * database and migrates its schema forward. On failure returns NULL and
 * writes a message naming the store (never a password) into err; nothing
 * in an existing database is changed when it is not summit's. */
store_t *store_open(const char *path, int create, store_durability dur,
                    char *err, size_t errlen);
void store_close(store_t *s);
const char *store_errmsg(store_t *s);
/* The embedded store of state_dir: state_dir/state.db. Which store a
 * command opens ($SUMMIT_STORE, summit.lua's store, or this) is decided in
 * one place, core/engine/storecfg.c. */
void store_target(const char *state_dir, char *out, size_t n);
/* Whether target names a PostgreSQL database rather than a file. */
int store_is_url(const char *target);
/* "sqlite" or "postgresql". */
const char *store_kind(store_t *s);
/* The store as errors name it: the file, or the URL without a password. */
const char *store_name(store_t *s);
/* The schema version this build writes (PRAGMA user_version). */
int store_schema_version(void);
/* The SQL that takes schema version `from` to from + 1, NULL outside
 * 0 .. store_schema_version() - 1: for tests that make a database as an
 * older summit left it. */
const char *store_migration(int from);

/* Commits the open write transaction, if any. */
int store_flush(store_t *s);
/* How many transactions store_flush has committed on s: the engine asks
 * whether anything was committed since a step started (group commit). */
uint64_t store_commits(store_t *s);

/* A run record. Strings are owned by the record (store_run_free). */
typedef struct {
  char *id, *name, *version, *source_path, *source_sha256, *source;
  char *params, *env, *status, *error, *failed_key, *started_by, *owner_host;
  char *rerun_of, *cancel_request, *config_path;
  char *git_commit;    /* the runbook's git work tree at the start: JSON
                        * {commit, branch, dirty, dir} (worktree.c) */
  char *start_sig;     /* summit run --sign: the starter's SSH signature of
                        * approval_start_message(), or NULL */
  char *run_on;        /* summit submit --on: the labels a worker must have
                        * to take the run (JSON object), or NULL: any */
  int64_t created_ms, updated_ms, finished_ms, wake_ms, lease_expires_ms;
  int64_t owner_pid, heartbeat_ms;
} store_run;

void store_run_free(store_run *r);
/* Not committed until store_flush: the run's pinned modules ride in the
 * same commit (one fsync for a new run, not two). */
int store_run_create(store_t *s, const store_run *r);
/* Fills *out (caller frees with store_run_free); STORE_NOTFOUND if absent. */
int store_run_get(store_t *s, const char *id, store_run *out);
/* Sets status, error (JSON or NULL), failed_key and wake_ms (0 = none);
 * finished_ms is set when final != 0. Not committed until store_flush. */
int store_run_set_status(store_t *s, const char *id, const char *status,
                         const char *error, const char *failed_key,
                         int64_t wake_ms, int final, int64_t now_ms);
/* Replaces the pinned source (resume --upgrade). */
int store_run_pin_source(store_t *s, const char *id, const char *path,
                         const char *source, const char *sha256,
                         const char *version);
/* Records the git state of the run's work tree (JSON); committed at once. */
int store_run_set_git(store_t *s, const char *id, const char *git_json);
/* Records what run() returned (redacted JSON text; NULL: none). Not
 * committed until store_flush (it rides with the outcome). */
int store_run_set_result(store_t *s, const char *id, const char *json);
/* *json gets the run's result (caller frees), NULL when it has none;
 * STORE_NOTFOUND when there is no such run. */
int store_run_result(store_t *s, const char *id, char **json);
/* Calls fn for each run, newest first, optionally only those with status. */
typedef int (*store_run_cb)(void *ud, const store_run *r);
int store_run_list(store_t *s, const char *status, store_run_cb fn, void *ud);

/* Leases: one executor per run. Takes the lease for (pid, host) if it is
 * free, expired, or held by a pid on this host that no longer exists.
 * Returns STORE_BUSY with the holder in *holder_pid / holder_host (caller
 * frees) when a live owner has it. Commits at once.
 *
 * Fencing (DESIGN §11, docs/journal.md): each acquisition increments the
 * run's epoch (store_run_create of a run with an owner_pid is its first)
 * and arms this connection with it: from then on every commit of s (its
 * journal, audit, lock and status writes) first checks, inside the same
 * write transaction, that the run is still at that epoch. If another
 * process took the lease since, the whole transaction is rolled back,
 * the call returns STORE_FENCED (or STORE_ERR from a function that does
 * not commit itself) and s is fenced: every later write is refused too.
 * An acquisition, successful or not, replaces the connection's fence. */
int store_lease_acquire(store_t *s, const char *id, int64_t pid,
                        const char *host, int64_t now_ms, int64_t ttl_ms,
                        int64_t *holder_pid, char **holder_host);
/* Extends the lease of pid (at the connection's epoch, if armed for id);
 * commits at once, with whatever is buffered. STORE_FENCED when the lease
 * is no longer pid's at that epoch: it was taken over (s is fenced then),
 * or was never pid's. */
int store_lease_renew(store_t *s, const char *id, int64_t pid,
                      int64_t now_ms, int64_t ttl_ms);
/* The epoch this connection holds (0: not armed). */
int64_t store_fence_epoch(store_t *s);
/* NULL while s holds its lease; once fenced, why (names the run, the pid
 * and host of the newest acquisition, its epoch and the run's status). */
const char *store_fenced(store_t *s);
/* fn(ud) is called once, when s becomes fenced (inside the refused call). */
void store_on_fenced(store_t *s, void (*fn)(void *ud), void *ud);
/* Not committed until store_flush (it rides with the run's last write). */
int store_lease_release(store_t *s, const char *id, int64_t pid);

/* One journal row. The journal is append-only: each state change of an
 * entry (started, completed, failed, skipped) is a new row; the newest row
 * of a key is the entry's state. */
typedef struct {
  int64_t id;
  const char *key, *state, *kind, *name, *args_hash, *args;
  const char *result, *error, *site, *note;
  int64_t attempt, ts_ms;
} store_entry;

/* Appends a row; durable != 0 commits before returning. The row's id
 * (increasing in append order) is then store_last_id(). */
int store_journal_append(store_t *s, const char *run_id, const store_entry *e,
                         int durable);
int64_t store_last_id(store_t *s);
/* Calls fn for every row of the run in append order. Strings are valid only
 * during the call. A non-zero return from fn stops the walk and is returned. */
typedef int (*store_entry_cb)(void *ud, const store_entry *e);
int store_journal_each(store_t *s, const char *run_id, store_entry_cb fn,
                       void *ud);
/* store_journal_each for the rows after the row after_id only (0: all):
 * what a follower that has seen up to after_id needs (summit serve's
 * event streams), read through the (run_id, id) index. */
int store_journal_since(store_t *s, const char *run_id, int64_t after_id,
                        store_entry_cb fn, void *ud);

/* Cancellation: `summit cancel` records mode ("cancel" or "rollback");
 * the run's executor polls for it. Committed at once. */
int store_run_request_cancel(store_t *s, const char *id, const char *mode);
/* *mode gets the pending request (caller frees) or NULL. */
int store_run_cancel_requested(store_t *s, const char *id, char **mode);

/* Whether a run still holds what it took (locks): it is suspended or
 * needs attention (waiting by design), or running with a lease that has
 * not lapsed and an owner that is not known dead. */
int store_run_alive(const char *status, int64_t pid, const char *host,
                    int64_t lease_expires_ms, const char *myhost,
                    int64_t now_ms);

/* Locks, held by runs (not processes). Takes name for run_id unless a run
 * that is alive holds it: then STORE_BUSY and *holder is that run's id
 * (caller frees). A lock of a finished or dead run is taken over. */
int store_lock_acquire(store_t *s, const char *name, const char *run_id,
                       const char *myhost, int64_t now_ms, char **holder);
/* Releases name (or every lock of run_id when name is NULL). Not committed
 * until store_flush. */
int store_lock_release(store_t *s, const char *name, const char *run_id);
typedef struct {
  const char *name, *run_id, *status, *owner_host, *runbook;
  int64_t acquired_ms, owner_pid, lease_expires_ms;
} store_lock;
typedef int (*store_lock_cb)(void *ud, const store_lock *l);
int store_lock_list(store_t *s, store_lock_cb fn, void *ud);

/* ---- the audit trail (audit.c, docs/audit.md) ----------------------- */

/* The prev hash of the first record: 64 zeros. */
extern const char STORE_AUDIT_GENESIS[65];
/* hex(SHA-256(prev_hash "\n" record)) into out. */
void store_audit_hash(const char *prev_hash, const char *record, char out[65]);
/* The canonical JSON of a record (malloc'd): keys in byte order, detail
 * (a JSON object's text, NULL = {}) embedded verbatim. */
char *store_audit_record(int64_t seq, int64_t ts_ms, const char *actor,
                         const char *run_id, const char *action,
                         const char *detail, const char *prev_hash);
/* Appends a record (run_id may be NULL) in the open write transaction;
 * commit != 0 commits at once. Secrets must be removed by the caller. */
int store_audit_append(store_t *s, int64_t ts_ms, const char *actor,
                       const char *run_id, const char *action,
                       const char *detail, int commit);

/* One stored record. Strings are valid only during the callback. */
typedef struct {
  int64_t seq, ts_ms;
  const char *actor, *run_id, *action, *record, *prev_hash, *hash;
} store_audit_row;
typedef int (*store_audit_cb)(void *ud, const store_audit_row *r);
/* Calls fn for each record in seq order: only run_id's (NULL: all) and
 * only those at or after since_ms (0: all). A non-zero return from fn
 * stops the walk and is returned. */
int store_audit_each(store_t *s, const char *run_id, int64_t since_ms,
                     store_audit_cb fn, void *ud);
/* The newest record's seq and hash (0 and the genesis hash if none). */
int store_audit_head(store_t *s, int64_t *seq, char hash[65]);

/* What store_audit_verify found. */
typedef struct {
  int64_t count;          /* records read */
  int64_t head_seq;       /* the last record that verified (0: none) */
  char head[65];          /* its hash (the genesis hash if none) */
  int64_t bad_seq;        /* the first bad record, 0 if the chain holds */
  char reason[512];       /* what is wrong with it */
  /* The stored row found at bad_seq (or just after it, when bad_seq is
   * missing): */
  int64_t bad_row_seq, bad_ts_ms;
  char bad_run[128], bad_action[128];
  int64_t want_head_seq;  /* the record whose hash is want_head (0: none) */
} store_audit_check;
/* Recomputes the whole chain in one read snapshot and stops at the first
 * bad record: a gap in seq (a deleted record), a column that differs from
 * the hashed record text, a prev_hash that is not the previous hash, or a
 * hash that does not match the text. want_head (may be NULL): a hash
 * remembered earlier, looked for among the records that verify. Returns
 * STORE_OK when the walk was done (see c->bad_seq), STORE_ERR if the
 * database could not be read. */
int store_audit_verify(store_t *s, const char *want_head,
                       store_audit_check *c);

/* ---- approval gates (approvals.c, docs/approvals.md) ---------------- */

/* An open wait of a run on an approval gate, joined with its run. Strings
 * are valid only during a callback. */
typedef struct {
  const char *run_id, *wait_key, *gate;
  const char *request;       /* JSON: everything needed to judge decisions */
  int64_t attempt, since_ms;
  int64_t deadline_ms;       /* 0: none (or overdue on a "pause" gate) */
  /* From the run: */
  const char *status, *runbook, *started_by, *owner_host;
  int64_t owner_pid, lease_expires_ms;
} store_wait;
/* Opens the wait (run_id, wait_key) for attempt in the open write
 * transaction (not committed). *opened = 1 when a row was written; a row of
 * the same attempt is kept as it is (a resumed run), one of an older
 * attempt is replaced. */
int store_wait_open(store_t *s, const store_wait *w, int *opened);
/* Deletes the wait (every wait of the run when wait_key is NULL: a run
 * cancelled with no process); not committed until store_flush. */
int store_wait_close(store_t *s, const char *run_id, const char *wait_key);
/* Sets the wait's deadline (0: none); not committed until store_flush. */
int store_wait_set_deadline(store_t *s, const char *run_id,
                            const char *wait_key, int64_t deadline_ms);
typedef int (*store_wait_cb)(void *ud, const store_wait *w);
/* Calls fn for each open wait, oldest first: of run_id, or all (NULL). */
int store_wait_list(store_t *s, const char *run_id, store_wait_cb fn,
                    void *ud);

/* A decision on a gate. Strings are valid only during a callback. */
typedef struct {
  int64_t id, attempt, ts_ms;
  const char *run_id, *wait_key, *gate, *actor;
  const char *decision;      /* "approve" or "reject" */
  const char *comment;       /* may be NULL */
  const char *bind;          /* canonical JSON of the values approved */
  const char *signature;     /* armored SSH signature, or NULL */
} store_approval;
typedef int (*store_approval_cb)(void *ud, const store_approval *a);
/* Records a decision (a->id is ignored); commit != 0 commits at once. */
int store_approval_add(store_t *s, const store_approval *a, int commit);
/* Calls fn for each decision on (run_id, wait_key, attempt) with an id
 * above after_id, oldest first. */
int store_approval_list(store_t *s, const char *run_id, const char *wait_key,
                        int64_t attempt, int64_t after_id,
                        store_approval_cb fn, void *ud);
/* Calls fn for every decision of a run, oldest first (provenance). */
int store_approval_each(store_t *s, const char *run_id, store_approval_cb fn,
                        void *ud);

/* ---- schedules and the daemon (schedules.c, docs/schedules.md) ------ */

/* A schedule. Strings are valid only during a callback (or owned by the
 * caller when passed in). */
typedef struct {
  const char *name, *cron, *tz, *runbook;
  const char *params;        /* JSON object of the -p key=value strings */
  const char *env, *config_path, *dir;  /* dir: where it was added */
  const char *missed;        /* "skip" or "run-once" */
  const char *created_by;
  int paused;
  int64_t created_ms, next_fire_ms, last_fire_ms;  /* 0: none */
  const char *last_run;      /* the newest run a fire started, or NULL */
  const char *last_status;   /* what the daemon noted last: "started",
                              * "skipped", "succeeded", "failed", ... */
  const char *last_note;     /* why (a skip's reason, an exit code) */
  int64_t consecutive_failures;  /* runs that ended badly in a row */
  const char *last_run_status;   /* the last run's status now (runs) */
} store_schedule;
typedef int (*store_schedule_cb)(void *ud, const store_schedule *s);

/* Adds a schedule (committed at once); STORE_BUSY if the name exists. */
int store_schedule_add(store_t *s, const store_schedule *sc);
/* Removes it; STORE_NOTFOUND if there is none. Its runs keep its name. */
int store_schedule_remove(store_t *s, const char *name);
/* Pauses (paused != 0) or resumes it; a resumed schedule fires next at
 * next_fire_ms (computed by the caller from now). STORE_NOTFOUND. */
int store_schedule_set_paused(store_t *s, const char *name, int paused,
                              int64_t next_fire_ms);
/* Calls fn with the schedule (STORE_NOTFOUND if none). This is what the
 * notification code reads (consecutive_failures). */
int store_schedule_get(store_t *s, const char *name, store_schedule_cb fn,
                       void *ud);
/* Calls fn for each schedule, by name. */
int store_schedule_list(store_t *s, store_schedule_cb fn, void *ud);

/* The claim on a fire: moves next_fire_ms from seen_next to next (and
 * last_fire_ms to fired when fired != 0) only if it still is seen_next and
 * the schedule is not paused. *won = 1 for the one caller that moved it;
 * two daemons never both win the same fire. Committed at once. */
int store_schedule_claim(store_t *s, const char *name, int64_t seen_next,
                         int64_t next, int64_t fired, int *won);
/* Notes the daemon's last word on a schedule (status, note may be NULL).
 * Committed at once. */
int store_schedule_note(store_t *s, const char *name, const char *status,
                        const char *note);
/* A run was started for the fire at fire_ms: the run records the
 * schedule and the fire (one run per fire: STORE_BUSY if the fire already
 * has a run) and the schedule its last run. Committed at once. */
int store_schedule_run_started(store_t *s, const char *name,
                               int64_t fire_ms, const char *run_id);
/* A run of the schedule ended with status: ok != 0 resets
 * consecutive_failures, else adds one; *failures (may be NULL) gets the
 * new count. Committed at once. */
int store_schedule_run_ended(store_t *s, const char *name, const char *status,
                             int ok, int64_t *failures);
/* *run_id (caller frees) gets a run of the schedule that has not ended
 * (running, suspended, needs_attention, interrupted), or NULL. */
int store_schedule_active_run(store_t *s, const char *name, char **run_id);
/* The run started for (name, fire_ms): *run_id (caller frees) or NULL. */
int store_schedule_fire_run(store_t *s, const char *name, int64_t fire_ms,
                            char **run_id);

/* A run the daemon may have to continue. Strings valid during the call. */
typedef struct {
  const char *id, *status, *schedule, *owner_host;
  const char *why;           /* "wake" (its sleep is over), "approval" (a
                              * decision came after it suspended), "orphan"
                              * (running; the caller checks the owner),
                              * "restart" (the daemon's stop interrupted it) */
  const char *run_on;        /* the labels a worker must have (JSON), or
                              * NULL: any daemon may continue it */
  int64_t updated_ms, owner_pid, lease_expires_ms;
} store_pending;
typedef int (*store_pending_cb)(void *ud, const store_pending *p);
/* Calls fn for each run that may need the daemon at now_ms and has no
 * claim newer than stale_ms. */
int store_daemon_pending(store_t *s, int64_t now_ms, int64_t stale_ms,
                         store_pending_cb fn, void *ud);
/* Claims run id for by (a daemon) if it is still as seen (updated_ms) and
 * no claim newer than stale_ms holds it: *won = 1 for one caller only.
 * Committed at once. */
int store_daemon_claim(store_t *s, const char *id, int64_t seen_updated_ms,
                       int64_t now_ms, int64_t stale_ms, const char *by,
                       int *won);
/* Drops by's claim on id; restart != 0 marks the run to be resumed when a
 * daemon starts again (its stop interrupted the run). Committed at once. */
int store_daemon_release(store_t *s, const char *id, const char *by,
                         int restart);
/* The schedule of run id: *name (caller frees) or NULL. */
int store_run_schedule(store_t *s, const char *id, char **name);

/* ---- the queue of submitted runs (queue.c, docs/workers.md) --------- */

/* A run waiting for a worker. Strings are valid only during the call. */
typedef struct {
  const char *id;
  const char *run_on;        /* JSON object of required labels, or NULL */
  int64_t created_ms;
} store_queued;
typedef int (*store_queued_cb)(void *ud, const store_queued *q);
/* Calls fn for each queued run, oldest first, that no claim newer than
 * stale_ms holds. A nonzero return from fn stops the walk. */
int store_queue_list(store_t *s, int64_t stale_ms, store_queued_cb fn,
                     void *ud);
/* Claims queued run id for by (a worker) if it is still queued and no
 * claim newer than stale_ms holds it: *won = 1 for one caller only.
 * Committed at once. store_daemon_release drops the claim. */
int store_queue_claim(store_t *s, const char *id, int64_t now_ms,
                      int64_t stale_ms, const char *by, int *won);

/* ---- notifications (notify.c, docs/notifications.md) ----------------- */

/* *failed gets how many runs of schedule name started before run_id
 * ended badly (failed, rolled_back, cancelled) in a row, back to the
 * newest that succeeded: the streak run_id extends if it fails too. */
int store_schedule_streak(store_t *s, const char *name, const char *run_id,
                          int64_t *failed);

/* ---- the closure a run pins (pins.c, DESIGN §14) ---------------------- */

/* A module source a run loaded: its require name, the file it came from
 * (as summit names it, e.g. stdlib/summit/canary.lua) and its SHA-256. */
typedef struct {
  const char *name, *path, *sha256;
} store_module;

/* Pins module name of run id to text (stored once by its sha256); a pin
 * of the same name is replaced. Not committed until store_flush. */
int store_module_pin(store_t *s, const char *id, const char *name,
                     const char *path, const char *sha256, const char *text);
/* Drops every module pin of run id (resume --upgrade re-pins them). */
int store_module_clear(store_t *s, const char *id);
/* Calls fn for each module pinned by run id, by name; a nonzero return
 * stops and is returned. */
typedef int (*store_module_cb)(void *ud, const store_module *m);
int store_module_each(store_t *s, const char *id, store_module_cb fn,
                      void *ud);
/* *text (caller frees) gets the source stored under sha256;
 * STORE_NOTFOUND if none. */
int store_source_get(store_t *s, const char *sha256, char **text);
/* Records summit's version as the run's (once: a later call keeps the
 * first). Not committed until store_flush. */
int store_run_set_summit_version(store_t *s, const char *id,
                                 const char *version);
/* *version (caller frees) gets summit's version when run id started,
 * NULL for a run from before schema 6. */
int store_run_summit_version(store_t *s, const char *id, char **version);

/* ---- copying a state (migrate.c, `summit store migrate`) ------------- */

/* fn(ud, table, rows) after each table is copied. */
typedef void (*store_copy_cb)(void *ud, const char *table, int64_t rows);
/* Copies every row of from into to, which must be empty, in one
 * transaction of to: all of it or nothing. */
int store_copy(store_t *from, store_t *to, store_copy_cb fn, void *ud,
               char *err, size_t errlen);

/* ---- API tokens of summit serve (tokens.c, docs/serve.md) ---------- */

/* A token: hash is hex(SHA-256(token)); the token itself is never
 * stored. Times in ms (0: none). Strings valid only during a callback. */
typedef struct {
  const char *name, *role, *hash, *created_by;
  int64_t created_ms, expires_ms, revoked_ms;
} store_token;
typedef int (*store_token_cb)(void *ud, const store_token *t);
/* Adds t; committed at once. STORE_BUSY (message set) if the name is
 * taken, even by a revoked token. */
int store_token_add(store_t *s, const store_token *t);
/* Calls fn for every token (revoked and expired ones too), by name. A
 * non-zero return from fn stops the walk and is returned. */
int store_token_list(store_t *s, store_token_cb fn, void *ud);
/* Marks the token revoked at now_ms; committed at once. STORE_NOTFOUND if
 * there is no such token or it was revoked already. */
int store_token_revoke(store_t *s, const char *name, int64_t now_ms);

#endif
