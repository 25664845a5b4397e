/* The event stream: JSON lines for machines, short lines for people. */
#include "engine/events.h"

#include "engine/runtime.h"
#include "engine/secrets.h"
#include "io/term.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* 1 when out is /dev/null: nobody reads the stream, so formatting it and
 * a write per event (two per step) would be work for nothing. */
static int null_device(FILE *out) {
  struct stat st, null;
  return fstat(fileno(out), &st) == 0 && S_ISCHR(st.st_mode) &&
         stat("/dev/null", &null) == 0 && S_ISCHR(null.st_mode) &&
         st.st_rdev == null.st_rdev;
}

void events_init(events_t *ev, FILE *out, int json) {
  memset(ev, 0, sizeof *ev);
  ev->out = out;
  ev->json = json;
  ev->quiet = null_device(out);
  ev->tty = !json && isatty(fileno(out));
  const char *nc = getenv("NO_COLOR");
  ev->color = ev->tty && !(nc && *nc);
}

void events_rfc3339(long long ms, char *buf, size_t len) {
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char base[32];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, len, "%s.%03dZ", base, (int)(ms % 1000));
}

/* A string field, rendered for a terminal: only human() and its human_*
 * printers read fields this way, and every one may carry text from a
 * runbook or a param. */
static const char *str(cJSON *f, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, k);
  return cJSON_IsString(v) ? term_str(v->valuestring) : NULL;
}

static double num(cJSON *f, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, k);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* The message of an error field: a string, or an object's message. */
static const char *errtext(cJSON *f) {
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(f, "error");
  if (cJSON_IsString(e)) return term_strf(e->valuestring, TERM_MULTILINE);
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
  return cJSON_IsString(m) ? term_strf(m->valuestring, TERM_MULTILINE) : NULL;
}

static const char *paint(events_t *ev, const char *code) {
  return ev->color ? code : "";
}

/* Erases the live progress line, if any, before printing a real one. */
static void clear_live(events_t *ev) {
  if (ev->live_line) {
    fputs("\r\033[K", ev->out);
    ev->live_line = 0;
  }
}

/* The colours of a human line: empty strings when colour is off. */
typedef struct {
  const char *G, *R, *Y, *D, *B, *Z;  /* green red yellow dim bold reset */
} palette;

/* Each human_* below prints the line of the events it knows and returns 1,
 * or returns 0 for any other event. */

static int human_run(events_t *ev, const palette *p, const char *event,
                     cJSON *f) {
  FILE *o = ev->out;
  if (!strcmp(event, "run.started")) {
    fprintf(o, "%srun %s%s  %s %s\n", p->B, ev->run_id, p->Z,
            str(f, "runbook"), str(f, "version") ? str(f, "version") : "");
  } else if (!strcmp(event, "run.resumed")) {
    fprintf(o, "%sresume %s%s  %s\n", p->B, ev->run_id, p->Z,
            str(f, "runbook"));
  } else if (!strcmp(event, "run.suspended")) {
    const char *until = str(f, "until");
    fprintf(o, "%srun %s suspended%s%s%s; continue with: summit resume %s\n",
            p->Y, ev->run_id, p->Z, until ? " until " : "",
            until ? until : "", ev->run_id);
  } else if (!strcmp(event, "run.finished")) {
    const char *status = str(f, "status");
    int good = status && !strcmp(status, "succeeded");
    fprintf(o, "%srun %s %s%s in %.1fs", good ? p->G : p->R, ev->run_id,
            status, p->Z, num(f, "duration_ms") / 1000.0);
    if (errtext(f)) fprintf(o, ": %s", errtext(f));
    fputc('\n', o);
    const char *hint = str(f, "hint");
    if (hint) fprintf(o, "  %s\n", hint);
  } else {
    return 0;
  }
  return 1;
}

/* step.started: on a terminal, a live line the next line replaces. */
static void human_step_started(events_t *ev, const palette *p, cJSON *f,
                               const char *name, const char *key) {
  FILE *o = ev->out;
  int attempt = (int)num(f, "attempt");
  if (ev->tty) {
    fprintf(o, "  %s… %s%s", p->Y, name, p->Z);
    if (attempt > 1) fprintf(o, " %s(attempt %d)%s", p->D, attempt, p->Z);
    if (cJSON_IsTrue(cJSON_GetObjectItem(f, "resumed")))
      fprintf(o, " %s(resumed)%s", p->D, p->Z);
    ev->live_line = 1;
  } else {
    fprintf(o, "  .. %s [%s]", name, key);
    if (attempt > 1) fprintf(o, " attempt %d", attempt);
    if (cJSON_IsTrue(cJSON_GetObjectItem(f, "resumed"))) fputs(" (resumed)", o);
    fputc('\n', o);
  }
}

static int human_step(events_t *ev, const palette *p, const char *event,
                      cJSON *f) {
  const char *name = str(f, "name"), *key = str(f, "key");
  FILE *o = ev->out;
  if (!strcmp(event, "step.started")) {
    human_step_started(ev, p, f, name, key);
  } else if (!strcmp(event, "step.completed")) {
    fprintf(o, "  %s%s%s %s %s(%.0f ms)%s\n", p->G, ev->tty ? "✓" : "ok",
            p->Z, name, p->D, num(f, "duration_ms"), p->Z);
  } else if (!strcmp(event, "step.replayed")) {
    fprintf(o, "  %s%s %s (replayed)%s\n", p->D, ev->tty ? "↺" : "==", name,
            p->Z);
  } else if (!strcmp(event, "step.failed")) {
    fprintf(o, "  %s%s %s%s: %s\n", p->R, ev->tty ? "✗" : "FAIL", name, p->Z,
            errtext(f) ? errtext(f) : "failed");
  } else if (!strcmp(event, "step.retrying")) {
    fprintf(o, "  %s.. %s [%s] retries in %.0f ms%s\n", p->Y, name, key,
            num(f, "delay_ms"), p->Z);
  } else if (!strcmp(event, "step.skipped")) {
    fprintf(o, "  %s>> %s [%s] skipped by an operator%s\n", p->Y, name, key,
            p->Z);
  } else if (!strcmp(event, "step.recovered")) {
    fprintf(o, "  %s!! %s [%s] was in flight at a crash: attempt %d%s\n",
            p->Y, name, key, (int)num(f, "attempt"), p->Z);
  } else {
    return 0;
  }
  return 1;
}

/* wait.finished: the step line that follows says enough, but for a gate. */
static void human_gate_finished(events_t *ev, const palette *p, cJSON *f) {
  FILE *o = ev->out;
  const char *gate = str(f, "gate"), *outcome = str(f, "outcome");
  if (!gate || !outcome) return;
  int good = !strcmp(outcome, "approved");
  fprintf(o, "  %s%s gate '%s' %s%s", good ? p->G : p->R,
          good ? (ev->tty ? "✓" : "ok") : (ev->tty ? "✗" : "FAIL"), gate,
          outcome, p->Z);
  const cJSON *by = cJSON_GetObjectItemCaseSensitive(f, "approvers"), *a;
  int i = 0;
  cJSON_ArrayForEach(a, by) if (cJSON_IsString(a))
    fprintf(o, "%s%s", i++ ? ", " : " by ", term_str(a->valuestring));
  if (str(f, "by")) fprintf(o, " by %s", str(f, "by"));
  fputc('\n', o);
}

static int human_wait(events_t *ev, const palette *p, const char *event,
                      cJSON *f) {
  FILE *o = ev->out;
  if (!strcmp(event, "wait.started")) {
    const char *until = str(f, "until"), *gate = str(f, "gate");
    fprintf(o, "  %s%s %s", p->Y, ev->tty ? "⏸" : "..", str(f, "kind"));
    if (gate) fprintf(o, " gate '%s'", gate);
    if (str(f, "needs")) fprintf(o, ": needs %s", str(f, "needs"));
    fprintf(o, "%s%s%s\n", until ? " until " : "", until ? until : "", p->Z);
    /* An approval gate: the exact command that answers it. */
    if (str(f, "reason")) fprintf(o, "     reason: %s\n", str(f, "reason"));
    if (str(f, "command"))
      fprintf(o, "     approve with: %s%s%s\n", p->B, str(f, "command"), p->Z);
  } else if (!strcmp(event, "wait.finished")) {
    human_gate_finished(ev, p, f);
  } else if (!strcmp(event, "approval.overdue")) {
    fprintf(o, "  %s!! gate '%s' is overdue with %.0f of %.0f approvals; it "
            "stays open%s\n     approve with: %s\n", p->Y, str(f, "gate"),
            num(f, "have"), num(f, "need"), p->Z,
            str(f, "command") ? str(f, "command") : "summit approve");
  } else {
    return 0;
  }
  return 1;
}

static int human_notify(events_t *ev, const palette *p, const char *event,
                        cJSON *f) {
  FILE *o = ev->out;
  if (!strcmp(event, "notify.sent")) {
    fprintf(o, "  %s%s notified channel '%s' (%s)%s\n", p->D,
            ev->tty ? "✉" : ">>", str(f, "channel"),
            str(f, "event") ? str(f, "event") : "notify", p->Z);
  } else if (!strcmp(event, "notify.retrying")) {
    fprintf(o, "  %s.. notification to channel '%s' failed (%s); tries again "
            "in %.0f ms%s\n", p->Y, str(f, "channel"),
            errtext(f) ? errtext(f) : "?", num(f, "delay_ms"), p->Z);
  } else if (!strcmp(event, "notify.failed")) {
    /* The warning logged with it says why. */
  } else {
    return 0;
  }
  return 1;
}

static void human(events_t *ev, const char *event, cJSON *f) {
  const palette p = {
    paint(ev, "\033[32m"), paint(ev, "\033[31m"), paint(ev, "\033[33m"),
    paint(ev, "\033[2m"), paint(ev, "\033[1m"), paint(ev, "\033[0m"),
  };
  clear_live(ev);
  if (!human_run(ev, &p, event, f) && !human_step(ev, &p, event, f) &&
      !human_wait(ev, &p, event, f) && !human_notify(ev, &p, event, f))
    fprintf(ev->out, "%s%s%s\n", p.D, event, p.Z);
  fflush(ev->out);
}

void events_emit(events_t *ev, const char *event, cJSON *fields) {
  assert(ev && ev->out && event);
  assert(!ev->color || ev->tty);  /* colour only on a terminal */
  if (ev->quiet) return;
  /* Secret values never reach a terminal, a log file or a reader of the
   * stream (engine/secrets.c); the caller's fields stay as they are. */
  cJSON *red = NULL;
  if (fields && secrets_count() > 0) {
    red = cJSON_Duplicate(fields, 1);
    if (red && secrets_redact_json(red)) fields = red;
  }
  if (!ev->json) {
    cJSON *empty = NULL;
    if (!fields) fields = empty = cJSON_CreateObject();
    human(ev, event, fields);
    cJSON_Delete(empty);
    cJSON_Delete(red);
    return;
  }
  char ts[40];
  events_rfc3339(runtime_now_ms(), ts, sizeof ts);   /* the run's clock */
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "event", event);
  cJSON_AddStringToObject(o, "ts", ts);
  if (ev->run_id) cJSON_AddStringToObject(o, "run", ev->run_id);
  if (fields)
    for (cJSON *e = fields->child; e; e = e->next)
      cJSON_AddItemToObject(o, e->string, cJSON_Duplicate(e, 1));
  char *line = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  cJSON_Delete(red);
  if (line) {
    fputs(line, ev->out);
    fputc('\n', ev->out);
    fflush(ev->out);
    free(line);
  }
}

void events_log(events_t *ev, const char *level, const char *msg) {
  assert(ev && ev->out && level && msg);
  if (ev->quiet) return;
  char *red = secrets_redact(msg, strlen(msg), NULL);
  if (red) msg = red;
  if (ev->json) {
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "level", level);
    cJSON_AddStringToObject(f, "message", msg);
    events_emit(ev, "log", f);
    cJSON_Delete(f);
    free(red);
    return;
  }
  clear_live(ev);
  const char *c = !strcmp(level, "error") ? "\033[31m"
                  : !strcmp(level, "warn") ? "\033[33m" : "\033[2m";
  fprintf(ev->out, "    %s%s%s ", ev->color ? c : "", level,
          ev->color ? "\033[0m" : "");
  term_fputs(msg, ev->out, TERM_MULTILINE);
  fputc('\n', ev->out);
  fflush(ev->out);
  free(red);
}
