#ifndef SUMMIT_ENGINE_CRON_H
#define SUMMIT_ENGINE_CRON_H
/* Schedules: 5-field cron expressions (Vixie cron's syntax and its
 * day-of-month / day-of-week OR rule), the @hourly-style nicknames and
 * "@every DURATION" (what `--every 15m` stores), evaluated in an explicit
 * time zone (docs/schedules.md). Pure: no Lua, no store; the clock is an
 * argument, so tests inject it.
 *
 * Time zones: "UTC" or an IANA name found in the system's zone database
 * ($TZDIR, else /usr/share/zoneinfo). cron_next() switches the process's
 * TZ while it computes and restores it, so it is not thread-safe.
 *
 * DST rules (docs/schedules.md): each matching local wall-clock minute
 * fires once. A wall time repeated by a fall-back transition fires at its
 * first occurrence only; a wall time skipped by a spring-forward gap fires
 * at the end of the gap (02:30 on such a day fires at 03:00 local), and
 * all the skipped times together fire once there. */

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint64_t minute;     /* bit m: minute m (0-59) */
  uint32_t hour;       /* bit h: hour h (0-23) */
  uint32_t dom;        /* bit d: day of month d (1-31) */
  uint16_t month;      /* bit m: month m (1-12) */
  uint8_t dow;         /* bit d: day of week d (0-6, 0 = Sunday) */
  int dom_star, dow_star;  /* the field began with '*' (Vixie's rule) */
  int64_t every_ms;    /* > 0: "@every D", fires at multiples of D since
                        * the Unix epoch; the fields are unused */
} cron_expr;

/* Parses text (5 fields, a nickname or "@every D") into *out. Returns 0,
 * or -1 with a message in err naming the field and the bad token, e.g.
 * "minute field: '61' is out of range 0-59". */
int cron_parse(const char *text, cron_expr *out, char *err, size_t errlen);

/* Returns 0 if tz names a zone this system knows ("UTC" always does),
 * else -1 with a message in err. */
int cron_tz_check(const char *tz, char *err, size_t errlen);

/* The first fire time strictly after after_ms (Unix ms), in zone tz
 * (NULL = UTC). Cron fire times are whole minutes. Returns -1 if there is
 * none within 8 years (e.g. "0 0 30 2 *"). */
int64_t cron_next(const cron_expr *e, const char *tz, int64_t after_ms);

/* The last fire time at or before at_ms that is strictly after after_ms,
 * and how many fire times lie in (after_ms, at_ms] (counted up to cap).
 * Returns -1 (and *count = 0) if there is none. */
int64_t cron_last(const cron_expr *e, const char *tz, int64_t after_ms,
                  int64_t at_ms, int cap, int *count);

#endif
