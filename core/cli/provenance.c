/* summit provenance RUN: an in-toto Statement v1 with an SLSA Provenance v1
 * predicate describing one run (docs/provenance.md), optionally signed with
 * ssh-keygen -Y sign.
 *
 * The statement is built from what the state database recorded: the pinned
 * runbook (name, version, SHA-256 of the source), the resolved params
 * (secret-looking names masked), the git state of the work tree at the
 * start, approvals, start and finish, and the outcome. */
#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "io/base64.h"
#include "engine/events.h"
#include "store/store.h"

#define STATEMENT_TYPE "https://in-toto.io/Statement/v1"
#define PREDICATE_TYPE "https://slsa.dev/provenance/v1"
/* Identifiers, not web pages: URNs say so. */
#define BUILD_TYPE "urn:summit:buildtype:runbook:v1"
#define SIGN_NAMESPACE "summit-provenance"

static const char USAGE_CMD[] = "provenance";

/* A param whose name says it carries a secret (the same rule the
 * journal's redaction applies to headers and query strings). */
static int secret_name(const char *k) {
  static const char *const WORDS[] = {"token", "secret", "password", "passwd",
                                      "credential", "apikey", "api_key",
                                      "private_key", "authorization"};
  char low[256];
  size_t n = strlen(k);
  if (n >= sizeof low) n = sizeof low - 1;
  for (size_t i = 0; i < n; i++)
    low[i] = (char)(k[i] >= 'A' && k[i] <= 'Z' ? k[i] + 32 : k[i]);
  low[n] = '\0';
  for (size_t i = 0; i < sizeof WORDS / sizeof WORDS[0]; i++)
    if (strstr(low, WORDS[i])) return 1;
  /* pass and pwd only as a word of the name (db_pass, pg-pwd; not bypass). */
  static const char *const SHORT[] = {"pass", "pwd"};
  for (size_t i = 0; i < sizeof SHORT / sizeof SHORT[0]; i++) {
    size_t w = strlen(SHORT[i]);
    for (const char *p = strstr(low, SHORT[i]); p; p = strstr(p + 1, SHORT[i]))
      if ((p == low || !isalnum((unsigned char)p[-1])) &&
          !isalnum((unsigned char)p[w]))
        return 1;
  }
  return 0;
}

static void mask_secrets(cJSON *o) {
  for (cJSON *it = o ? o->child : NULL; it; it = it->next) {
    if (it->string && secret_name(it->string) && !cJSON_IsObject(it)) {
      /* The replacement takes its place in the list: go on from there. */
      char *key = strdup(it->string);
      if (!key) return;
      cJSON_ReplaceItemInObjectCaseSensitive(o, key, cJSON_CreateString("***"));
      it = cJSON_GetObjectItemCaseSensitive(o, key);
      free(key);
      if (!it) return;
    } else if (cJSON_IsObject(it) || cJSON_IsArray(it)) {
      mask_secrets(it);
    }
  }
}

static void add_time(cJSON *o, const char *k, int64_t ms) {
  char ts[40];
  if (!ms) return;
  events_rfc3339(ms, ts, sizeof ts);
  cJSON_AddStringToObject(o, k, ts);
}

static cJSON *digest(const char *alg, const char *hex) {
  cJSON *d = cJSON_CreateObject();
  cJSON_AddStringToObject(d, alg, hex);
  return d;
}

static int is_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strchr("0123456789abcdef", s[i])) return 0;
  return s[n] == '\0' || s[n] == '"';
}

/* Subjects: every value in params that names an artifact by digest
 * ("registry/web@sha256:<hex>" or "sha256:<hex>"), the things a deploy
 * run puts into the world. */
static void digest_subjects(cJSON *subjects, const cJSON *v,
                            const char *name) {
  if (cJSON_IsString(v)) {
    const char *s = v->valuestring, *at = strstr(s, "sha256:");
    if (!at || strlen(at + 7) != 64 || !is_hex(at + 7, 64)) return;
    cJSON *d = cJSON_CreateObject();
    char nm[512];
    if (at > s) snprintf(nm, sizeof nm, "%.*s", (int)(at - s - (at[-1] == '@')), s);
    else snprintf(nm, sizeof nm, "%s", name);
    cJSON_AddStringToObject(d, "name", nm);
    cJSON_AddItemToObject(d, "digest", digest("sha256", at + 7));
    cJSON_AddItemToArray(subjects, d);
  } else if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
    const cJSON *it;
    cJSON_ArrayForEach(it, v) digest_subjects(subjects, it,
                                              it->string ? it->string : name);
  }
}

static char *provenance_base64(const char *text) {
  size_t n = strlen(text);
  char *out = malloc(4 * ((n + 2) / 3) + 1);
  if (out) base64_encode(out, text, n);
  return out;
}

static int add_approval(void *ud, const store_approval *a) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "gate", a->gate);
  cJSON_AddStringToObject(o, "actor", a->actor);
  cJSON_AddStringToObject(o, "decision", a->decision);
  if (a->comment) cJSON_AddStringToObject(o, "comment", a->comment);
  cJSON *bind = a->bind ? cJSON_Parse(a->bind) : NULL;
  if (bind) cJSON_AddItemToObject(o, "bind", bind);
  cJSON_AddBoolToObject(o, "signed", a->signature != NULL);
  add_time(o, "time", a->ts_ms);
  cJSON_AddItemToArray(ud, o);
  return 0;
}

typedef struct {
  int64_t seq;
  char hash[65];
} audit_head;

static int last_record(void *ud, const store_audit_row *a) {
  audit_head *h = ud;
  h->seq = a->seq;
  snprintf(h->hash, sizeof h->hash, "%s", a->hash);
  return 0;
}

/* The run's newest audit record: its hash is a SHA-256 that commits to the
 * whole audit trail up to the end of the run (docs/audit.md). */
static void audit_byproduct(store_t *s, cJSON *by, const char *run_id) {
  audit_head h = {0};
  if (store_audit_each(s, run_id, 0, last_record, &h) != STORE_OK || !h.seq)
    return;
  cJSON *d = cJSON_CreateObject();
  char nm[64];
  snprintf(nm, sizeof nm, "audit-record:%lld", (long long)h.seq);
  cJSON_AddStringToObject(d, "name", nm);
  cJSON_AddItemToObject(d, "digest", digest("sha256", h.hash));
  cJSON_AddItemToArray(by, d);
}

/* statement's "subject": every artifact digest in params, then the
 * runbook. The runbook is always a subject: the statement is about what
 * this procedure did, and a verifier can hash the file it is shown. */
static void add_subjects(cJSON *st, const store_run *r, const cJSON *params) {
  cJSON *subjects = cJSON_AddArrayToObject(st, "subject");
  digest_subjects(subjects, params, "param");
  cJSON *rb = cJSON_CreateObject();
  char nm[512];
  snprintf(nm, sizeof nm, "runbook:%s@%s", r->name,
           r->version ? r->version : "unversioned");
  cJSON_AddStringToObject(rb, "name", nm);
  cJSON_AddItemToObject(rb, "digest", digest("sha256", r->source_sha256));
  cJSON_AddItemToArray(subjects, rb);
}

/* The git state of the work tree at the run's start, as a resolved
 * dependency (nothing when the run recorded no commit). */
static void add_git_dependency(cJSON *deps, const store_run *r) {
  cJSON *git = r->git_commit ? cJSON_Parse(r->git_commit) : NULL;
  const cJSON *commit = cJSON_GetObjectItem(git, "commit");
  if (cJSON_IsString(commit)) {
    const cJSON *dir = cJSON_GetObjectItem(git, "dir"),
                *branch = cJSON_GetObjectItem(git, "branch"),
                *dirty = cJSON_GetObjectItem(git, "dirty");
    char uri[4200];
    snprintf(uri, sizeof uri, "git+file://%s%s%s",
             cJSON_IsString(dir) ? dir->valuestring : "",
             cJSON_IsString(branch) ? "@refs/heads/" : "",
             cJSON_IsString(branch) ? branch->valuestring : "");
    cJSON *g = cJSON_CreateObject();
    cJSON_AddStringToObject(g, "uri", uri);
    cJSON_AddItemToObject(g, "digest",
                          digest("gitCommit", commit->valuestring));
    cJSON *ann = cJSON_AddObjectToObject(g, "annotations");
    cJSON_AddBoolToObject(ann, "dirty", cJSON_IsTrue(dirty));
    cJSON_AddItemToArray(deps, g);
  }
  cJSON_Delete(git);
}

/* The module sources the run pinned (DESIGN §14), as resolved
 * dependencies named "module:NAME"; summit's version when it started. */
static void add_module_dependencies(store_t *s, cJSON *in, cJSON *deps,
                                    const store_run *r) {
  cJSON *pins = cli_pins(s, r->id);
  const cJSON *v = cJSON_GetObjectItem(pins, "summit_version");
  if (cJSON_IsString(v))
    cJSON_AddStringToObject(in, "summitVersionAtStart", v->valuestring);
  const cJSON *m;
  cJSON_ArrayForEach(m, cJSON_GetObjectItem(pins, "modules")) {
    cJSON *d = cJSON_CreateObject();
    char nm[512];
    snprintf(nm, sizeof nm, "module:%s",
             cJSON_GetObjectItem(m, "name")->valuestring);
    cJSON_AddStringToObject(d, "name", nm);
    const cJSON *path = cJSON_GetObjectItem(m, "path");
    if (cJSON_IsString(path)) cJSON_AddStringToObject(d, "uri", path->valuestring);
    cJSON_AddItemToObject(
        d, "digest",
        digest("sha256", cJSON_GetObjectItem(m, "sha256")->valuestring));
    cJSON_AddItemToArray(deps, d);
  }
  cJSON_Delete(pins);
}

/* predicate.buildDefinition: what was run, with which (masked) params, on
 * whose approval, from which source. Takes ownership of params. */
static void add_build_definition(store_t *s, cJSON *pred, const store_run *r,
                                 cJSON *params) {
  cJSON *bd = cJSON_AddObjectToObject(pred, "buildDefinition");
  cJSON_AddStringToObject(bd, "buildType", BUILD_TYPE);
  cJSON *ext = cJSON_AddObjectToObject(bd, "externalParameters");
  cJSON *rbk = cJSON_AddObjectToObject(ext, "runbook");
  cJSON_AddStringToObject(rbk, "name", r->name);
  if (r->version) cJSON_AddStringToObject(rbk, "version", r->version);
  cJSON_AddStringToObject(rbk, "path", r->source_path);
  cJSON_AddItemToObject(ext, "params", params);
  if (r->env) cJSON_AddStringToObject(ext, "environment", r->env);
  if (r->started_by) cJSON_AddStringToObject(ext, "startedBy", r->started_by);

  cJSON *in = cJSON_AddObjectToObject(bd, "internalParameters");
  cJSON_AddStringToObject(in, "summitVersion", SUMMIT_VERSION);
  if (r->config_path) cJSON_AddStringToObject(in, "config", r->config_path);
  cJSON *appr = cJSON_AddArrayToObject(in, "approvals");
  store_approval_each(s, r->id, add_approval, appr);

  cJSON *deps = cJSON_AddArrayToObject(bd, "resolvedDependencies");
  cJSON *src = cJSON_CreateObject();
  cJSON_AddStringToObject(src, "uri", r->source_path);
  cJSON_AddItemToObject(src, "digest", digest("sha256", r->source_sha256));
  cJSON_AddItemToArray(deps, src);
  add_git_dependency(deps, r);
  add_module_dependencies(s, in, deps, r);
}

/* The outcome, as a byproduct whose content is its JSON (base64 is what
 * the ResourceDescriptor's content field holds; annotations keep it
 * readable). */
static void add_outcome(cJSON *by, const store_run *r) {
  cJSON *oc = cJSON_CreateObject();
  cJSON_AddStringToObject(oc, "name", "outcome");
  cJSON_AddStringToObject(oc, "mediaType", "application/json");
  cJSON *ocj = cJSON_CreateObject();
  cJSON_AddStringToObject(ocj, "status", r->status);
  cJSON *err = r->error ? cJSON_Parse(r->error) : NULL;
  if (err) {
    cJSON_DeleteItemFromObject(err, "traceback");
    cJSON_AddItemToObject(ocj, "error", err);
  }
  char *octext = cJSON_PrintUnformatted(ocj);
  cJSON_AddItemToObject(oc, "annotations", ocj);
  if (octext) {
    char *b64 = provenance_base64(octext);
    if (b64) cJSON_AddStringToObject(oc, "content", b64);
    free(b64);
    free(octext);
  }
  cJSON_AddItemToArray(by, oc);
}

/* predicate.runDetails: which host ran it, when, and how it ended. */
static void add_run_details(store_t *s, cJSON *pred, const store_run *r) {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  cJSON *rd = cJSON_AddObjectToObject(pred, "runDetails");
  cJSON *builder = cJSON_AddObjectToObject(rd, "builder");
  char id[400];
  snprintf(id, sizeof id, "urn:summit:builder:%s", host);
  cJSON_AddStringToObject(builder, "id", id);
  cJSON *ver = cJSON_AddObjectToObject(builder, "version");
  cJSON_AddStringToObject(ver, "summit", SUMMIT_VERSION);
  cJSON *md = cJSON_AddObjectToObject(rd, "metadata");
  cJSON_AddStringToObject(md, "invocationId", r->id);
  add_time(md, "startedOn", r->created_ms);
  add_time(md, "finishedOn", r->finished_ms);
  cJSON *by = cJSON_AddArrayToObject(rd, "byproducts");
  add_outcome(by, r);
  audit_byproduct(s, by, r->id);
}

/* The in-toto Statement of run r; the caller deletes it. */
static cJSON *statement(store_t *s, const store_run *r) {
  cJSON *params = r->params ? cJSON_Parse(r->params) : NULL;
  if (!params) params = cJSON_CreateObject();
  mask_secrets(params);

  cJSON *st = cJSON_CreateObject();
  cJSON_AddStringToObject(st, "_type", STATEMENT_TYPE);
  add_subjects(st, r, params);
  cJSON_AddStringToObject(st, "predicateType", PREDICATE_TYPE);
  cJSON *pred = cJSON_AddObjectToObject(st, "predicate");
  add_build_definition(s, pred, r, params);
  add_run_details(s, pred, r);
  return st;
}

static int write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  int ok = fputs(text, f) >= 0;
  if (fclose(f) != 0) ok = 0;
  return ok ? 0 : -1;
}

/* Signs the file at path with the SSH key at key into path.sig. Returns
 * EXIT_OK, or EXIT_FAILED after saying why. */
static int sign_file(const char *path, const char *key) {
  /* ssh-keygen refuses to overwrite a signature: a stale one goes. */
  char sig[4200];
  snprintf(sig, sizeof sig, "%s.sig", path);
  unlink(sig);
  const char *args[] = {"ssh-keygen", "-Y", "sign", "-q", "-f", key, "-n",
                        SIGN_NAMESPACE, path, NULL};
  cli_output o;
  if (cli_run(args, NULL, 0, &o) != 0) {
    fprintf(stderr, "summit provenance: cannot run ssh-keygen: %s\n",
            o.spawn_error ? uv_strerror(o.spawn_error) : "out of memory");
    return EXIT_FAILED;
  }
  int code = EXIT_OK;
  if (o.code != 0) {
    fprintf(stderr, "summit provenance: ssh-keygen -Y sign failed (exit "
                    "%d): %s", o.code, o.err);
    code = EXIT_FAILED;
  } else {
    fprintf(stderr, "signed: %s (namespace %s)\n", sig, SIGN_NAMESPACE);
  }
  cli_output_free(&o);
  return code;
}

int cmd_provenance(int argc, char **argv) {
  const char *id = NULL, *outp = NULL, *key = NULL, *v;
  for (int i = 0; i < argc; i++) {
    int m;
    if ((m = cli_opt(argc, argv, &i, "-o", &v)) || (m = cli_opt(argc, argv, &i, "--output", &v))) {
      if (m < 0) return EXIT_USAGE;
      outp = v;
    } else if ((m = cli_opt(argc, argv, &i, "--sign", &v))) {
      if (m < 0) return EXIT_USAGE;
      key = v;
    } else if (argv[i][0] == '-') {
      return cli_usage(USAGE_CMD, "unknown option %s", argv[i]);
    } else if (id) {
      return cli_usage(USAGE_CMD, "one run at a time (got %s and %s)", id, argv[i]);
    } else {
      id = argv[i];
    }
  }
  if (!id) return cli_usage(USAGE_CMD, "which run? summit provenance RUN");
  if (key && !outp)
    return cli_usage(USAGE_CMD, "--sign needs -o FILE (the signature is "
                                "written next to it, as FILE.sig)");
  store_t *s = cli_open_store();
  if (!s) return EXIT_FAILED;
  store_run r;
  int rc = store_run_get(s, id, &r);
  if (rc != STORE_OK) {
    if (rc == STORE_NOTFOUND) fprintf(stderr, "summit: no run %s\n", id);
    else fprintf(stderr, "summit: %s\n", store_errmsg(s));
    store_close(s);
    return rc == STORE_NOTFOUND ? EXIT_USAGE : EXIT_FAILED;
  }
  cJSON *st = statement(s, &r);
  store_run_free(&r);
  store_close(s);
  char *text = cJSON_Print(st);
  cJSON_Delete(st);
  if (!text) {
    fprintf(stderr, "summit provenance: out of memory\n");
    return EXIT_FAILED;
  }
  size_t n = strlen(text);
  char *line = realloc(text, n + 2);
  if (line) {
    text = line;
    memcpy(text + n, "\n", 2);
  }
  int code = EXIT_OK;
  if (!outp) {
    fputs(text, stdout);
  } else if (write_file(outp, text) != 0) {
    fprintf(stderr, "summit provenance: cannot write %s: %s\n", outp,
            strerror(errno));
    code = EXIT_FAILED;
  } else if (key) {
    code = sign_file(outp, key);
  }
  free(text);
  return code;
}
