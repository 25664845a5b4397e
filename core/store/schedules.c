/* Schedules and the daemon's claims (docs/schedules.md, docs/daemon.md).
 *
 * Two daemons may share one state directory. Each decision that must be
 * taken once is a conditional UPDATE committed at once: a fire is claimed
 * by moving next_fire_ms from the value the daemon read to the next one
 * (whoever moves it first won; the other matches no row), and a run to
 * resume is claimed by setting claim_ms on the row as it was read
 * (updated_ms) when no fresh claim is there. A run records the fire it was
 * started for under a unique index, so even a lost race cannot give a
 * fire two runs. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

static const char *const SQL_ADD =
    "INSERT INTO schedules(name, cron, tz, runbook, params, env, config_path,"
    " dir, missed, paused, created_by, created_ms, next_fire_ms)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
static const char *const SQL_REMOVE = "DELETE FROM schedules WHERE name = ?1";
static const char *const SQL_PAUSE =
    "UPDATE schedules SET paused = ?2,"
    " next_fire_ms = CASE WHEN CAST(?2 AS BIGINT) <> 0 THEN next_fire_ms ELSE ?3 END"
    " WHERE name = ?1";
#define SCHED_COLS                                                        \
  "s.name, s.cron, s.tz, s.runbook, s.params, s.env, s.config_path,"      \
  " s.dir, s.missed, s.paused, s.created_by, s.created_ms,"               \
  " s.next_fire_ms, s.last_fire_ms, s.last_run, s.last_status,"           \
  " s.last_note, s.consecutive_failures, r.status"
/* ?1 NULL: every schedule. */
static const char *const SQL_LIST =
    "SELECT " SCHED_COLS " FROM schedules s LEFT JOIN runs r"
    " ON r.id = s.last_run WHERE CAST(?1 AS TEXT) IS NULL OR s.name = ?1 ORDER BY s.name";
static const char *const SQL_CLAIM =
    "UPDATE schedules SET next_fire_ms = ?3,"
    " last_fire_ms = CASE WHEN CAST(?4 AS BIGINT) <> 0 THEN ?4 ELSE last_fire_ms END"
    " WHERE name = ?1 AND next_fire_ms = ?2 AND paused = 0";
static const char *const SQL_NOTE =
    "UPDATE schedules SET last_status = ?2, last_note = ?3 WHERE name = ?1";
static const char *const SQL_RUN_MARK =
    "UPDATE runs SET schedule = ?2, fire_ms = ?3 WHERE id = ?1";
static const char *const SQL_RUN_LAST =
    "UPDATE schedules SET last_run = ?2, last_status = 'started',"
    " last_note = NULL WHERE name = ?1";
static const char *const SQL_ENDED =
    "UPDATE schedules SET last_status = ?2, consecutive_failures ="
    " CASE WHEN CAST(?3 AS BIGINT) <> 0 THEN 0 ELSE consecutive_failures + 1 END"
    " WHERE name = ?1 RETURNING consecutive_failures";
static const char *const SQL_ACTIVE =
    "SELECT id FROM runs WHERE schedule = ?1 AND status IN ('running',"
    " 'suspended', 'needs_attention', 'interrupted') ORDER BY created_ms"
    " DESC LIMIT 1";
static const char *const SQL_FIRE_RUN =
    "SELECT id FROM runs WHERE schedule = ?1 AND fire_ms = ?2";
static const char *const SQL_P_LIST =
    "SELECT id, status, schedule, owner_host, updated_ms, owner_pid,"
    " lease_expires_ms, CASE"
    "  WHEN status = 'suspended' AND wake_ms IS NOT NULL AND wake_ms <= ?1"
    "   THEN 'wake'"
    "  WHEN status = 'suspended' AND EXISTS(SELECT 1 FROM approvals a"
    "   WHERE a.run_id = runs.id AND a.ts_ms >= runs.updated_ms)"
    "   THEN 'approval'"
    "  WHEN status = 'running' THEN 'orphan'"
    "  WHEN status = 'interrupted' AND daemon_resume = 1 THEN 'restart'"
    " END AS why, run_on FROM runs"
    " WHERE status IN ('suspended', 'running', 'interrupted')"
    " AND (claim_ms IS NULL OR claim_ms < ?2) ORDER BY created_ms";
static const char *const SQL_P_CLAIM =
    "UPDATE runs SET claim_ms = ?3, claim_by = ?4, daemon_resume = NULL"
    " WHERE id = ?1 AND updated_ms = ?2"
    " AND (claim_ms IS NULL OR claim_ms < ?5)";
static const char *const SQL_P_RELEASE =
    "UPDATE runs SET"
    " claim_ms = CASE WHEN claim_by = ?2 THEN NULL ELSE claim_ms END,"
    " claim_by = CASE WHEN claim_by = ?2 THEN NULL ELSE claim_by END,"
    " daemon_resume = CASE WHEN CAST(?3 AS BIGINT) <> 0 THEN 1 ELSE daemon_resume END"
    " WHERE id = ?1";
static const char *const SQL_R_SCHEDULE =
    "SELECT schedule FROM runs WHERE id = ?1";

/* Runs st (one write) and commits at once; *changed gets the rows it
 * changed (may be NULL). */
static int write_now(store_t *s, store_q *st, const char *what,
                     int *changed) {
  if (store__begin(s) != STORE_OK) return STORE_ERR;
  if (store__exec(s, st, what) != STORE_OK) {
    store__rollback(s);
    return STORE_ERR;
  }
  if (changed) *changed = store__changes(s);
  return store_flush(s);
}

/* write_now for a write to the schedule named in st: STORE_NOTFOUND when
 * there is none. */
static int write_named(store_t *s, store_q *st, const char *what) {
  int n = 0;
  if (write_now(s, st, what, &n) != STORE_OK) return STORE_ERR;
  return n ? STORE_OK : STORE_NOTFOUND;
}

int store_schedule_add(store_t *s, const store_schedule *sc) {
  if (store__begin(s) != STORE_OK) return STORE_ERR;
  store_q *st = store__stmt(s, S_ADD, SQL_ADD);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, sc->name);
  store__bind_text(st, 2, sc->cron);
  store__bind_text(st, 3, sc->tz ? sc->tz : "UTC");
  store__bind_text(st, 4, sc->runbook);
  store__bind_text(st, 5, sc->params ? sc->params : "{}");
  store__bind_text(st, 6, sc->env);
  store__bind_text(st, 7, sc->config_path);
  store__bind_text(st, 8, sc->dir);
  store__bind_text(st, 9, sc->missed ? sc->missed : "skip");
  store__bind_int64(st, 10, sc->paused != 0);
  store__bind_text(st, 11, sc->created_by);
  store__bind_int64(st, 12, sc->created_ms);
  store__bind_opt(st, 13, sc->next_fire_ms);
  int rc = store__step(st);
  store__reset(st);
  if (rc == STORE_ERR && store__constraint(s)) {
    store__rollback(s);
    store__failf(s, "a schedule named '%s' exists", sc->name);
    return STORE_BUSY;
  }
  if (rc != STORE_DONE) {
    store__fail(s, "adding a schedule");
    store__rollback(s);
    return STORE_ERR;
  }
  return store_flush(s);
}

int store_schedule_remove(store_t *s, const char *name) {
  store_q *st = store__stmt(s, S_REMOVE, SQL_REMOVE);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, name);
  return write_named(s, st, "removing a schedule");
}

int store_schedule_set_paused(store_t *s, const char *name, int paused,
                              int64_t next_fire_ms) {
  store_q *st = store__stmt(s, S_PAUSE, SQL_PAUSE);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, name);
  store__bind_int64(st, 2, paused != 0);
  store__bind_opt(st, 3, next_fire_ms);
  return write_named(s, st, "pausing a schedule");
}

static void from_row(store_q *st, store_schedule *sc) {
  memset(sc, 0, sizeof *sc);
  sc->name = store__col_text(st, 0);
  sc->cron = store__col_text(st, 1);
  sc->tz = store__col_text(st, 2);
  sc->runbook = store__col_text(st, 3);
  sc->params = store__col_text(st, 4);
  sc->env = store__col_text(st, 5);
  sc->config_path = store__col_text(st, 6);
  sc->dir = store__col_text(st, 7);
  sc->missed = store__col_text(st, 8);
  sc->paused = (int)store__col_int64(st, 9);
  sc->created_by = store__col_text(st, 10);
  sc->created_ms = store__col_int64(st, 11);
  sc->next_fire_ms = store__col_int64(st, 12);
  sc->last_fire_ms = store__col_int64(st, 13);
  sc->last_run = store__col_text(st, 14);
  sc->last_status = store__col_text(st, 15);
  sc->last_note = store__col_text(st, 16);
  sc->consecutive_failures = store__col_int64(st, 17);
  sc->last_run_status = store__col_text(st, 18);
}

/* Walks the rows of st, calling fn; n gets how many. */
static int walk(store_t *s, store_q *st, store_schedule_cb fn, void *ud,
                int *n) {
  int rc, ret = STORE_OK;
  *n = 0;
  while ((rc = store__step(st)) == STORE_ROW) {
    store_schedule sc;
    from_row(st, &sc);
    ++*n;
    if ((ret = fn(ud, &sc)) != 0) break;
  }
  store__reset(st);
  if (rc == STORE_ERR)
    return store__fail(s, "reading the schedules");
  return ret;
}

int store_schedule_get(store_t *s, const char *name, store_schedule_cb fn,
                       void *ud) {
  assert(name);  /* NULL would list them all */
  store_q *st = store__stmt(s, S_LIST, SQL_LIST);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, name);
  int n, rc = walk(s, st, fn, ud, &n);
  if (rc == STORE_OK && n == 0) return STORE_NOTFOUND;
  return rc;
}

int store_schedule_list(store_t *s, store_schedule_cb fn, void *ud) {
  store_q *st = store__stmt(s, S_LIST, SQL_LIST);
  if (!st) return STORE_ERR;
  int n;
  return walk(s, st, fn, ud, &n);
}

int store_schedule_claim(store_t *s, const char *name, int64_t seen_next,
                         int64_t next, int64_t fired, int *won) {
  *won = 0;
  store_q *st = store__stmt(s, S_CLAIM, SQL_CLAIM);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, name);
  store__bind_int64(st, 2, seen_next);
  store__bind_opt(st, 3, next);
  store__bind_int64(st, 4, fired);
  return write_now(s, st, "claiming a fire", won);
}

int store_schedule_note(store_t *s, const char *name, const char *status,
                        const char *note) {
  store_q *st = store__stmt(s, S_NOTE, SQL_NOTE);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, name);
  store__bind_text(st, 2, status);
  store__bind_text(st, 3, note);
  return write_now(s, st, "noting a schedule's status", NULL);
}

int store_schedule_run_started(store_t *s, const char *name,
                               int64_t fire_ms, const char *run_id) {
  if (store__begin(s) != STORE_OK) return STORE_ERR;
  store_q *st = store__stmt(s, S_RUN_MARK, SQL_RUN_MARK);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, run_id);
  store__bind_text(st, 2, name);
  store__bind_int64(st, 3, fire_ms);
  int rc = store__step(st);
  store__reset(st);
  if (rc == STORE_ERR && store__constraint(s)) {
    store__rollback(s);
    store__failf(s, "the fire of schedule '%s' at %lld already has a run",
                 name, (long long)fire_ms);
    return STORE_BUSY;
  }
  if (rc != STORE_DONE) {
    store__fail(s, "recording a schedule's run");
    store__rollback(s);
    return STORE_ERR;
  }
  st = store__stmt(s, S_RUN_LAST, SQL_RUN_LAST);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, name);
  store__bind_text(st, 2, run_id);
  if (store__exec(s, st, "recording a schedule's run") != STORE_OK) {
    store__rollback(s);
    return STORE_ERR;
  }
  return store_flush(s);
}

int store_schedule_run_ended(store_t *s, const char *name, const char *status,
                             int ok, int64_t *failures) {
  if (store__begin(s) != STORE_OK) return STORE_ERR;
  store_q *st = store__stmt(s, S_ENDED, SQL_ENDED);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, name);
  store__bind_text(st, 2, status);
  store__bind_int64(st, 3, ok != 0);
  int rc = store__step(st);
  int64_t n = rc == STORE_ROW ? store__col_int64(st, 0) : 0;
  if (rc == STORE_ROW) rc = store__step(st);
  store__reset(st);
  if (rc != STORE_DONE) {
    store__fail(s, "recording a schedule's result");
    store__rollback(s);
    return STORE_ERR;
  }
  if (failures) *failures = n;
  return store_flush(s);
}

/* The first column of the first row of st as a string (caller frees). */
static int one_text(store_t *s, store_q *st, char **out,
                    const char *what) {
  *out = NULL;
  int rc = store__step(st);
  if (rc == STORE_ROW) *out = store__col_dup(st, 0);
  store__reset(st);
  if (rc == STORE_ERR) return store__fail(s, what);
  return STORE_OK;
}

int store_schedule_active_run(store_t *s, const char *name, char **run_id) {
  store_q *st = store__stmt(s, S_ACTIVE, SQL_ACTIVE);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, name);
  return one_text(s, st, run_id, "reading a schedule's runs");
}

int store_schedule_fire_run(store_t *s, const char *name, int64_t fire_ms,
                            char **run_id) {
  store_q *st = store__stmt(s, S_FIRE_RUN, SQL_FIRE_RUN);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, name);
  store__bind_int64(st, 2, fire_ms);
  return one_text(s, st, run_id, "reading a schedule's runs");
}

int store_run_schedule(store_t *s, const char *id, char **name) {
  store_q *st = store__stmt(s, R_SCHEDULE, SQL_R_SCHEDULE);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, id);
  return one_text(s, st, name, "reading a run's schedule");
}

int store_daemon_pending(store_t *s, int64_t now_ms, int64_t stale_ms,
                         store_pending_cb fn, void *ud) {
  store_q *st = store__stmt(s, P_LIST, SQL_P_LIST);
  if (!st) return STORE_ERR;
  store__bind_int64(st, 1, now_ms);
  store__bind_int64(st, 2, stale_ms);
  int rc, ret = STORE_OK;
  while ((rc = store__step(st)) == STORE_ROW) {
    if (store__col_null(st, 7)) continue;
    store_pending p = {
      .id = store__col_text(st, 0),
      .status = store__col_text(st, 1),
      .schedule = store__col_text(st, 2),
      .owner_host = store__col_text(st, 3),
      .updated_ms = store__col_int64(st, 4),
      .owner_pid = store__col_int64(st, 5),
      .lease_expires_ms = store__col_int64(st, 6),
      .why = store__col_text(st, 7),
      .run_on = store__col_text(st, 8),
    };
    if ((ret = fn(ud, &p)) != 0) break;
  }
  store__reset(st);
  if (rc == STORE_ERR)
    return store__fail(s, "reading the runs to continue");
  return ret;
}

int store_daemon_claim(store_t *s, const char *id, int64_t seen_updated_ms,
                       int64_t now_ms, int64_t stale_ms, const char *by,
                       int *won) {
  *won = 0;
  store_q *st = store__stmt(s, P_CLAIM, SQL_P_CLAIM);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, id);
  store__bind_int64(st, 2, seen_updated_ms);
  store__bind_int64(st, 3, now_ms);
  store__bind_text(st, 4, by);
  store__bind_int64(st, 5, stale_ms);
  return write_now(s, st, "claiming a run", won);
}

int store_daemon_release(store_t *s, const char *id, const char *by,
                         int restart) {
  store_q *st = store__stmt(s, P_RELEASE, SQL_P_RELEASE);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, id);
  store__bind_text(st, 2, by);
  store__bind_int64(st, 3, restart != 0);
  return write_now(s, st, "releasing a run", NULL);
}
