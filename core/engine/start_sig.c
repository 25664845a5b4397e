/* Signed starts (see start_sig.h). */
#include "engine/start_sig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/approval.h"
#include "io/proc.h"

typedef struct {
  int done, spawn_error;
  int64_t code;
  char *out, *err;
} outcome;

static void finished(void *ud, const proc_result *r) {
  outcome *o = ud;
  o->done = 1;
  o->spawn_error = r->spawn_error;
  o->code = r->exit_code;
  o->out = strdup(r->out ? r->out : "");
  o->err = strdup(r->err ? r->err : "");
}

/* Runs argv with input to its end on loop; 0, or -1 if it cannot start. */
static int run(uv_loop_t *loop, const char **argv, const char *input,
               outcome *o) {
  memset(o, 0, sizeof *o);
  proc_opts po = {.argv = argv, .input = input,
                  .input_len = input ? strlen(input) : 0,
                  .timeout_ms = 30000, .log_fd = -1, .capture_cap = 65536};
  if (!proc_start(loop, &po, finished, o)) return -1;
  while (!o->done) uv_run(loop, UV_RUN_ONCE);
  return 0;
}

static void outcome_free(outcome *o) {
  free(o->out);
  free(o->err);
}

/* why = ssh-keygen's message (its last line break dropped) or dflt. */
static void reason(const outcome *o, const char *dflt, char *why,
                   size_t len) {
  const char *e = o->spawn_error ? uv_strerror(o->spawn_error)
                  : o->err && *o->err ? o->err : dflt;
  snprintf(why, len, "%s", e);
  size_t n = strlen(why);
  while (n && (why[n - 1] == '\n' || why[n - 1] == '\r')) why[--n] = '\0';
}

char *start_sig_make(uv_loop_t *loop, const char *key_file,
                     const char *allowed_signers, const char *user,
                     const char *msg, char *why, size_t len) {
  const char *argv[12];
  outcome o;
  approval_start_sign_argv(argv, key_file);
  if (run(loop, argv, msg, &o) != 0) {
    snprintf(why, len, "cannot start ssh-keygen");
    return NULL;
  }
  if (o.code != 0 || o.spawn_error || !strstr(o.out, "BEGIN SSH SIGNATURE")) {
    reason(&o, "no signature came out", why, len);
    outcome_free(&o);
    return NULL;
  }
  char *sig = o.out;
  o.out = NULL;
  outcome_free(&o);

  char path[512];
  if (approval_sig_file(sig, path, sizeof path) != 0) {
    snprintf(why, len, "cannot write the signature to a file: %s",
             strerror(errno));
    free(sig);
    return NULL;
  }
  approval_start_verify_argv(argv, allowed_signers, user, path);
  int rc = run(loop, argv, msg, &o);
  unlink(path);
  if (rc != 0 || o.code != 0 || o.spawn_error) {
    char e[600];
    if (rc != 0) snprintf(e, sizeof e, "cannot start ssh-keygen");
    else reason(&o, "ssh-keygen refused it", e, sizeof e);
    snprintf(why, len, "the signature does not verify as %s against the "
             "allowed signers file %s: %s", user, allowed_signers, e);
    if (rc == 0) outcome_free(&o);
    free(sig);
    return NULL;
  }
  outcome_free(&o);
  return sig;
}
