/* summit audit verify | export | show: the audit trail (docs/audit.md). */
#include <cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/cli.h"
#include "io/rfc3339.h"
#include "io/term.h"
#include "engine/duration.h"
#include "engine/engine.h"
#include "engine/events.h"
#include "engine/runtime.h"
#include "store/store.h"

/* ---- --since: RFC 3339 or a duration ago ----------------------------- */

static int parse_since(const char *s, int64_t *ms) {
  /* Lenient: a date alone or a time without an offset is what people
   * type for --since. */
  if (rfc3339_parse_ms(s, RFC3339_LENIENT, ms) == 0) return 0;
  double d;
  char err[200];
  if (duration_parse(s, &d, err, sizeof err) == 0) {
    *ms = runtime_now_ms() - (int64_t)d;
    return 0;
  }
  return -1;
}

/* ---- verify ------------------------------------------------------------ */

static int is_hash(const char *h) {
  if (strlen(h) != 64) return 0;
  for (const char *p = h; *p; p++)
    if (!isxdigit((unsigned char)*p)) return 0;
  return 1;
}

cJSON *cli_audit_verify_json(const store_audit_check *c, const char *head) {
  int head_lost = head && !c->bad_seq && !c->want_head_seq;
  char ts[40] = "";
  if (c->bad_seq) events_rfc3339(c->bad_ts_ms, ts, sizeof ts);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddBoolToObject(o, "ok", !c->bad_seq && !head_lost);
  cJSON_AddNumberToObject(o, "records", (double)c->count);
  cJSON_AddNumberToObject(o, "head_seq", (double)c->head_seq);
  cJSON_AddStringToObject(o, "head", c->head);
  if (c->bad_seq) {
    cJSON *b = cJSON_CreateObject();
    cJSON_AddNumberToObject(b, "seq", (double)c->bad_seq);
    if (c->bad_row_seq != c->bad_seq)
      cJSON_AddNumberToObject(b, "next_seq", (double)c->bad_row_seq);
    if (c->bad_run[0]) cJSON_AddStringToObject(b, "run", c->bad_run);
    else cJSON_AddNullToObject(b, "run");
    cJSON_AddStringToObject(b, "action", c->bad_action);
    cJSON_AddStringToObject(b, "ts", ts);
    cJSON_AddStringToObject(b, "reason", c->reason);
    cJSON_AddItemToObject(o, "bad", b);
  }
  if (head) {
    cJSON_AddStringToObject(o, "want_head", head);
    if (c->want_head_seq)
      cJSON_AddNumberToObject(o, "want_head_seq", (double)c->want_head_seq);
    else cJSON_AddNullToObject(o, "want_head_seq");
  }
  return o;
}

/* The result of `verify --json`: one line. */
static void verify_json(const store_audit_check *c, const char *head) {
  cJSON *o = cli_audit_verify_json(c, head);
  char *text = cJSON_PrintUnformatted(o);
  if (text) puts(text);
  free(text);
  cJSON_Delete(o);
}

/* For people: where the chain breaks (ts: that record's time), and what
 * before it still verifies. */
static void verify_print_broken(const store_audit_check *c, const char *ts) {
  if (c->bad_row_seq != c->bad_seq)
    printf("audit trail BROKEN at record %lld: %s\n"
           "  the record after the gap: %lld (run %s, %s, %s)\n",
           (long long)c->bad_seq, term_str(c->reason),
           (long long)c->bad_row_seq,
           c->bad_run[0] ? term_str(c->bad_run) : "-",
           term_str(c->bad_action), ts);
  else
    printf("audit trail BROKEN at record %lld (run %s, %s, %s): %s\n",
           (long long)c->bad_seq, c->bad_run[0] ? term_str(c->bad_run) : "-",
           term_str(c->bad_action), ts, term_str(c->reason));
  if (c->head_seq)
    printf("  records 1 to %lld verify; the hash of record %lld is %s\n",
           (long long)c->head_seq, (long long)c->head_seq, c->head);
  else
    printf("  no record before it verifies\n");
}

/* For people: an intact chain, its head, and what the --head given (or
 * NULL) says about its end. */
static void verify_print_intact(const store_audit_check *c, const char *head,
                                int head_lost) {
  if (c->count)
    printf("audit trail intact: %lld records (seq 1 to %lld)\n",
           (long long)c->count, (long long)c->head_seq);
  else
    printf("audit trail intact: no records yet\n");
  printf("head: seq %lld hash %s\n", (long long)c->head_seq, c->head);
  if (head_lost)
    printf("BROKEN: the remembered head %s is not in the chain: records "
           "were removed from its end, or the chain was rewritten\n",
           head);
  else if (head)
    printf("the remembered head is record %lld: nothing up to it was "
           "removed; %lld record(s) since\n",
           (long long)c->want_head_seq,
           (long long)(c->head_seq - c->want_head_seq));
  else if (c->count)
    printf("(keep the head hash elsewhere: `summit audit verify --head "
           "HASH` later proves nothing was cut from the end)\n");
}

static int verify(int argc, char **argv) {
  int json = 0;
  const char *head = NULL;
  for (int i = 0; i < argc; i++) {
    int r;
    if (cli_flag(argv, i, "--json")) json = 1;
    else if ((r = cli_opt(argc, argv, &i, "--head", &head))) {
      if (r < 0) return EXIT_USAGE;
      if (!is_hash(head))
        return cli_usage("audit", "--head wants a record's hash: 64 hex "
                                  "digits, as `summit audit verify` prints "
                                  "it (got '%s')", head);
    } else {
      return cli_usage("audit", "verify: unknown argument %s", argv[i]);
    }
  }
  store_t *s = cli_open_store();
  if (!s) return EXIT_FAILED;
  store_audit_check c;
  int rc = store_audit_verify(s, head, &c);
  if (rc != STORE_OK)
    fprintf(stderr, "summit audit verify: %s\n", store_errmsg(s));
  store_close(s);
  if (rc != STORE_OK) return EXIT_FAILED;
  int head_lost = head && !c.bad_seq && !c.want_head_seq;
  char ts[40] = "";
  if (c.bad_seq) events_rfc3339(c.bad_ts_ms, ts, sizeof ts);
  if (json) verify_json(&c, head);
  else if (c.bad_seq) verify_print_broken(&c, ts);
  else verify_print_intact(&c, head, head_lost);
  return c.bad_seq || head_lost ? EXIT_FAILED : EXIT_OK;
}

/* ---- export -------------------------------------------------------------- */

static void add_str_or_null(cJSON *o, const char *k, const char *v) {
  if (v) cJSON_AddStringToObject(o, k, v);
  else cJSON_AddNullToObject(o, k);
}

static int export_one(void *ud, const store_audit_row *r) {
  long long *n = ud;
  char ts[40];
  events_rfc3339(r->ts_ms, ts, sizeof ts);
  cJSON *rec = r->record ? cJSON_Parse(r->record) : NULL;
  cJSON *detail = cJSON_DetachItemFromObjectCaseSensitive(rec, "detail");
  cJSON_Delete(rec);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "seq", (double)r->seq);
  cJSON_AddStringToObject(o, "ts", ts);
  add_str_or_null(o, "actor", r->actor);
  add_str_or_null(o, "run", r->run_id);
  add_str_or_null(o, "action", r->action);
  cJSON_AddItemToObject(o, "detail", detail ? detail : cJSON_CreateNull());
  add_str_or_null(o, "prev", r->prev_hash);
  add_str_or_null(o, "hash", r->hash);
  /* The exact text that was hashed: an auditor recomputes the chain from
   * it without re-encoding anything. */
  add_str_or_null(o, "record", r->record);
  char *text = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (!text) return -1;
  puts(text);
  free(text);
  (*n)++;
  return 0;
}

static int export(int argc, char **argv) {
  const char *run = NULL, *since = NULL;
  for (int i = 0; i < argc; i++) {
    int r;
    if ((r = cli_opt(argc, argv, &i, "--run", &run)) ||
        (r = cli_opt(argc, argv, &i, "--since", &since))) {
      if (r < 0) return EXIT_USAGE;
    } else {
      return cli_usage("audit", "export: unknown argument %s", argv[i]);
    }
  }
  int64_t since_ms = 0;
  if (since && parse_since(since, &since_ms) != 0)
    return cli_usage("audit", "--since '%s': expected an RFC 3339 time "
                              "(2026-11-27T10:00:00Z) or a duration ago "
                              "(24h, 7d)", since);
  store_t *s = cli_open_store();
  if (!s) return EXIT_FAILED;
  long long n = 0;
  int64_t head_seq = 0;
  char head[65];
  int rc = store_audit_each(s, run, since_ms, export_one, &n);
  if (rc == STORE_OK) rc = store_audit_head(s, &head_seq, head);
  if (rc != STORE_OK) {
    fprintf(stderr, "summit audit export: %s\n",
            rc == STORE_ERR ? store_errmsg(s) : "out of memory");
    store_close(s);
    return EXIT_FAILED;
  }
  store_close(s);
  fflush(stdout);
  /* The head goes to stderr, so stdout stays one record per line. */
  fprintf(stderr, "exported %lld record(s); head of the whole trail: seq %lld "
                  "hash %s\n", n, (long long)head_seq, head);
  return EXIT_OK;
}

/* ---- show: a human timeline of one run ------------------------------------ */

/* Appends " k=v" for one detail member to buf (bounded). */
static void detail_part(char *buf, size_t len, const cJSON *v) {
  size_t n = strlen(buf);
  if (n + 4 >= len) return;
  char *val = NULL;
  if (cJSON_IsString(v)) {
    int plain = *v->valuestring != '\0';
    for (const char *p = v->valuestring; *p; p++)
      if (isspace((unsigned char)*p) || *p == '"' || *p == '=') plain = 0;
    if (plain) val = strdup(v->valuestring);
  }
  if (!val) val = cJSON_PrintUnformatted(v);
  snprintf(buf + n, len - n, "%s%s=%s", n ? " " : "", v->string,
           val ? val : "?");
  free(val);
}

static int show_one(void *ud, const store_audit_row *r) {
  long long *n = ud;
  char ts[40];
  events_rfc3339(r->ts_ms, ts, sizeof ts);
  ts[10] = ' ';
  ts[23] = '\0';  /* 2026-11-27 10:45:40.123 (UTC) */
  char detail[160] = "";
  cJSON *rec = r->record ? cJSON_Parse(r->record) : NULL;
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(rec, "detail");
  /* The name first, then the rest; kind and outcome are in the action. */
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(d, "name");
  if (name) detail_part(detail, sizeof detail, name);
  const cJSON *v;
  cJSON_ArrayForEach(v, d) {
    if (v == name || !strcmp(v->string, "kind") ||
        !strcmp(v->string, "outcome"))
      continue;
    detail_part(detail, sizeof detail, v);
  }
  if (strlen(detail) >= sizeof detail - 2) strcpy(detail + sizeof detail - 4, "...");
  if (!rec) snprintf(detail, sizeof detail, "(record unreadable)");
  cJSON_Delete(rec);
  printf("%s  %-5lld %-12s %-22s %s\n", ts, (long long)r->seq,
         r->actor ? term_str(r->actor) : "?",
         r->action ? term_str(r->action) : "?", term_str(detail));
  (*n)++;
  return 0;
}

static int show(int argc, char **argv) {
  const char *id = NULL;
  for (int i = 0; i < argc; i++) {
    if (argv[i][0] == '-')
      return cli_usage("audit", "show: unknown option %s", argv[i]);
    if (id) return cli_usage("audit", "show: one run at a time");
    id = argv[i];
  }
  if (!id) return cli_usage("audit", "show: which run? summit audit show RUN");
  store_t *s = cli_open_store();
  if (!s) return EXIT_FAILED;
  store_run r;
  int have = store_run_get(s, id, &r) == STORE_OK;
  if (have)
    printf("audit trail of run %s (%s%s%s, %s, started by %s)\n", r.id,
           term_str(r.name), r.version ? " " : "",
           r.version ? term_str(r.version) : "", r.status,
           r.started_by ? term_str(r.started_by) : "?");
  else
    printf("audit trail of run %s (not in the runs table)\n", id);
  printf("%-23s  %-5s %-12s %-22s %s\n", "TIME (UTC)", "SEQ", "ACTOR",
         "ACTION", "DETAIL");
  long long n = 0;
  int rc = store_audit_each(s, id, 0, show_one, &n);
  if (have) store_run_free(&r);
  if (rc != STORE_OK) {
    fprintf(stderr, "summit audit show: %s\n", store_errmsg(s));
    store_close(s);
    return EXIT_FAILED;
  }
  store_close(s);
  if (!have && !n) {
    fprintf(stderr, "summit: no run %s\n", id);
    return EXIT_USAGE;
  }
  return EXIT_OK;
}

int cmd_audit(int argc, char **argv) {
  if (argc < 1)
    return cli_usage("audit", "which? summit audit verify | export | show RUN");
  if (!strcmp(argv[0], "verify")) return verify(argc - 1, argv + 1);
  if (!strcmp(argv[0], "export")) return export(argc - 1, argv + 1);
  if (!strcmp(argv[0], "show")) return show(argc - 1, argv + 1);
  return cli_usage("audit", "unknown subcommand '%s' (verify, export, show)",
                   argv[0]);
}
