#ifndef SUMMIT_ENGINE_RUNCTX_H
#define SUMMIT_ENGINE_RUNCTX_H
/* The context of one command of the run lifecycle (run, resume, validate,
 * cancel; see engine.h): its runtime, loop, store and lease, and the
 * store-side steps the commands share: open the store, take and keep the
 * lease, audit, say a run is fenced. Internal to core/engine. */
#include <cJSON.h>
#include <stdint.h>

#include "engine/engine.h"
#include "engine/events.h"
#include "engine/runtime.h"

typedef struct {
  runtime_t rt;
  events_t ev;
  uv_loop_t loop;
  uv_timer_t heartbeat, cancel_poll;
  uv_async_t sigwake;     /* SIGINT/SIGTERM wake the loop (watchdog.c) */
  int interrupted;
  int64_t ttl_ms;  /* the lease's length (SUMMIT_LEASE_TTL) */
  char host[256];
  /* resume --upgrade: the new source, pinned once it replays cleanly */
  char *upgrade_path, *upgrade_source, *upgrade_version;
  char upgrade_sha[65];
  int upgrade_pinned;
} ctx_t;

/* SUMMIT_LEASE_TTL: a duration ("30s", "500ms"; a plain number is
 * seconds). Returns the lease length in ms, or -1 after saying what is
 * wrong with the variable. The daemon's claims last at least as long. */
int64_t ctx_lease_ttl_ms(void);
/* Makes the context of command o: the runtime, and the lease's length
 * from SUMMIT_LEASE_TTL if the command takes leases. Returns 0, or an
 * exit code after saying why (then there is nothing to free). */
int ctx_open(ctx_t *c, const engine_opts *o, int leased);
/* Stops what the run left on the loop and frees everything. */
void ctx_free(ctx_t *c);

/* Opens state.db (creating the state directory if create). 0 or an exit
 * code, having said why. */
int ctx_open_store(ctx_t *c, const engine_opts *o, int create);
/* The run's output log, logs/RUN.log. */
void ctx_open_log(ctx_t *c, const engine_opts *o, const char *run_id);
/* Takes the lease of run id: 0, EXIT_BUSY naming the owner, or an exit
 * code after saying why. */
int ctx_acquire(ctx_t *c, const char *id);
/* Reads run id again into *r (freed first) under the lease just taken:
 * the owner or a cancel may have ended it meanwhile. 0, or an exit code
 * after saying why (a finished run has nothing to verb; its lease is given
 * back). */
int ctx_reread_unfinished(ctx_t *c, const char *id, store_run *r,
                          const char *verb);
/* succeeded, cancelled, rolled_back: nothing more can happen to the run. */
int run_has_finished(const char *status);

/* Appends an audit record for run id in the open write transaction, so
 * it is committed with the change it records. detail is taken. */
void ctx_audit(ctx_t *c, const char *id, const char *action, cJSON *detail);
/* lock.released for each lock run id holds, before they are released. */
void ctx_audit_release_locks(ctx_t *c, const char *id);
/* A stored error {"code","message"} as JSON text (malloc'd). */
char *run_error_json(const char *code, const char *message);
/* Ends a run that never started (cancelled, with EBUSY and why): audit,
 * status, lease given back, committed. */
void ctx_never_started(ctx_t *c, const char *id, const char *why);

/* Says why this process stopped a run it no longer owns (the store was
 * fenced); EXIT_BUSY. */
int ctx_report_fenced(ctx_t *c);

#endif
