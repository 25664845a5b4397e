/* Unit tests for the audit trail (core/store/audit.c): the record text and
 * chain formula recomputed here with OpenSSL directly, appends from two
 * connections, iteration with filters, the append-only triggers, and each
 * kind of tampering -- done with a second, raw SQLite connection as an
 * attacker would -- caught at the right seq with the right reason; and the
 * redaction of secrets before anything is hashed (core/lua/audit.c). */
#include <criterion/criterion.h>

#include <openssl/sha.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixtures.h"
#include "lua/audit.h"
#include "store/store.h"

TestSuite(audit, .init = tmpdir_setup, .fini = tmpdir_teardown);

/* n records over three runs and two actors; commits at the end. */
static void fill(store_t *s, int n) {
  const char *runs[] = {"run-a", "run-b", NULL};
  const char *actors[] = {"alice", "bob"};
  for (int i = 1; i <= n; i++) {
    char detail[128];
    snprintf(detail, sizeof detail, "{\"i\":%d,\"name\":\"step %d\"}", i, i);
    cr_assert_eq(store_audit_append(s, 1700000000000LL + i, actors[i % 2],
                                    runs[i % 3], "step.completed", detail, 0),
                 STORE_OK, "append %d: %s", i, store_errmsg(s));
  }
  cr_assert_eq(store_flush(s), STORE_OK);
}

/* The attacker: a raw connection that drops the append-only triggers
 * first (the documented, deliberate step) and runs sql. */
static void tamper(const char *sql) {
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
  char *msg = NULL;
  int rc = sqlite3_exec(db,
                        "DROP TRIGGER IF EXISTS audit_no_update;"
                        "DROP TRIGGER IF EXISTS audit_no_delete;",
                        NULL, NULL, &msg);
  cr_assert_eq(rc, SQLITE_OK, "%s", msg ? msg : "");
  rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, msg ? msg : "");
  cr_assert_gt(sqlite3_changes(db), 0, "tampering changed nothing: %s", sql);
  sqlite3_close(db);
}

static void verify(store_audit_check *c, const char *want_head) {
  store_t *s = open_db(1);
  cr_assert_eq(store_audit_verify(s, want_head, c), STORE_OK, "%s",
               store_errmsg(s));
  store_close(s);
}

static void expect_bad(int64_t seq, const char *reason_part) {
  store_audit_check c;
  verify(&c, NULL);
  cr_assert_eq(c.bad_seq, seq, "bad_seq %lld, expected %lld (%s)",
               (long long)c.bad_seq, (long long)seq, c.reason);
  cr_assert(strstr(c.reason, reason_part), "reason '%s' lacks '%s'", c.reason,
            reason_part);
}

/* SHA-256 of a "\n" b, one buffer, one call: no code shared with audit.c. */
static void sha256_hex(const char *a, const char *b, char out[65]) {
  size_t la = strlen(a), lb = strlen(b);
  unsigned char *buf = malloc(la + 1 + lb), md[32];
  memcpy(buf, a, la);
  buf[la] = '\n';
  memcpy(buf + la + 1, b, lb);
  SHA256(buf, la + 1 + lb, md);
  free(buf);
  for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", md[i]);
}

/* ---- the chain as written -------------------------------------------- */

Test(audit, empty_chain_verifies) {
  store_t *s = open_db(1);
  store_close(s);
  store_audit_check c;
  verify(&c, NULL);
  cr_assert_eq(c.bad_seq, 0);
  cr_assert_eq(c.count, 0);
  cr_assert_str_eq(c.head, STORE_AUDIT_GENESIS);
}

Test(audit, record_text_and_hash_are_the_documented_ones) {
  store_t *s = open_db(1);
  cr_assert_eq(store_audit_append(s, 1700000000123LL, "al\"ice", "r1",
                                  "run.started", "{\"a\":1}", 1), STORE_OK);
  cr_assert_eq(store_audit_append(s, 1700000000456LL, "bob", NULL,
                                  "lock.acquired", NULL, 1), STORE_OK);
  store_close(s);
  sqlite3 *db;
  sqlite3_stmt *st;
  cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
  cr_assert_eq(sqlite3_prepare_v2(db, "SELECT seq, record, prev_hash, hash "
                                      "FROM audit ORDER BY seq", -1, &st, NULL),
               SQLITE_OK);
  const char *want[] = {
    "{\"action\":\"run.started\",\"actor\":\"al\\\"ice\",\"detail\":{\"a\":1},"
    "\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\","
    "\"run\":\"r1\",\"seq\":1,\"ts_ms\":1700000000123}",
    NULL,
  };
  char prev[65];
  memcpy(prev, STORE_AUDIT_GENESIS, 65);
  for (int i = 0; i < 2; i++) {
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    const char *rec = (const char *)sqlite3_column_text(st, 1);
    if (want[i]) cr_assert_str_eq(rec, want[i]);
    else {
      cr_assert(strstr(rec, "\"detail\":{}"), "%s", rec);
      cr_assert(strstr(rec, "\"run\":null"), "%s", rec);
      cr_assert(strstr(rec, "\"seq\":2"), "%s", rec);
    }
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 2), prev);
    char h[65] = "";
    sha256_hex(prev, rec, h);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 3), h);
    memcpy(prev, h, 65);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  store_audit_check c;
  verify(&c, NULL);
  cr_assert_eq(c.bad_seq, 0, "%s", c.reason);
  cr_assert_eq(c.count, 2);
  cr_assert_eq(c.head_seq, 2);
  cr_assert_str_eq(c.head, prev);
}

Test(audit, long_chain_verifies_and_finds_a_remembered_head) {
  store_t *s = open_db(1);
  fill(s, 60);
  store_close(s);
  store_audit_check c;
  verify(&c, NULL);
  cr_assert_eq(c.bad_seq, 0, "%s", c.reason);
  cr_assert_eq(c.count, 60);
  cr_assert_eq(c.head_seq, 60);
  char head40[65];
  /* The hash of record 40, as an auditor would have noted it. */
  sqlite3 *db;
  sqlite3_stmt *st;
  cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
  sqlite3_prepare_v2(db, "SELECT hash FROM audit WHERE seq = 40", -1, &st, NULL);
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  snprintf(head40, sizeof head40, "%s", sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  verify(&c, head40);
  cr_assert_eq(c.want_head_seq, 40);
  verify(&c, "ab");
  cr_assert_eq(c.want_head_seq, 0);
  /* The tail cut off below the remembered head: the chain itself still
   * verifies (that is the limit of a chain), the head is gone. */
  tamper("DELETE FROM audit WHERE seq >= 35");
  verify(&c, head40);
  cr_assert_eq(c.bad_seq, 0, "%s", c.reason);
  cr_assert_eq(c.count, 34);
  cr_assert_eq(c.want_head_seq, 0);
}

Test(audit, two_connections_append_to_one_chain) {
  store_t *a = open_db(1), *b = open_db(1);
  for (int i = 0; i < 20; i++) {
    store_t *s = i % 3 ? a : b;
    cr_assert_eq(store_audit_append(s, 1000 + i, "x", "r", "a.b", NULL,
                                    i % 2),
                 STORE_OK, "%s", store_errmsg(s));
    /* A pending append holds the write lock: flush before the other
     * connection writes (what a second process would wait for). */
    cr_assert_eq(store_flush(s), STORE_OK);
  }
  store_close(a);
  store_close(b);
  store_audit_check c;
  verify(&c, NULL);
  cr_assert_eq(c.bad_seq, 0, "%s", c.reason);
  cr_assert_eq(c.count, 20);
}

Test(audit, an_append_rides_the_open_transaction) {
  store_t *s = open_db(1);
  store_entry e = {.key = "1", .state = "completed", .kind = "step",
                   .attempt = 1, .ts_ms = 5, .result = "[]"};
  store_run r = {.id = "r", .name = "n", .source_path = "f",
                 .source_sha256 = "x", .source = "s", .params = "{}",
                 .status = "running", .created_ms = 1, .updated_ms = 1};
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  cr_assert_eq(store_journal_append(s, "r", &e, 0), STORE_OK);
  cr_assert_eq(store_audit_append(s, 5, "x", "r", "step.completed", NULL, 0),
               STORE_OK);
  /* Another connection sees neither until the one commit. */
  sqlite3 *db;
  sqlite3_stmt *st;
  cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
  sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM audit),"
                         " (SELECT count(*) FROM journal)", -1, &st, NULL);
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  cr_assert_eq(sqlite3_column_int(st, 0), 0);
  cr_assert_eq(sqlite3_column_int(st, 1), 0);
  sqlite3_reset(st);
  cr_assert_eq(store_flush(s), STORE_OK);
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  cr_assert_eq(sqlite3_column_int(st, 0), 1);
  cr_assert_eq(sqlite3_column_int(st, 1), 1);
  sqlite3_finalize(st);
  sqlite3_close(db);
  store_close(s);
}

typedef struct {
  int n;
  int64_t seqs[100];
} seen;

static int collect(void *ud, const store_audit_row *r) {
  seen *s = ud;
  cr_assert_not_null(r->record);
  cr_assert_not_null(r->hash);
  s->seqs[s->n++] = r->seq;
  return 0;
}

Test(audit, each_filters_by_run_and_time) {
  store_t *s = open_db(1);
  fill(s, 30);
  seen all = {0}, run_a = {0}, late = {0}, both = {0};
  cr_assert_eq(store_audit_each(s, NULL, 0, collect, &all), STORE_OK);
  cr_assert_eq(all.n, 30);
  for (int i = 0; i < 30; i++) cr_assert_eq(all.seqs[i], i + 1);
  cr_assert_eq(store_audit_each(s, "run-a", 0, collect, &run_a), STORE_OK);
  cr_assert_eq(run_a.n, 10);  /* i % 3 == 0 */
  for (int i = 0; i < run_a.n; i++) cr_assert_eq(run_a.seqs[i] % 3, 0);
  cr_assert_eq(store_audit_each(s, NULL, 1700000000021LL, collect, &late),
               STORE_OK);
  cr_assert_eq(late.n, 10);
  cr_assert_eq(late.seqs[0], 21);
  cr_assert_eq(store_audit_each(s, "run-b", 1700000000021LL, collect, &both),
               STORE_OK);
  cr_assert_eq(both.n, 3);  /* 22, 25, 28 */
  cr_assert_eq(both.seqs[0], 22);
  store_close(s);
}

Test(audit, the_schema_refuses_update_and_delete) {
  store_t *s = open_db(1);
  fill(s, 3);
  store_close(s);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
  char *msg = NULL;
  cr_assert_neq(sqlite3_exec(db, "UPDATE audit SET actor = 'x' WHERE seq = 2",
                             NULL, NULL, &msg), SQLITE_OK);
  cr_assert(msg && strstr(msg, "append-only"), "%s", msg ? msg : "");
  sqlite3_free(msg);
  msg = NULL;
  cr_assert_neq(sqlite3_exec(db, "DELETE FROM audit WHERE seq = 2", NULL, NULL,
                             &msg), SQLITE_OK);
  sqlite3_free(msg);
  sqlite3_close(db);
  store_audit_check c;
  verify(&c, NULL);
  cr_assert_eq(c.bad_seq, 0, "%s", c.reason);
  cr_assert_eq(c.count, 3);
}

/* ---- tampering --------------------------------------------------------- */

Test(audit, one_byte_of_a_detail_changed) {
  store_t *s = open_db(1);
  fill(s, 12);
  store_close(s);
  tamper("UPDATE audit SET record = replace(record, '\"step 7\"', '\"step 8\"')"
         " WHERE seq = 7");
  expect_bad(7, "hash does not match its content");
  store_audit_check c;
  verify(&c, NULL);
  cr_assert_str_eq(c.bad_action, "step.completed");
  cr_assert_eq(c.bad_ts_ms, 1700000000007LL);
  cr_assert_eq(c.head_seq, 6);
  cr_assert_eq(c.count, 7);
}

Test(audit, record_text_no_longer_json) {
  store_t *s = open_db(1);
  fill(s, 5);
  store_close(s);
  tamper("UPDATE audit SET record = substr(record, 2) WHERE seq = 4");
  expect_bad(4, "not a JSON object");
}

Test(audit, a_column_changed_without_the_record) {
  store_t *s = open_db(1);
  fill(s, 9);
  store_close(s);
  tamper("UPDATE audit SET actor = 'mallory' WHERE seq = 5");
  expect_bad(5, "actor column ('mallory')");
}

Test(audit, other_columns_changed) {
  store_t *s = open_db(1);
  fill(s, 9);
  store_close(s);
  tamper("UPDATE audit SET run_id = 'run-z' WHERE seq = 2");
  expect_bad(2, "run_id column");
  tamper("UPDATE audit SET run_id = NULL WHERE seq = 2");  /* back */
  tamper("UPDATE audit SET ts_ms = ts_ms + 1 WHERE seq = 3");
  expect_bad(3, "ts_ms column");
  tamper("UPDATE audit SET ts_ms = ts_ms - 1 WHERE seq = 3");
  tamper("UPDATE audit SET action = 'step.failed' WHERE seq = 6");
  expect_bad(6, "action column");
}

Test(audit, a_middle_record_deleted) {
  store_t *s = open_db(1);
  fill(s, 10);
  store_close(s);
  tamper("DELETE FROM audit WHERE seq = 6");
  expect_bad(6, "record 6 is missing");
  store_audit_check c;
  verify(&c, NULL);
  cr_assert_eq(c.bad_row_seq, 7);  /* the record after the gap is named */
  cr_assert_eq(c.head_seq, 5);
}

Test(audit, several_records_deleted) {
  store_t *s = open_db(1);
  fill(s, 10);
  store_close(s);
  tamper("DELETE FROM audit WHERE seq IN (3, 4, 5)");
  expect_bad(3, "records 3 to 5 are missing");
}

Test(audit, the_first_record_deleted) {
  store_t *s = open_db(1);
  fill(s, 4);
  store_close(s);
  tamper("DELETE FROM audit WHERE seq = 1");
  expect_bad(1, "record 1 is missing");
}

Test(audit, two_records_swapped) {
  store_t *s = open_db(1);
  fill(s, 8);
  store_close(s);
  /* Swap everything but seq between 3 and 4: each row keeps its own
   * hash, so only the order changed. */
  tamper("UPDATE audit SET seq = -3 WHERE seq = 3;"
         "UPDATE audit SET seq = 3 WHERE seq = 4;"
         "UPDATE audit SET seq = 4 WHERE seq = -3");
  expect_bad(3, "the seq column is 3 but the hashed record says 4");
}

Test(audit, a_wrong_prev) {
  store_t *s = open_db(1);
  fill(s, 8);
  store_close(s);
  tamper("UPDATE audit SET prev_hash = (SELECT hash FROM audit WHERE seq = 2)"
         " WHERE seq = 5");
  expect_bad(5, "prev_hash column differs");
}

Test(audit, a_wrong_prev_in_both_places) {
  store_t *s = open_db(1);
  fill(s, 8);
  store_close(s);
  /* The prev rewritten consistently in the column and the text. */
  tamper("UPDATE audit SET record = replace(record, prev_hash,"
         " (SELECT hash FROM audit WHERE seq = 2)),"
         " prev_hash = (SELECT hash FROM audit WHERE seq = 2) WHERE seq = 5");
  expect_bad(5, "prev_hash is not the hash of record 4");
}

Test(audit, a_record_rewritten_with_its_hash_recomputed) {
  store_t *s = open_db(1);
  fill(s, 8);
  /* The forger recomputes record 4's hash: record 4 verifies by itself,
   * the link from record 5 does not. */
  char *rec = store_audit_record(4, 1700000000004LL, "alice", "run-b",
                                 "step.completed", "{\"i\":4,\"name\":\"forged\"}",
                                 NULL);
  cr_assert_not_null(rec);
  store_close(s);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
  sqlite3_stmt *st;
  sqlite3_prepare_v2(db, "SELECT prev_hash FROM audit WHERE seq = 4", -1, &st,
                     NULL);
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  char prev[65], h[65];
  snprintf(prev, sizeof prev, "%s", sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  free(rec);
  rec = store_audit_record(4, 1700000000004LL, "alice", "run-b",
                           "step.completed", "{\"i\":4,\"name\":\"forged\"}",
                           prev);
  store_audit_hash(prev, rec, h);
  char *sql = sqlite3_mprintf("UPDATE audit SET record = %Q, hash = %Q "
                              "WHERE seq = 4", rec, h);
  tamper(sql);
  sqlite3_free(sql);
  free(rec);
  expect_bad(5, "prev_hash is not the hash of record 4");
}

/* ---- redaction (core/lua/audit.c): what is hashed cannot be taken back -- */

static void redacts(const char *in, const char *want) {
  char *out = audit_redact_text(in);
  if (!want) {
    cr_assert_null(out, "'%s' was changed to '%s'", in, out ? out : "");
    return;
  }
  cr_assert_not_null(out, "'%s' was not redacted", in);
  cr_assert_str_eq(out, want);
  free(out);
}

Test(audit, credential_text_is_masked) {
  redacts("GET https://api.example.com/v1 answered 503", NULL);
  redacts("step basic smoke tests", NULL);
  redacts("curl -H 'Authorization: Bearer abc.def' https://x",
          "curl -H 'Authorization: [redacted]' https://x");
  redacts("authorization=Basic dXNlcjpwYXNz;", "authorization=[redacted];");
  redacts("sent bearer tok123 along", "sent bearer [redacted] along");
  redacts("clone https://bob:s3cret@git.example.com/r.git failed",
          "clone https://[redacted]@git.example.com/r.git failed");
  redacts("DB_PASSWORD=hunter2 ./migrate", "DB_PASSWORD=[redacted] ./migrate");
  redacts("{\"api_key\": \"k-123\"}", "{\"api_key\": \"[redacted]\"}");
  redacts("x eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl y",
          "x [redacted] y");
  redacts("push with ghp_0123456789abcdefghijABCDEFGHIJ012345 denied",
          "push with [redacted] denied");
  redacts("key AKIAIOSFODNN7EXAMPLE", "key [redacted]");
  redacts("a\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE "
          "KEY-----\nb", "a\n[redacted]\nb");
}

Test(audit, credential_keys_are_masked_and_keys_kept) {
  cJSON *d = cJSON_Parse("{\"by\":\"alice\",\"token\":\"abc123secret\","
                         "\"nested\":{\"Password\":42,\"ok\":[\"Bearer zz\"]},"
                         "\"X-Api-Key\":{\"a\":1},\"has_secret\":false}");
  cr_assert_not_null(d);
  audit_redact(d);
  char *t = cJSON_PrintUnformatted(d);
  cr_assert_str_eq(t, "{\"by\":\"alice\",\"token\":\"[redacted]\","
                      "\"nested\":{\"Password\":\"[redacted]\","
                      "\"ok\":[\"Bearer [redacted]\"]},"
                      "\"X-Api-Key\":\"[redacted]\",\"has_secret\":false}");
  free(t);
  cJSON_Delete(d);
}
