/* The audit trail: an append-only, hash-chained table in the state
 * database (docs/audit.md).
 *
 * Each record is stored as the exact canonical JSON text that is hashed,
 * so an auditor recomputes the chain with any SHA-256 tool:
 *   hash(n) = hex(SHA-256(hash(n-1) || "\n" || record(n)))
 * with hash(0) = 64 zeros. The record names its own seq and the previous
 * hash, so a deleted or reordered record breaks the chain as surely as an
 * edited one. */
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

enum {
  A_LAST = STORE_AUX_AUDIT, A_INSERT,
};

static const char *const SQL_LAST =
    "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1";
static const char *const SQL_INSERT =
    "INSERT INTO audit(seq, ts_ms, actor, run_id, action, record, prev_hash,"
    " hash) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

const char STORE_AUDIT_GENESIS[65] =
    "0000000000000000000000000000000000000000000000000000000000000000";

void store_audit_hash(const char *prev_hash, const char *record,
                      char out[65]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) ||
      !EVP_DigestUpdate(c, prev_hash, strlen(prev_hash)) ||
      !EVP_DigestUpdate(c, "\n", 1) ||
      !EVP_DigestUpdate(c, record, strlen(record)) ||
      !EVP_DigestFinal_ex(c, md, &n))
    n = 0;
  EVP_MD_CTX_free(c);
  for (unsigned i = 0; i < n && i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
  out[n ? 64 : 0] = '\0';
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
  /* Inside the write transaction (BEGIN IMMEDIATE): no other process can
   * append between reading the head and writing after it. */
  sqlite3_stmt *st = store__aux(s, A_LAST, SQL_LAST);
  if (!st) return STORE_ERR;
  int64_t seq = 1;
  char prev[65];
  memcpy(prev, STORE_AUDIT_GENESIS, sizeof prev);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    const unsigned char *h = sqlite3_column_text(st, 1);
    seq = sqlite3_column_int64(st, 0) + 1;
    snprintf(prev, sizeof prev, "%s", h ? (const char *)h : "");
  }
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return store__fail(s, "reading the audit trail");
  char *record = store_audit_record(seq, ts_ms, actor, run_id, action,
                                    detail, prev);
  if (!record) return store__failf(s, "audit record: out of memory");
  char hash[65];
  store_audit_hash(prev, record, hash);
  st = store__aux(s, A_INSERT, SQL_INSERT);
  if (!st) {
    free(record);
    return STORE_ERR;
  }
  sqlite3_bind_int64(st, 1, seq);
  sqlite3_bind_int64(st, 2, ts_ms);
  store__bind_text(st, 3, actor);
  store__bind_text(st, 4, run_id);
  store__bind_text(st, 5, action);
  store__bind_text(st, 6, record);
  store__bind_text(st, 7, prev);
  store__bind_text(st, 8, hash);
  rc = store__exec(s, st, "appending to the audit trail");
  free(record);
  if (rc != STORE_OK) return rc;
  return commit ? store_flush(s) : STORE_OK;
}
