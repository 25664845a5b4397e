#ifndef SUMMIT_ENGINE_EVENTS_H
#define SUMMIT_ENGINE_EVENTS_H
/* The event stream of a run: one JSON object per line with --json
 * (DESIGN §5), or human lines: live on a TTY, plain elsewhere, coloured
 * unless NO_COLOR is set. Knows nothing of Lua. */
#include <cJSON.h>
#include <stdio.h>

typedef struct events {
  FILE *out;
  int json;      /* --json */
  int tty;       /* out is a terminal: live progress */
  int color;     /* tty and no NO_COLOR */
  int quiet;     /* emit nothing (summit validate; out is /dev/null) */
  const char *run_id;
  int live_line; /* a progress line is on screen and must be erased */
} events_t;

/* Fills ev for writing to out, reading NO_COLOR and isatty; quiet when
 * out is /dev/null (nobody reads it). */
void events_init(events_t *ev, FILE *out, int json);

/* Emits event with its fields (owned by the caller, may be NULL). Adds
 * `event`, `ts` (RFC 3339 with milliseconds) and `run`. */
void events_emit(events_t *ev, const char *event, cJSON *fields);

/* A log line from a runbook (level: info, warn, error). In JSON mode it is
 * a `log` event. */
void events_log(events_t *ev, const char *level, const char *msg);

/* Formats ms since the epoch as RFC 3339 UTC with milliseconds. */
void events_rfc3339(long long ms, char *buf, size_t len);

#endif
