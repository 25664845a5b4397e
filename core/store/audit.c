/* The audit trail: an append-only, hash-chained table in the state
 * database (docs/audit.md).
 *
 * Each record is stored as the exact canonical JSON text that is hashed,
 * so an auditor recomputes the chain with any SHA-256 tool:
 *   hash(n) = hex(SHA-256(hash(n-1) || "\n" || record(n)))
 * with hash(0) = 64 zeros. The record names its own seq and the previous
 * hash, so a deleted or reordered record breaks the chain as surely as an
 * edited one. */
#include <assert.h>
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io/sha256.h"
#include "store/internal.h"

static const char *const SQL_LAST =
    "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1";
static const char *const SQL_INSERT =
    "INSERT INTO audit(seq, ts_ms, actor, run_id, action, record, prev_hash,"
    " hash) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

#define AUDIT_COLS "seq, ts_ms, actor, run_id, action, record, prev_hash, hash"
/* Filters are written so one statement serves "all" too: ?1 NULL keeps
 * every run, ?2 = 0 every time. */
static const char *const SQL_EACH =
    "SELECT " AUDIT_COLS " FROM audit"
    " WHERE (CAST(?1 AS TEXT) IS NULL OR run_id = ?1) AND ts_ms >= ?2 ORDER BY seq";
static const char *const SQL_ALL =
    "SELECT " AUDIT_COLS " FROM audit ORDER BY seq";

const char STORE_AUDIT_GENESIS[65] =
    "0000000000000000000000000000000000000000000000000000000000000000";

void store_audit_hash(const char *prev_hash, const char *record,
                      char out[65]) {
  unsigned char md[32];
  sm_sha256_ctx c;
  sm_sha256_init(&c);
  sm_sha256_update(&c, prev_hash, strlen(prev_hash));
  sm_sha256_update(&c, "\n", 1);
  sm_sha256_update(&c, record, strlen(record));
  sm_sha256_final(&c, md);
  sha256_hex(md, out);
}

/* A JSON string literal for s (cJSON's escaping), or "null"; malloc'd. */
static char *json_str(const char *s) {
  if (!s) return strdup("null");
  cJSON *j = cJSON_CreateString(s);
  char *t = j ? cJSON_PrintUnformatted(j) : NULL;
  cJSON_Delete(j);
  return t;
}

char *store_audit_record(int64_t seq, int64_t ts_ms, const char *actor,
                         const char *run_id, const char *action,
                         const char *detail, const char *prev_hash) {
  char *a = json_str(action), *who = json_str(actor), *r = json_str(run_id);
  char *p = json_str(prev_hash);
  char *out = NULL;
  if (a && who && r && p) {
    const char *d = detail && *detail ? detail : "{}";
    /* Keys in byte order: the same canonical form as summit's JSON. */
    const char *fmt = "{\"action\":%s,\"actor\":%s,\"detail\":%s,\"prev\":%s,"
                      "\"run\":%s,\"seq\":%lld,\"ts_ms\":%lld}";
    int n = snprintf(NULL, 0, fmt, a, who, d, p, r, (long long)seq,
                     (long long)ts_ms);
    if (n > 0 && (out = malloc((size_t)n + 1)))
      snprintf(out, (size_t)n + 1, fmt, a, who, d, p, r, (long long)seq,
               (long long)ts_ms);
  }
  free(a);
  free(who);
  free(r);
  free(p);
  return out;
}

int store_audit_append(store_t *s, int64_t ts_ms, const char *actor,
                       const char *run_id, const char *action,
                       const char *detail, int commit) {
  if (!actor || !action) return store__failf(s, "audit record without %s",
                                             actor ? "an action" : "an actor");
  if (store__begin(s) != STORE_OK) return STORE_ERR;
  /* Inside the write transaction (store__begin: the write lock): no other
   * process can append between reading the head and writing after it, so
   * the head is read once a transaction and then kept (store__audit_head). */
  int64_t seq = 1;
  char prev[65];
  int rc = STORE_DONE;
  if (store__audit_head(s, &seq, prev)) {
    seq++;  /* the head's seq (0: the chain is empty) */
  } else {
    store_q *st = store__stmt(s, A_LAST, SQL_LAST);
    if (!st) return STORE_ERR;
    seq = 1;
    memcpy(prev, STORE_AUDIT_GENESIS, sizeof prev);
    rc = store__step(st);
    if (rc == STORE_ROW) {
      const char *h = store__col_text(st, 1);
      seq = store__col_int64(st, 0) + 1;
      snprintf(prev, sizeof prev, "%s", h ? h : "");
    }
    store__reset(st);
    if (rc == STORE_ERR)
      return store__fail(s, "reading the audit trail");
  }
  char *record = store_audit_record(seq, ts_ms, actor, run_id, action,
                                    detail, prev);
  if (!record) return store__failf(s, "audit record: out of memory");
  char hash[65];
  store_audit_hash(prev, record, hash);
  store_q *st = store__stmt(s, A_INSERT, SQL_INSERT);
  if (!st) {
    free(record);
    return STORE_ERR;
  }
  store__bind_int64(st, 1, seq);
  store__bind_int64(st, 2, ts_ms);
  store__bind_text(st, 3, actor);
  store__bind_text(st, 4, run_id);
  store__bind_text(st, 5, action);
  store__bind_text(st, 6, record);
  store__bind_text(st, 7, prev);
  store__bind_text(st, 8, hash);
  rc = store__exec(s, st, "appending to the audit trail");
  free(record);
  if (rc != STORE_OK) return rc;
  store__audit_keep(s, seq, hash);
  return commit ? store_flush(s) : STORE_OK;
}

/* ---- reading and verifying ------------------------------------------ */

int store_audit_head(store_t *s, int64_t *seq, char hash[65]) {
  store_q *st = store__stmt(s, A_LAST, SQL_LAST);
  if (!st) return STORE_ERR;
  *seq = 0;
  memcpy(hash, STORE_AUDIT_GENESIS, 65);
  int rc = store__step(st);
  if (rc == STORE_ROW) {
    const char *h = store__col_text(st, 1);
    *seq = store__col_int64(st, 0);
    snprintf(hash, 65, "%s", h ? h : "");
  }
  store__reset(st);
  if (rc == STORE_ERR)
    return store__fail(s, "reading the audit trail");
  return STORE_OK;
}

static void row_from(store_q *st, store_audit_row *r) {
  r->seq = store__col_int64(st, 0);
  r->ts_ms = store__col_int64(st, 1);
  r->actor = store__col_text(st, 2);
  r->run_id = store__col_text(st, 3);
  r->action = store__col_text(st, 4);
  r->record = store__col_text(st, 5);
  r->prev_hash = store__col_text(st, 6);
  r->hash = store__col_text(st, 7);
}

int store_audit_each(store_t *s, const char *run_id, int64_t since_ms,
                     store_audit_cb fn, void *ud) {
  store_q *st = store__stmt(s, A_EACH, SQL_EACH);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, run_id);
  store__bind_int64(st, 2, since_ms);
  int rc, ret = STORE_OK;
  while ((rc = store__step(st)) == STORE_ROW) {
    store_audit_row r;
    row_from(st, &r);
    if ((ret = fn(ud, &r))) break;
  }
  store__reset(st);
  if (rc == STORE_ERR)
    return store__fail(s, "reading the audit trail");
  return ret;
}

static int bad(store_audit_check *c, const store_audit_row *r, int64_t seq,
               const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->reason, sizeof c->reason, fmt, ap);
  va_end(ap);
  c->bad_seq = seq;
  c->bad_row_seq = r->seq;
  c->bad_ts_ms = r->ts_ms;
  snprintf(c->bad_run, sizeof c->bad_run, "%s", r->run_id ? r->run_id : "");
  snprintf(c->bad_action, sizeof c->bad_action, "%s",
           r->action ? r->action : "");
  return 1;
}

static int str_eq(const char *a, const char *b) {
  return a && b && !strcmp(a, b);
}

/* Compares the fields of the hashed record text with the row's columns:
 * an edit of one without the other shows here. Returns 1 (and fills c)
 * when something differs. */
static int check_fields(store_audit_check *c, const store_audit_row *r) {
  cJSON *j = cJSON_Parse(r->record);
  int out = 0;
  if (!cJSON_IsObject(j)) {
    out = bad(c, r, r->seq, "its record is not a JSON object (the text was "
                            "changed after it was written)");
    goto done;
  }
  const cJSON *seq = cJSON_GetObjectItemCaseSensitive(j, "seq"),
              *ts = cJSON_GetObjectItemCaseSensitive(j, "ts_ms"),
              *actor = cJSON_GetObjectItemCaseSensitive(j, "actor"),
              *run = cJSON_GetObjectItemCaseSensitive(j, "run"),
              *action = cJSON_GetObjectItemCaseSensitive(j, "action"),
              *prev = cJSON_GetObjectItemCaseSensitive(j, "prev"),
              *detail = cJSON_GetObjectItemCaseSensitive(j, "detail");
  if (!cJSON_IsNumber(seq) || (int64_t)seq->valuedouble != r->seq)
    out = bad(c, r, r->seq, "the seq column is %lld but the hashed record "
              "says %.0f (records were renumbered or swapped)",
              (long long)r->seq, cJSON_IsNumber(seq) ? seq->valuedouble : 0.0);
  else if (!cJSON_IsNumber(ts) || (int64_t)ts->valuedouble != r->ts_ms)
    out = bad(c, r, r->seq, "the ts_ms column (%lld) differs from the hashed "
              "record's", (long long)r->ts_ms);
  else if (!cJSON_IsString(actor) || !str_eq(actor->valuestring, r->actor))
    out = bad(c, r, r->seq, "the actor column ('%s') differs from the hashed "
              "record's ('%s')", r->actor ? r->actor : "",
              cJSON_IsString(actor) ? actor->valuestring : "");
  else if (!(cJSON_IsNull(run) && !r->run_id) &&
           !(cJSON_IsString(run) && str_eq(run->valuestring, r->run_id)))
    out = bad(c, r, r->seq, "the run_id column ('%s') differs from the hashed "
              "record's ('%s')", r->run_id ? r->run_id : "",
              cJSON_IsString(run) ? run->valuestring : "");
  else if (!cJSON_IsString(action) || !str_eq(action->valuestring, r->action))
    out = bad(c, r, r->seq, "the action column ('%s') differs from the hashed "
              "record's ('%s')", r->action ? r->action : "",
              cJSON_IsString(action) ? action->valuestring : "");
  else if (!cJSON_IsString(prev) || !str_eq(prev->valuestring, r->prev_hash))
    out = bad(c, r, r->seq, "the prev_hash column differs from the hashed "
              "record's prev");
  else if (!cJSON_IsObject(detail))
    out = bad(c, r, r->seq, "the hashed record has no detail object");
done:
  cJSON_Delete(j);
  return out;
}

int store_audit_verify(store_t *s, const char *want_head,
                       store_audit_check *c) {
  memset(c, 0, sizeof *c);
  memcpy(c->head, STORE_AUDIT_GENESIS, sizeof c->head);
  store_q *st = store__stmt(s, A_ALL, SQL_ALL);
  if (!st) return STORE_ERR;
  /* One statement reads one snapshot: appends by a run meanwhile are not
   * half seen. */
  int rc;
  int64_t want = 1;
  while ((rc = store__step(st)) == STORE_ROW) {
    store_audit_row r;
    row_from(st, &r);
    c->count++;
    char h[65];
    if (r.seq != want) {
      if (r.seq > want && want == r.seq - 1)
        bad(c, &r, want, "record %lld is missing (deleted): the chain goes "
            "from %lld to %lld", (long long)want, (long long)want - 1,
            (long long)r.seq);
      else if (r.seq > want)
        bad(c, &r, want, "records %lld to %lld are missing (deleted): the "
            "chain goes from %lld to %lld", (long long)want,
            (long long)r.seq - 1, (long long)want - 1, (long long)r.seq);
      else
        bad(c, &r, r.seq, "seq %lld is out of order (expected %lld)",
            (long long)r.seq, (long long)want);
      break;
    }
    if (!r.record || !r.prev_hash || !r.hash || !r.actor || !r.action) {
      bad(c, &r, r.seq, "a column of the record is empty");
      break;
    }
    if (check_fields(c, &r)) break;
    if (strcmp(r.prev_hash, c->head) != 0) {
      if (r.seq == 1)
        bad(c, &r, r.seq, "the first record's prev is not the genesis hash "
            "(64 zeros)");
      else
        bad(c, &r, r.seq, "its prev_hash is not the hash of record %lld "
            "(that record or this one was rewritten, or one was inserted)",
            (long long)r.seq - 1);
      break;
    }
    store_audit_hash(r.prev_hash, r.record, h);
    if (strcmp(h, r.hash) != 0) {
      bad(c, &r, r.seq, "its hash does not match its content (the record was "
          "changed after it was written)");
      break;
    }
    memcpy(c->head, h, sizeof c->head);
    c->head_seq = r.seq;
    if (want_head && !strcasecmp(want_head, h)) c->want_head_seq = r.seq;
    want++;
  }
  store__reset(st);
  if (rc == STORE_ERR)
    return store__fail(s, "reading the audit trail");
  return STORE_OK;
}
