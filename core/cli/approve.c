/* summit approve | reject: decisions on approval gates, and the listing of
 * open gates for runs --waiting and status (docs/approvals.md).
 *
 * A decision is judged with the same policy the run uses (engine/approval.c)
 * before it is recorded, so one that cannot count is refused at once with
 * the reason, and audited as approval.refused. The run judges again when it
 * reads the decision: this process only records. */
#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/approval.h"
#include "engine/engine.h"
#include "engine/events.h"
#include "engine/runtime.h"
#include "io/file.h"
#include "io/term.h"
#include "lua/audit.h"
#include "store/store.h"

#define MAX_BINDS 64

/* A run that can never go on (a failed run can be resumed). */
static int finished(const char *status) {
  static const char *const FINAL[] = {"succeeded", "cancelled", "rolled_back",
                                      NULL};
  for (int i = 0; FINAL[i]; i++)
    if (status && !strcmp(status, FINAL[i])) return 1;
  return 0;
}

/* ---- the open waits of runs ------------------------------------------ */

/* The decisions on a gate, owned copies; sigs[i] is the signature of
 * d[i] (NULL: none). */
typedef struct {
  appr_decision *d;
  char **sigs;
  int n, cap;
} decisions;

static void decisions_free(decisions *ds) {
  for (int i = 0; i < ds->n; i++) {
    free((char *)ds->d[i].actor);
    free((char *)ds->d[i].decision);
    free((char *)ds->d[i].bind);
    free((char *)ds->d[i].comment);
    free((char *)ds->d[i].sig_error);
    free(ds->sigs[i]);
  }
  free(ds->d);
  free(ds->sigs);
  memset(ds, 0, sizeof *ds);
}

/* Appends a copy of d and sig; -1 when out of memory. */
static int decisions_add(decisions *ds, const appr_decision *d,
                         const char *sig) {
  if (ds->n == ds->cap) {
    int cap = ds->cap ? 2 * ds->cap : 8;
    appr_decision *nd = realloc(ds->d, (size_t)cap * sizeof *nd);
    if (!nd) return -1;
    ds->d = nd;
    char **ns = realloc(ds->sigs, (size_t)cap * sizeof *ns);
    if (!ns) return -1;
    ds->sigs = ns;
    ds->cap = cap;
  }
  appr_decision *c = &ds->d[ds->n];
  *c = *d;
  c->actor = strdup(d->actor);
  c->decision = strdup(d->decision);
  c->bind = d->bind ? strdup(d->bind) : NULL;
  c->comment = d->comment ? strdup(d->comment) : NULL;
  c->sig_error = d->sig_error ? strdup(d->sig_error) : NULL;
  ds->sigs[ds->n++] = sig ? strdup(sig) : NULL;
  return 0;
}

static int collect(void *ud, const store_approval *a) {
  appr_decision d = {.actor = a->actor, .decision = a->decision,
                     .bind = a->bind, .comment = a->comment,
                     .ts_ms = a->ts_ms,
                     .sig = a->signature ? APPR_SIG_UNCHECKED : APPR_SIG_NONE};
  return decisions_add(ud, &d, a->signature);
}

static void add_time(cJSON *o, const char *k, int64_t ms) {
  char ts[40];
  if (!ms) return;
  events_rfc3339(ms, ts, sizeof ts);
  cJSON_AddStringToObject(o, k, ts);
}

/* The JSON of one open wait: what it needs, who has approved, the command
 * that answers it. Signatures are taken as given here (the run checks). */
static cJSON *wait_json(store_t *s, const store_wait *w) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "run", w->run_id);
  if (w->runbook) cJSON_AddStringToObject(o, "runbook", w->runbook);
  if (w->status) cJSON_AddStringToObject(o, "status", w->status);
  cJSON_AddStringToObject(o, "kind", "approval");
  cJSON_AddStringToObject(o, "gate", w->gate);
  cJSON_AddStringToObject(o, "key", w->wait_key);
  cJSON_AddNumberToObject(o, "attempt", (double)w->attempt);
  add_time(o, "since", w->since_ms);
  add_time(o, "deadline", w->deadline_ms);
  char err[300];
  appr_policy *p = approval_policy_new(w->request, err, sizeof err);
  if (!p) {
    cJSON_AddStringToObject(o, "error", err);
    return o;
  }
  const cJSON *req = approval_request(p);
  char needs[512];
  approval_describe(p, needs, sizeof needs);
  cJSON_AddStringToObject(o, "needs", needs);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "roles");
  if (v && !cJSON_IsNull(v))
    cJSON_AddItemToObject(o, "roles", cJSON_Duplicate(v, 1));
  v = cJSON_GetObjectItemCaseSensitive(req, "reason");
  if (cJSON_IsString(v)) cJSON_AddStringToObject(o, "reason", v->valuestring);
  v = cJSON_GetObjectItemCaseSensitive(req, "bind");
  if (cJSON_IsObject(v) && v->child)
    cJSON_AddItemToObject(o, "bind", cJSON_Duplicate(v, 1));
  v = cJSON_GetObjectItemCaseSensitive(req, "on_timeout");
  if (cJSON_IsString(v) && w->deadline_ms)
    cJSON_AddStringToObject(o, "on_timeout", v->valuestring);
  if (approval_signed(p)) cJSON_AddBoolToObject(o, "signed", 1);
  if (w->started_by) cJSON_AddStringToObject(o, "started_by", w->started_by);
  /* A listing does not run ssh-keygen: a start signature counts as the
   * run will find it, unchecked (approve and the run check it). */
  store_run r;
  if (approval_signed(p) && store_run_get(s, w->run_id, &r) == STORE_OK) {
    if (r.start_sig) {
      approval_set_starter(p, APPR_SIG_UNCHECKED, r.started_by, NULL);
      cJSON_AddBoolToObject(o, "signed_start", 1);
    }
    store_run_free(&r);
  }
  decisions ds = {0};
  store_approval_list(s, w->run_id, w->wait_key, w->attempt, 0, collect, &ds);
  appr_judgement *j = calloc((size_t)ds.n + 1, sizeof *j);
  appr_outcome out;
  if (j) {
    approval_judge(p, ds.d, ds.n, j, &out);
    cJSON *has = cJSON_AddArrayToObject(o, "has");
    for (int i = 0; i < ds.n; i++)
      if (j[i].verdict == APPR_COUNTED)
        cJSON_AddItemToArray(has, cJSON_CreateString(ds.d[i].actor));
    cJSON_AddNumberToObject(o, "have", out.have);
    cJSON_AddNumberToObject(o, "need", out.need);
    const char *state = out.state == APPR_APPROVED   ? "approved"
                        : out.state == APPR_REJECTED ? "rejected"
                                                     : "waiting";
    cJSON_AddStringToObject(o, "state", state);
    if (out.state == APPR_WAITING)
      cJSON_AddStringToObject(o, "missing", out.needs);
  }
  free(j);
  decisions_free(&ds);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "summit approve %s --gate %s", w->run_id, w->gate);
  cJSON_AddStringToObject(o, "command", cmd);
  approval_policy_free(p);
  return o;
}

typedef struct {
  store_t *s;
  cli_wait_fn fn;
  void *ud;
} waits_ctx;

static int one_wait(void *ud, const store_wait *w) {
  waits_ctx *c = ud;
  if (finished(w->status)) return 0;
  return c->fn(c->ud, wait_json(c->s, w));
}

int cli_waits(struct store *s, const char *run_id, cli_wait_fn fn, void *ud) {
  waits_ctx c = {s, fn, ud};
  return store_wait_list(s, run_id, one_wait, &c);
}

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* jstr rendered for a terminal (io/term.h): waits carry gate names,
 * reasons and actors that came from runbooks, params and people. */
static const char *tj(const cJSON *o, const char *k) {
  return term_str(jstr(o, k));
}

void cli_wait_print(const cJSON *w, const char *indent) {
  const char *gate = tj(w, "gate");
  if (!gate) {  /* a sleep */
    printf("%ssleep until %s; continue after it with: summit resume %s\n",
           indent, tj(w, "wake") ? tj(w, "wake") : "?", tj(w, "run"));
    return;
  }
  printf("%sgate '%s' (key %s) since %s", indent, term_str(gate), tj(w, "key"),
         tj(w, "since") ? tj(w, "since") : "?");
  if (tj(w, "deadline"))
    printf(", deadline %s (then %s)", tj(w, "deadline"),
           tj(w, "on_timeout") ? tj(w, "on_timeout") : "fail");
  putchar('\n');
  if (tj(w, "reason")) printf("%s  reason: %s\n", indent, tj(w, "reason"));
  const cJSON *bind = cJSON_GetObjectItemCaseSensitive(w, "bind");
  if (bind) {
    char *b = approval_canonical(bind);
    printf("%s  for:    %s\n", indent, b ? term_str(b) : "?");
    free(b);
  }
  printf("%s  needs:  %s\n", indent, tj(w, "needs") ? tj(w, "needs") : "?");
  const cJSON *has = cJSON_GetObjectItemCaseSensitive(w, "has"), *a;
  printf("%s  has:    ", indent);
  int i = 0;
  cJSON_ArrayForEach(a, has) printf("%s%s", i++ ? ", " : "", term_str(a->valuestring));
  if (!i) printf("nobody yet");
  const cJSON *have = cJSON_GetObjectItemCaseSensitive(w, "have"),
              *need = cJSON_GetObjectItemCaseSensitive(w, "need");
  if (cJSON_IsNumber(have) && cJSON_IsNumber(need))
    printf(" (%d of %d)", (int)have->valuedouble, (int)need->valuedouble);
  if (tj(w, "missing")) {
    printf("; still needs %s\n", tj(w, "missing"));
    printf("%s  approve with: %s\n", indent, tj(w, "command"));
  } else if (tj(w, "state")) {
    printf("; %s: continue with: summit resume %s\n", tj(w, "state"),
           tj(w, "run"));
  } else {
    putchar('\n');
  }
}

/* ---- approve, reject -------------------------------------------------- */

typedef struct {
  const char *cmd, *decision;
  const char *run_id, *gate, *key, *comment, *sign_key, *sig_file;
  const char *binds[MAX_BINDS];
  int nbinds, message;
} opts;

static int parse(opts *o, int argc, char **argv) {
  for (int i = 0; i < argc; i++) {
    const char *v;
    int r;
    if ((r = cli_opt(argc, argv, &i, "--gate", &v))) {
      if (r < 0) return EXIT_USAGE;
      o->gate = v;
    } else if ((r = cli_opt(argc, argv, &i, "--comment", &v))) {
      if (r < 0) return EXIT_USAGE;
      o->comment = v;
    } else if ((r = cli_opt(argc, argv, &i, "--key", &v))) {
      if (r < 0) return EXIT_USAGE;
      o->key = v;
    } else if ((r = cli_opt(argc, argv, &i, "--bind", &v))) {
      if (r < 0) return EXIT_USAGE;
      if (!strchr(v, '=') || v[0] == '=')
        return cli_usage(o->cmd, "--bind takes key=value, not '%s'", v);
      if (o->nbinds == MAX_BINDS) return cli_usage(o->cmd, "too many --bind");
      o->binds[o->nbinds++] = v;
    } else if ((r = cli_opt(argc, argv, &i, "--sign", &v))) {
      if (r < 0) return EXIT_USAGE;
      o->sign_key = v;
    } else if ((r = cli_opt(argc, argv, &i, "--signature", &v))) {
      if (r < 0) return EXIT_USAGE;
      o->sig_file = v;
    } else if (cli_flag(argv, i, "--message")) {
      o->message = 1;
    } else if (argv[i][0] == '-') {
      return cli_usage(o->cmd, "unknown option %s", argv[i]);
    } else if (!o->run_id) {
      o->run_id = argv[i];
    } else {
      return cli_usage(o->cmd, "one run at a time");
    }
  }
  if (!o->run_id || !o->gate)
    return cli_usage(o->cmd, "which run and gate? summit %s RUN --gate G%s",
                     o->cmd, strcmp(o->cmd, "reject") ? "" : " --comment C");
  if (!strcmp(o->cmd, "reject") && !o->message &&
      (!o->comment || !*o->comment))
    return cli_usage(o->cmd, "a rejection needs --comment saying why");
  if (o->sign_key && o->sig_file)
    return cli_usage(o->cmd, "--sign and --signature exclude each other");
  return 0;
}

typedef struct {
  const char *gate, *key;
  char *found_key, *request;
  int64_t attempt, deadline;
  int matches;
  char gates[1024];  /* the gates the run waits on, for the message */
} find_ctx;

static int find_gate(void *ud, const store_wait *w) {
  find_ctx *f = ud;
  size_t n = strlen(f->gates);
  snprintf(f->gates + n, sizeof f->gates - n, "%s'%s'", n ? ", " : "", w->gate);
  if (strcmp(w->gate, f->gate) != 0) return 0;
  if (f->key && strcmp(w->wait_key, f->key) != 0) return 0;
  f->matches++;
  free(f->found_key);
  free(f->request);
  f->found_key = strdup(w->wait_key);
  f->request = strdup(w->request);
  f->attempt = w->attempt;
  f->deadline = w->deadline_ms;
  return 0;
}

/* Records a refused decision in the audit trail and says why; exit 1. */
static int refuse(store_t *s, const opts *o, const char *actor,
                  const find_ctx *f, const char *reason) {
  cJSON *d = cJSON_CreateObject();
  cJSON_AddStringToObject(d, "gate", o->gate);
  if (f && f->found_key) {
    cJSON_AddStringToObject(d, "key", f->found_key);
    cJSON_AddNumberToObject(d, "attempt", (double)f->attempt);
  }
  cJSON_AddStringToObject(d, "decision", o->decision);
  cJSON_AddStringToObject(d, "reason", reason);
  if (audit_append_to(s, actor, o->run_id, "approval.refused", d, 1) !=
      STORE_OK)
    fprintf(stderr, "summit: recording the refusal: %s\n", store_errmsg(s));
  fprintf(stderr, "summit %s: refused: %s\n", o->cmd, term_str(reason));
  return EXIT_FAILED;
}


static void chomp(char *s) {
  size_t n = s ? strlen(s) : 0;
  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = '\0';
}

/* Runs the ssh-keygen check argv with msg on its stdin, then removes the
 * signature file at path; 1 if the check passes, else 0 with why. */
static int ssh_check(const char **argv, const char *path, const char *msg,
                     char *why, size_t len) {
  cli_output out;
  int rc = cli_run(argv, msg, strlen(msg), &out);
  unlink(path);
  int ok = rc == 0 && out.code == 0;
  if (!ok) {
    chomp(out.err);
    snprintf(why, len, "%s", rc != 0 ? "cannot run ssh-keygen"
                             : out.err && *out.err ? out.err
                                                   : "ssh-keygen refused it");
  }
  cli_output_free(&out);
  return ok;
}

/* ssh-keygen -Y verify of sig over msg for principal; 1 if it verifies,
 * else 0 with why. */
static int verify_sig(const char *allowed, const char *principal,
                      const char *msg, const char *sig, char *why,
                      size_t len) {
  char path[512];
  if (approval_sig_file(sig, path, sizeof path) != 0) {
    snprintf(why, len, "cannot write the signature to a file: %s",
             strerror(errno));
    return 0;
  }
  const char *argv[12];
  approval_verify_argv(argv, allowed, principal, path);
  return ssh_check(argv, path, msg, why, len);
}

/* Who started run r, for a signed gate that forbids self-approval: its
 * start signature (summit run --sign) checked again here, as the run
 * will (the database is not trusted). */
static void check_start(appr_policy *p, const store_run *r) {
  if (!approval_signed(p) || approval_allow_self(p) || !r->start_sig ||
      !r->started_by)
    return;
  const cJSON *as = cJSON_GetObjectItemCaseSensitive(approval_request(p),
                                                     "allowed_signers");
  char why[1024] = "summit.lua names no allowed_signers file", path[512];
  char *msg = approval_start_message(r->id, r->source_sha256, r->params,
                                     r->started_by);
  int ok = 0;
  if (!msg) {
    snprintf(why, sizeof why, "the run's params are not JSON");
  } else if (cJSON_IsString(as)) {
    if (approval_sig_file(r->start_sig, path, sizeof path) != 0) {
      snprintf(why, sizeof why, "cannot write the signature to a file: %s",
               strerror(errno));
    } else {
      const char *argv[12];
      approval_start_verify_argv(argv, as->valuestring, r->started_by, path);
      ok = ssh_check(argv, path, msg, why, sizeof why);
    }
  }
  free(msg);
  approval_set_starter(p, ok ? APPR_SIG_VALID : APPR_SIG_BAD, r->started_by,
                       ok ? NULL : why);
}

/* The principal the allowed signers file names for sig's key: prefer
 * want when it is one of them. NULL (why says) if the key is not there,
 * or if its entry names only patterns ("*", "*@example.com"): a pattern
 * matches anyone, so it cannot be the identity of a decision
 * (docs/approvals.md). */
static char *principal_of(const char *allowed, const char *sig,
                          const char *want, char *why, size_t len) {
  char path[512];
  if (approval_sig_file(sig, path, sizeof path) != 0) {
    snprintf(why, len, "cannot write the signature to a file: %s",
             strerror(errno));
    return NULL;
  }
  const char *argv[12];
  approval_find_argv(argv, allowed, path);
  cli_output out;
  int rc = cli_run(argv, NULL, 0, &out);
  unlink(path);
  char *found = NULL, *save = NULL, pattern[128] = "";
  if (rc == 0 && out.code == 0) {
    /* Principals, one per line or comma-separated. */
    for (char *n = strtok_r(out.out, ",\n", &save); n;
         n = strtok_r(NULL, ",\n", &save)) {
      if (!*n) continue;
      if (!approval_principal_is_name(n)) {
        if (!pattern[0]) snprintf(pattern, sizeof pattern, "%s", n);
        continue;
      }
      if (!found) found = strdup(n);
      if (want && !strcmp(n, want)) {
        free(found);
        found = strdup(n);
        break;
      }
    }
  }
  if (!found && pattern[0])
    snprintf(why, len, "the allowed signers file %s gives the key that made "
             "this signature only the pattern '%s', which names no one; "
             "list the approver by name", allowed, pattern);
  else if (!found)
    snprintf(why, len, "the key that made this signature is not in the "
             "allowed signers file %s", allowed);
  cli_output_free(&out);
  return found;
}

/* The text of a bind value as --bind would write it. */
static char *value_text(const cJSON *v) {
  if (cJSON_IsString(v)) return strdup(v->valuestring);
  if (cJSON_IsBool(v)) return strdup(cJSON_IsTrue(v) ? "true" : "false");
  return cJSON_PrintUnformatted(v);
}

/* Each --bind k=v must be what the gate asks about; NULL or why not. */
static const char *check_binds(const opts *o, const appr_policy *p,
                               const char *actor, char *why, size_t len) {
  const cJSON *bind = cJSON_GetObjectItemCaseSensitive(approval_request(p),
                                                       "bind");
  for (int i = 0; i < o->nbinds; i++) {
    const char *eq = strchr(o->binds[i], '=');
    char k[256];
    snprintf(k, sizeof k, "%.*s", (int)(eq - o->binds[i]), o->binds[i]);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(bind, k);
    if (!v) {
      snprintf(why, len, "%s approves %s, but gate '%s' binds no '%s' (it "
               "asks about %s)", actor, o->binds[i], approval_gate(p), k,
               approval_bind(p));
      return why;
    }
    char *t = value_text(v);
    int same = t && !strcmp(t, eq + 1);
    if (!same)
      snprintf(why, len, "%s approves %s=%s, but gate '%s' asks about "
               "%s=%s; an approval is for exactly the values it names",
               actor, k, eq + 1, approval_gate(p), k, t ? t : "?");
    free(t);
    if (!same) return why;
  }
  return NULL;
}

/* One approve or reject in progress: what it was given, found and made.
 * Everything it owns goes in decision_free. */
typedef struct {
  opts o;
  store_t *s;
  store_run r;
  find_ctx f;
  appr_policy *p;
  decisions ds;               /* the decisions so far, then this one */
  appr_judgement *j;
  appr_outcome out;
  char *msg, *sig, *signer;   /* the signed text, its signature, the key's
                               * principal */
  const char *actor;          /* the user, or the signer when signed */
  appr_sig sig_state;
  char sig_why[1024];         /* why the signature is bad ("": it is not) */
  char why[2200];             /* room for the list of gates (f.gates) */
  int64_t now;
} decide_ctx;

/* What a step returns when the decision goes on to the next step; any
 * other value is the command's exit code. */
#define GO_ON (-1)

static void decision_free(decide_ctx *c) {
  free(c->j);
  decisions_free(&c->ds);
  free(c->msg);
  free(c->sig);
  free(c->signer);
  approval_policy_free(c->p);
  free(c->f.found_key);
  free(c->f.request);
  store_run_free(&c->r);
  store_close(c->s);
}

/* Finds the one open wait of the run on the gate (and --key) asked for;
 * refuses a finished run or a gate it does not wait on. */
static int find_wait(decide_ctx *c) {
  const store_run *r = &c->r;
  const opts *o = &c->o;
  find_ctx *f = &c->f;
  if (finished(r->status)) {
    snprintf(c->why, sizeof c->why, "run %s has finished (%s); nothing "
             "waits on gate '%s'", r->id, r->status, o->gate);
    return refuse(c->s, o, c->actor, NULL, c->why);
  }
  if (store_wait_list(c->s, r->id, find_gate, f) != STORE_OK) {
    fprintf(stderr, "summit: %s\n", store_errmsg(c->s));
    return EXIT_FAILED;
  }
  if (!f->matches) {
    snprintf(c->why, sizeof c->why, "run %s (%s) is not waiting on gate "
             "'%s'%s%s%s", r->id, r->status, o->gate,
             o->key ? " at key " : "", o->key ? o->key : "",
             f->gates[0] ? " (it waits on: " : " (it waits on no gate)");
    if (f->gates[0]) {
      size_t n = strlen(c->why);
      snprintf(c->why + n, sizeof c->why - n, "%s)", f->gates);
    }
    return refuse(c->s, o, c->actor, NULL, c->why);
  }
  if (f->matches > 1)
    return cli_usage(o->cmd, "run %s waits on gate '%s' more than once "
                     "(parallel branches); name the one with --key (see: "
                     "summit status %s)", r->id, o->gate, r->id);
  return GO_ON;
}

/* The gate's policy and the text a decision on it signs (printed, for
 * --message, and that is all). */
static int load_policy(decide_ctx *c) {
  char err[300];
  c->p = approval_policy_new(c->f.request, err, sizeof err);
  if (!c->p) {
    fprintf(stderr, "summit %s: run %s, gate '%s': %s\n", c->o.cmd, c->r.id,
            term_str(c->o.gate), term_str(err));
    return EXIT_FAILED;
  }
  check_start(c->p, &c->r);
  c->msg = approval_message(c->p, c->o.decision);
  if (!c->msg) return EXIT_FAILED;
  if (c->o.message) {
    fputs(c->msg, stdout);
    return EXIT_OK;
  }
  return GO_ON;
}

/* The signature of the decision: made here (--sign) or read (--signature). */
static int get_signature(decide_ctx *c) {
  const opts *o = &c->o;
  if (!o->sign_key) {
    c->sig = io_read_file(o->sig_file, NULL);
    if (c->sig) return GO_ON;
    fprintf(stderr, "summit %s: --signature %s: %s\n", o->cmd, o->sig_file,
            strerror(errno));
    return EXIT_USAGE;
  }
  const char *sargv[12];
  approval_sign_argv(sargv, o->sign_key);
  cli_output out;
  int ok = cli_run(sargv, c->msg, strlen(c->msg), &out) == 0 &&
           out.code == 0 && strstr(out.out, "BEGIN SSH SIGNATURE");
  if (ok) c->sig = strdup(out.out);
  else {
    chomp(out.err);
    fprintf(stderr, "summit %s: ssh-keygen -Y sign -f %s failed: %s\n",
            o->cmd, o->sign_key,
            out.err && *out.err ? out.err : "no signature came out");
  }
  cli_output_free(&out);
  return ok ? GO_ON : EXIT_FAILED;
}

/* A signed decision: its signature, whose principal becomes the actor,
 * checked as the run will check it (sig_state, sig_why). */
static int sign(decide_ctx *c) {
  if (!c->o.sign_key && !c->o.sig_file) return GO_ON;
  if (!approval_signed(c->p))
    return cli_usage(c->o.cmd, "gate '%s' does not take signatures (it is "
                     "not signed = true); drop --sign/--signature",
                     c->o.gate);
  int code = get_signature(c);
  if (code != GO_ON) return code;
  const cJSON *as = cJSON_GetObjectItemCaseSensitive(approval_request(c->p),
                                                     "allowed_signers");
  if (!cJSON_IsString(as)) {
    c->sig_state = APPR_SIG_BAD;
    snprintf(c->sig_why, sizeof c->sig_why,
             "the gate names no allowed_signers");
  } else if (!(c->signer = principal_of(as->valuestring, c->sig, c->actor,
                                        c->sig_why, sizeof c->sig_why))) {
    c->sig_state = APPR_SIG_BAD;
  } else {
    /* The identity of a signed decision is the key's principal. */
    if (strcmp(c->signer, c->actor) != 0)
      fprintf(stderr, "summit %s: signed by %s (the allowed signers "
              "file's name for that key), not %s\n", c->o.cmd,
              term_str(c->signer), term_str(c->actor));
    c->actor = c->signer;
    c->sig_state = verify_sig(as->valuestring, c->actor, c->msg, c->sig,
                              c->sig_why, sizeof c->sig_why)
                       ? APPR_SIG_VALID : APPR_SIG_BAD;
  }
  return GO_ON;
}

/* The signatures of the decisions so far, checked again (the database is
 * not trusted). */
static void recheck_signatures(decide_ctx *c) {
  decisions *ds = &c->ds;
  const cJSON *allowed = cJSON_GetObjectItemCaseSensitive(
      approval_request(c->p), "allowed_signers");
  for (int i = 0; approval_signed(c->p) && i < ds->n; i++) {
    if (!ds->sigs[i]) continue;
    char *m = approval_message(c->p, ds->d[i].decision);
    char w[1024] = "no allowed_signers";
    int ok = m && cJSON_IsString(allowed) &&
             approval_principal_is_name(ds->d[i].actor) &&
             verify_sig(allowed->valuestring, ds->d[i].actor, m, ds->sigs[i],
                        w, sizeof w);
    free(m);
    ds->d[i].sig = ok ? APPR_SIG_VALID : APPR_SIG_BAD;
    if (!ok) ds->d[i].sig_error = strdup(w);
  }
}

/* Judges the decisions so far, then this one, as the run will; refuses
 * one that cannot count, and says so of one that comes too late. */
static int judge(decide_ctx *c) {
  const char *bad_bind = check_binds(&c->o, c->p, c->actor, c->why,
                                     sizeof c->why);
  if (bad_bind) return refuse(c->s, &c->o, c->actor, &c->f, bad_bind);
  if (store_approval_list(c->s, c->r.id, c->f.found_key, c->f.attempt, 0,
                          collect, &c->ds) != STORE_OK) {
    fprintf(stderr, "summit: %s\n", store_errmsg(c->s));
    return EXIT_FAILED;
  }
  recheck_signatures(c);
  c->now = runtime_now_ms();
  appr_decision mine = {.actor = c->actor, .decision = c->o.decision,
                        .bind = approval_bind(c->p), .comment = c->o.comment,
                        .ts_ms = c->now, .sig = c->sig_state,
                        .sig_error = c->sig_why[0] ? c->sig_why : NULL};
  if (decisions_add(&c->ds, &mine, c->sig) != 0 ||
      !(c->j = calloc((size_t)c->ds.n, sizeof *c->j)))
    return EXIT_FAILED;
  approval_judge(c->p, c->ds.d, c->ds.n, c->j, &c->out);
  appr_judgement *me = &c->j[c->ds.n - 1];
  if (me->verdict == APPR_REFUSED)
    return refuse(c->s, &c->o, c->actor, &c->f, me->reason);
  if (me->verdict == APPR_AFTER) {
    printf("%s; nothing recorded", term_str(me->reason));
    if (c->out.state == APPR_APPROVED)
      printf(" (the run continues with: summit resume %s)", c->r.id);
    putchar('\n');
    return strcmp(c->o.decision, "approve") == 0 &&
                   c->out.state == APPR_APPROVED
               ? EXIT_OK : EXIT_FAILED;
  }
  return GO_ON;
}

/* Records the decision (me: its judgement) and its audit record. */
static int record(decide_ctx *c, const appr_judgement *me) {
  const opts *o = &c->o;
  const find_ctx *f = &c->f;
  store_approval a = {.run_id = c->r.id, .wait_key = f->found_key,
                      .attempt = f->attempt, .gate = o->gate,
                      .actor = c->actor, .decision = o->decision,
                      .comment = o->comment, .bind = approval_bind(c->p),
                      .signature = c->sig, .ts_ms = c->now};
  cJSON *d = cJSON_CreateObject();
  cJSON_AddStringToObject(d, "gate", o->gate);
  cJSON_AddStringToObject(d, "key", f->found_key);
  cJSON_AddNumberToObject(d, "attempt", (double)f->attempt);
  if (o->comment) cJSON_AddStringToObject(d, "comment", o->comment);
  cJSON_AddItemToObject(d, "bind", cJSON_Parse(approval_bind(c->p)));
  cJSON_AddBoolToObject(d, "signed", c->sig != NULL);
  if (me->verdict == APPR_DUPLICATE) cJSON_AddBoolToObject(d, "duplicate", 1);
  cJSON_AddNumberToObject(d, "have", c->out.have);
  cJSON_AddNumberToObject(d, "need", c->out.need);
  const char *action = me->verdict == APPR_REJECTS ? "approval.rejected"
                                                   : "approval.given";
  /* The decision and its record share one commit; the comment may quote a
   * credential, which the audit append masks. */
  if (store_approval_add(c->s, &a, 0) != STORE_OK) {
    cJSON_Delete(d);
    d = NULL;
  }
  if (!d || audit_append_to(c->s, c->actor, c->r.id, action, d, 1) !=
                STORE_OK) {
    fprintf(stderr, "summit %s: recording the decision: %s\n", o->cmd,
            store_errmsg(c->s));
    return EXIT_FAILED;
  }
  return GO_ON;
}

/* Tells what the recorded decision (me) did to the gate and the run. */
static void report(const decide_ctx *c, const appr_judgement *me) {
  const store_run *r = &c->r;
  const appr_outcome *out = &c->out;
  const char *gate = c->o.gate;
  if (me->verdict == APPR_REJECTS) {
    printf("rejected gate '%s' of run %s as %s: the gate fails, and with it "
           "the run (its undo steps run)\n", term_str(gate), r->id,
           term_str(c->actor));
  } else if (me->verdict == APPR_DUPLICATE) {
    printf("%s; recorded (%d of %d)", term_str(me->reason), out->have,
           out->need);
    if (out->state == APPR_WAITING)
      printf("; still needs %s", term_str(out->needs));
    putchar('\n');
  } else if (out->state == APPR_APPROVED) {
    printf("approved gate '%s' of run %s as %s: the gate is released (%d of "
           "%d)\n", term_str(gate), r->id, term_str(c->actor), out->have,
           out->need);
  } else {
    printf("approved gate '%s' of run %s as %s (%d of %d); still needs %s\n",
           term_str(gate), r->id, term_str(c->actor), out->have, out->need,
           term_str(out->needs));
  }
  if (out->state != APPR_WAITING) {
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    if (r->owner_pid && store_run_alive(r->status, r->owner_pid,
                                        r->owner_host, r->lease_expires_ms,
                                        host, c->now) &&
        !strcmp(r->status, "running"))
      printf("run %s (pid %lld) goes on by itself\n", r->id,
             (long long)r->owner_pid);
    else
      printf("continue the run with: summit resume %s\n", r->id);
  }
}

static int decide(const char *cmd, const char *decision, int argc,
                  char **argv) {
  decide_ctx c = {.o = {.cmd = cmd, .decision = decision}};
  int code = parse(&c.o, argc, argv);
  if (code) return code;
  if (!(c.s = cli_open_store())) return EXIT_FAILED;
  c.f = (find_ctx){.gate = c.o.gate, .key = c.o.key};
  c.actor = cli_user();
  int rc = store_run_get(c.s, c.o.run_id, &c.r);
  if (rc != STORE_OK) {
    if (rc == STORE_NOTFOUND)
      fprintf(stderr, "summit %s: no run %s (see: summit runs --waiting)\n",
              cmd, c.o.run_id);
    else
      fprintf(stderr, "summit %s: %s\n", cmd, store_errmsg(c.s));
    store_close(c.s);
    return rc == STORE_NOTFOUND ? EXIT_USAGE : EXIT_FAILED;
  }
  if ((code = find_wait(&c)) == GO_ON && (code = load_policy(&c)) == GO_ON &&
      (code = sign(&c)) == GO_ON && (code = judge(&c)) == GO_ON &&
      (code = record(&c, &c.j[c.ds.n - 1])) == GO_ON) {
    report(&c, &c.j[c.ds.n - 1]);
    code = EXIT_OK;
  }
  decision_free(&c);
  return code;
}

int cmd_approve(int argc, char **argv) {
  return decide("approve", "approve", argc, argv);
}

int cmd_reject(int argc, char **argv) {
  return decide("reject", "reject", argc, argv);
}
