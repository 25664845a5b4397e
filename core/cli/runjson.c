/* The JSON shapes of a run, shared by the CLI's --json output (summit
 * runs, status, log) and the HTTP API of summit serve, so both print the
 * same objects from one place. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/fold.h"
#include "engine/events.h"
#include "io/strbuf.h"
#include "store/store.h"

void cli_json_str(cJSON *o, const char *k, const char *v) {
  if (v) cJSON_AddStringToObject(o, k, v);
}

void cli_json_time(cJSON *o, const char *k, int64_t ms) {
  char ts[40];
  if (!ms) return;
  events_rfc3339(ms, ts, sizeof ts);
  cJSON_AddStringToObject(o, k, ts);
}

cJSON *cli_run_json(const store_run *r) {
  cJSON *o = cJSON_CreateObject();
  cli_json_str(o, "run", r->id);
  cli_json_str(o, "runbook", r->name);
  cli_json_str(o, "version", r->version);
  cli_json_str(o, "status", r->status);
  cli_json_str(o, "file", r->source_path);
  cli_json_str(o, "source_sha256", r->source_sha256);
  cli_json_str(o, "started_by", r->started_by);
  cli_json_str(o, "env", r->env);
  cli_json_str(o, "rerun_of", r->rerun_of);
  cli_json_time(o, "created", r->created_ms);
  cli_json_time(o, "updated", r->updated_ms);
  cli_json_time(o, "finished", r->finished_ms);
  cli_json_time(o, "wake", r->wake_ms);
  if (r->params) cJSON_AddItemToObject(o, "params", cJSON_Parse(r->params));
  if (r->error) cJSON_AddItemToObject(o, "error", cJSON_Parse(r->error));
  cli_json_str(o, "failed_key", r->failed_key);
  /* submit --on: the labels a worker must have (docs/workers.md). */
  if (r->run_on) cJSON_AddItemToObject(o, "on", cJSON_Parse(r->run_on));
  if (r->owner_pid) {
    cJSON *own = cJSON_CreateObject();
    cJSON_AddNumberToObject(own, "pid", (double)r->owner_pid);
    cli_json_str(own, "host", r->owner_host);
    cli_json_time(own, "lease_expires", r->lease_expires_ms);
    cli_json_time(own, "heartbeat", r->heartbeat_ms);
    cJSON_AddItemToObject(o, "owner", own);
  }
  return o;
}

cJSON *cli_log_json(const store_entry *e) {
  cJSON *o = cJSON_CreateObject();
  cli_json_time(o, "ts", e->ts_ms);
  cJSON_AddStringToObject(o, "key", e->key);
  cJSON_AddStringToObject(o, "state", e->state);
  cJSON_AddNumberToObject(o, "attempt", (double)e->attempt);
  cli_json_str(o, "kind", e->kind);
  cli_json_str(o, "name", e->name);
  cli_json_str(o, "site", e->site);
  cli_json_str(o, "note", e->note);
  if (e->error) cJSON_AddItemToObject(o, "error", cJSON_Parse(e->error));
  return o;
}

static cJSON *entry_json(const fold_entry *x) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "key", x->key);
  cli_json_str(o, "kind", x->kind);
  cli_json_str(o, "name", x->name);
  cli_json_str(o, "site", x->site);
  cli_json_time(o, "started", x->started_ms);
  cJSON_AddStringToObject(o, "state", x->state);
  cJSON_AddNumberToObject(o, "attempt", (double)x->attempt);
  cli_json_time(o, "ended", x->ended_ms);
  if (x->error) cJSON_AddItemToObject(o, "error", cJSON_Parse(x->error));
  cli_json_str(o, "note", x->note);
  return o;
}

/* Appends o to b (without its closing brace when open) and deletes it. */
static void put_json(strbuf *b, cJSON *o, int open) {
  char *s = cJSON_PrintUnformatted(o);
  size_t n = s ? strlen(s) : 0;
  if (n) strbuf_put(b, s, open ? n - 1 : n);
  free(s);
  cJSON_Delete(o);
}

static int add_wait(void *ud, cJSON *w) {
  cJSON_AddItemToArray(ud, w);
  return 0;
}

/* The run's fields, "entries" and "waits". Entries are serialised one at
 * a time (each by cJSON) instead of building one tree of the whole
 * journal. */
static void status_text(strbuf *b, const store_run *r, const char *result,
                        const journal_fold *c, cJSON *waits, cJSON *pins) {
  cJSON *o = cli_run_json(r);
  cJSON *v = cJSON_DetachItemFromObject(pins, "summit_version");
  if (v) cJSON_AddItemToObject(o, "summit_version", v);
  cJSON_AddItemToObject(o, "modules", cJSON_DetachItemFromObject(pins, "modules"));
  cJSON *res = result ? cJSON_Parse(result) : NULL;
  if (res) cJSON_AddItemToObject(o, "result", res);
  put_json(b, o, 1);
  strbuf_put(b, ",\"entries\":[", 12);
  for (size_t i = 0; i < c->n; i++) {
    if (i) strbuf_put(b, ",", 1);
    put_json(b, entry_json(&c->v[i]), 0);
  }
  strbuf_put(b, "],\"waits\":", 10);
  put_json(b, cJSON_Duplicate(waits, 1), 0);
  strbuf_put(b, "}", 1);
}

int run_view_load(store_t *s, const store_run *r, run_view *v) {
  memset(v, 0, sizeof *v);
  int rc = store_journal_each(s, r->id, journal_fold_row, &v->fold);
  if (rc != STORE_OK || v->fold.oom) return STORE_ERR;
  v->waits = cJSON_CreateArray();
  cli_waits(s, r->id, add_wait, v->waits);
  v->pins = cli_pins(s, r->id);
  store_run_result(s, r->id, &v->result);
  return STORE_OK;
}

void run_view_free(run_view *v) {
  free(v->result);
  cJSON_Delete(v->pins);
  cJSON_Delete(v->waits);
  journal_fold_free(&v->fold);
}

char *cli_status_json(struct store *s, const store_run *r, int *oom) {
  run_view v;
  int rc = run_view_load(s, r, &v);
  *oom = v.fold.oom;
  strbuf b = {0};
  if (rc == STORE_OK) status_text(&b, r, v.result, &v.fold, v.waits, v.pins);
  run_view_free(&v);
  return b.p;
}
