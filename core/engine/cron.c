/* Cron expressions and their next fire times (cron.h, docs/schedules.md).
 *
 * Fire times are searched on the local wall clock of the schedule's zone
 * (civil dates as "wall seconds": the seconds a UTC clock would show for
 * the same fields), then mapped to an instant with the zone's offsets on
 * either side. localtime_r under a temporarily set TZ gives the offsets, so
 * the system's zone database (and its rules after the last transition) is
 * the authority. */
#include "engine/cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "engine/duration.h"
#include "io/rfc3339.h"

/* ---- parsing -------------------------------------------------------- */

typedef struct {
  const char *name;
  int lo, hi;
  const char *const *names;  /* names[i] stands for lo + i (or NULL) */
} field_def;

static const char *const MONTHS[] = {"jan", "feb", "mar", "apr", "may",
                                     "jun", "jul", "aug", "sep", "oct",
                                     "nov", "dec", NULL};
static const char *const DAYS[] = {"sun", "mon", "tue", "wed", "thu",
                                   "fri", "sat", NULL};

static const field_def FIELDS[5] = {
  {"minute", 0, 59, NULL},
  {"hour", 0, 23, NULL},
  {"day-of-month", 1, 31, NULL},
  {"month", 1, 12, MONTHS},
  {"day-of-week", 0, 7, DAYS},  /* 7 is Sunday too */
};

static const struct {
  const char *nick, *expr;
} NICKS[] = {
  {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},
  {"@midnight", "0 0 * * *"}, {"@weekly", "0 0 * * 0"},
  {"@monthly", "0 0 1 * *"},  {"@yearly", "0 0 1 1 *"},
  {"@annually", "0 0 1 1 *"},
};

/* Reads a number or a name at *p (advancing it). Returns 0 or -1. */
static int parse_value(const field_def *f, const char **p, int *v) {
  const char *s = *p;
  if (isdigit((unsigned char)*s)) {
    long n = 0;
    while (isdigit((unsigned char)*s)) {
      n = n * 10 + (*s++ - '0');
      if (n > 1000) return -1;
    }
    *p = s;
    *v = (int)n;
    return 0;
  }
  if (f->names && isalpha((unsigned char)s[0])) {
    for (int i = 0; f->names[i]; i++)
      if (!strncasecmp(s, f->names[i], 3) &&
          !isalpha((unsigned char)s[3])) {
        *p = s + 3;
        *v = f->lo + i;
        return 0;
      }
  }
  return -1;
}

/* Parses one field's text (a list of elements) into bits. */
static int parse_field(const field_def *f, const char *text, size_t len,
                       uint64_t *bits, char *err, size_t errlen) {
  char buf[128];
  if (len >= sizeof buf) {
    snprintf(err, errlen, "%s field: '%.*s...' is too long", f->name, 20,
             text);
    return -1;
  }
  memcpy(buf, text, len);
  buf[len] = '\0';
  *bits = 0;
  if (len == 0 || buf[0] == ',' || buf[len - 1] == ',' || strstr(buf, ",,")) {
    snprintf(err, errlen, "%s field: '%s' has an empty list element",
             f->name, buf);
    return -1;
  }
  char *save = NULL;
  int n = 0;
  for (char *el = strtok_r(buf, ",", &save); el;
       el = strtok_r(NULL, ",", &save), n++) {
    const char *p = el;
    int a = f->lo, b = f->hi, step = 1, single = 0;
    if (*p == '*') {
      p++;
    } else {
      if (parse_value(f, &p, &a) != 0) goto bad;
      if (*p == '-') {
        p++;
        if (parse_value(f, &p, &b) != 0) goto bad;
      } else if (*p != '/') {
        b = a;
        single = 1;
      }
      if (a < f->lo || a > f->hi || b < f->lo || b > f->hi) {
        snprintf(err, errlen, "%s field: '%s' is out of range %d-%d",
                 f->name, el, f->lo, f->hi);
        return -1;
      }
      if (a > b) {
        snprintf(err, errlen, "%s field: '%s' is a range that ends before "
                 "it starts", f->name, el);
        return -1;
      }
    }
    if (*p == '/' && !single) {
      p++;
      if (!isdigit((unsigned char)*p)) goto bad;
      long s = strtol(p, (char **)&p, 10);
      if (s < 1 || s > f->hi) {
        snprintf(err, errlen, "%s field: '%s' has a step out of range 1-%d",
                 f->name, el, f->hi);
        return -1;
      }
      step = (int)s;
    }
    if (*p) goto bad;
    for (int v = a; v <= b; v += step) *bits |= (uint64_t)1 << v;
    continue;
  bad:
    snprintf(err, errlen, "%s field: '%s' is not a number%s, a range, a "
             "list or a step", f->name, el,
             f->names == MONTHS ? " (or jan-dec)"
                                : f->names == DAYS ? " (or sun-sat)" : "");
    return -1;
  }
  if (n == 0) {
    snprintf(err, errlen, "%s field: '%.*s' is empty", f->name, (int)len,
             text);
    return -1;
  }
  return 0;
}

int cron_parse(const char *text, cron_expr *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!text) {
    snprintf(err, errlen, "no cron expression");
    return -1;
  }
  while (isspace((unsigned char)*text)) text++;
  if (!strncmp(text, "@every", 6) && (!text[6] || isspace((unsigned char)text[6]))) {
    const char *d = text + 6;
    while (isspace((unsigned char)*d)) d++;
    double ms;
    char derr[160];
    if (!*d || duration_parse(d, &ms, derr, sizeof derr) != 0) {
      snprintf(err, errlen, "@every: '%s' is not a duration (like 30s, "
               "15m, 1h)", d);
      return -1;
    }
    if (ms < 1000 || ms != (double)(int64_t)(ms / 1000) * 1000) {
      snprintf(err, errlen, "@every: '%s' must be a whole number of "
               "seconds, at least 1s", d);
      return -1;
    }
    out->every_ms = (int64_t)ms;
    return 0;
  }
  if (*text == '@') {
    for (size_t i = 0; i < sizeof NICKS / sizeof NICKS[0]; i++) {
      size_t n = strlen(NICKS[i].nick);
      if (!strncasecmp(text, NICKS[i].nick, n) &&
          (!text[n] || isspace((unsigned char)text[n]))) {
        const char *rest = text + n;
        while (isspace((unsigned char)*rest)) rest++;
        if (*rest) break;
        return cron_parse(NICKS[i].expr, out, err, errlen);
      }
    }
    snprintf(err, errlen, "'%s' is not a known nickname (@hourly, @daily, "
             "@weekly, @monthly, @yearly, @every D)", text);
    return -1;
  }
  const char *start[6];
  size_t len[6];
  int n = 0;
  for (const char *p = text; *p;) {
    while (isspace((unsigned char)*p)) p++;
    if (!*p) break;
    const char *s = p;
    while (*p && !isspace((unsigned char)*p)) p++;
    if (n < 6) {
      start[n] = s;
      len[n] = (size_t)(p - s);
    }
    n++;
  }
  if (n != 5) {
    snprintf(err, errlen, "expected 5 fields (minute hour day-of-month "
             "month day-of-week), got %d in '%s'", n, text);
    return -1;
  }
  uint64_t bits[5];
  for (int i = 0; i < 5; i++)
    if (parse_field(&FIELDS[i], start[i], len[i], &bits[i], err, errlen))
      return -1;
  out->minute = bits[0];
  out->hour = (uint32_t)bits[1];
  out->dom = (uint32_t)bits[2];
  out->month = (uint16_t)bits[3];
  uint64_t dow = bits[4];
  if (dow & (1u << 7)) dow = (dow | 1u) & ~(uint64_t)(1u << 7);
  out->dow = (uint8_t)dow;
  out->dom_star = start[2][0] == '*';
  out->dow_star = start[4][0] == '*';
  return 0;
}

int cron_tz_check(const char *tz, char *err, size_t errlen) {
  if (!tz || !strcmp(tz, "UTC")) return 0;
  if (!*tz || tz[0] == '/' || tz[0] == ':' || strstr(tz, "..")) {
    snprintf(err, errlen, "time zone '%s' is not an IANA zone name (like "
             "Europe/Berlin or UTC)", tz ? tz : "");
    return -1;
  }
  const char *dir = getenv("TZDIR");
  char path[1024], magic[4] = {0};
  snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir
                                                   : "/usr/share/zoneinfo", tz);
  FILE *f = fopen(path, "rb");
  size_t got = f ? fread(magic, 1, 4, f) : 0;
  if (f) fclose(f);
  if (got != 4 || memcmp(magic, "TZif", 4) != 0) {
    snprintf(err, errlen, "unknown time zone '%s' (not in the system's "
             "zone database)", tz);
    return -1;
  }
  return 0;
}

/* ---- civil calendar (Howard Hinnant's algorithms) -------------------- */

/* days_from_civil is in io/rfc3339.c. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floordiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/* ---- the zone ------------------------------------------------------- */

static char *tz_push(const char *tz) {
  const char *old = getenv("TZ");
  char *saved = old ? strdup(old) : NULL;
  setenv("TZ", tz && *tz ? tz : "UTC", 1);
  tzset();
  return saved;
}

static void tz_pop(char *saved) {
  if (saved) setenv("TZ", saved, 1);
  else unsetenv("TZ");
  tzset();
  free(saved);
}

/* Seconds east of UTC at instant t. */
static int64_t offset_at(int64_t t) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (!localtime_r(&tt, &tm)) return 0;
  return tm.tm_gmtoff;
}

static int64_t wall_of(int64_t t) { return t + offset_at(t); }

/* The instant of wall time w: its first occurrence when a fall-back
 * repeats it, the end of the gap when a spring-forward skips it. */
static int64_t instant_of(int64_t w) {
  int64_t o1 = offset_at(w - 86400), o2 = offset_at(w + 86400);
  int64_t best = INT64_MAX;
  int64_t cand[2] = {w - o1, w - o2};
  for (int i = 0; i < 2; i++)
    if (wall_of(cand[i]) == w && cand[i] < best) best = cand[i];
  if (best != INT64_MAX) return best;
  /* In a gap: the first instant whose wall time is at or after w. */
  int64_t lo = w - (o1 > o2 ? o1 : o2), hi = w - (o1 > o2 ? o2 : o1);
  if (wall_of(hi) < w) return hi;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (wall_of(mid) >= w) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/* ---- next fire time ------------------------------------------------- */

static int day_matches(const cron_expr *e, int d, int wday) {
  int dm = (e->dom >> d) & 1, wm = (e->dow >> wday) & 1;
  if (e->dom_star || e->dow_star) return dm && wm;
  return dm || wm;  /* both restricted: either will do (Vixie cron) */
}

static int64_t next_in_zone(const cron_expr *e, int64_t after_ms) {
  int64_t after_s = floordiv(after_ms, 1000);
  int64_t w = floordiv(wall_of(after_s), 60) * 60 + 60;
  int64_t limit_days = floordiv(w, 86400) + 8 * 366;
  for (int guard = 0; guard < 1000000; guard++) {
    int64_t days = floordiv(w, 86400), sod = w - days * 86400;
    if (days > limit_days) return -1;
    int64_t y;
    int mo, d;
    civil_from_days(days, &y, &mo, &d);
    int h = (int)(sod / 3600), mi = (int)(sod % 3600 / 60);
    int wday = (int)((days % 7 + 11) % 7);  /* 1970-01-01 was a Thursday */
    if (!((e->month >> mo) & 1)) {
      int ny = (int)y + (mo == 12), nm = mo == 12 ? 1 : mo + 1;
      w = days_from_civil(ny, nm, 1) * 86400;
      continue;
    }
    if (!day_matches(e, d, wday)) {
      w = (days + 1) * 86400;
      continue;
    }
    if (!((e->hour >> h) & 1)) {
      w = days * 86400 + (h + 1) * 3600;
      continue;
    }
    if (!((e->minute >> mi) & 1)) {
      w += 60;
      continue;
    }
    int64_t t = instant_of(w);
    if (t * 1000 > after_ms) return t * 1000;
    w += 60;  /* a repeated wall time that already fired, or a gap's end */
  }
  return -1;
}

int64_t cron_next(const cron_expr *e, const char *tz, int64_t after_ms) {
  if (e->every_ms > 0)
    return (floordiv(after_ms, e->every_ms) + 1) * e->every_ms;
  char *saved = tz_push(tz);
  int64_t t = next_in_zone(e, after_ms);
  tz_pop(saved);
  return t;
}

int64_t cron_last(const cron_expr *e, const char *tz, int64_t after_ms,
                  int64_t at_ms, int cap, int *count) {
  *count = 0;
  if (at_ms <= after_ms) return -1;
  if (e->every_ms > 0) {
    int64_t first = (floordiv(after_ms, e->every_ms) + 1) * e->every_ms;
    if (first > at_ms) return -1;
    int64_t last = floordiv(at_ms, e->every_ms) * e->every_ms;
    int64_t n = (last - first) / e->every_ms + 1;
    *count = n > cap ? cap : (int)n;
    return last;
  }
  char *saved = tz_push(tz);
  int64_t last = -1, t = after_ms;
  int jumped = 0;
  for (;;) {
    t = next_in_zone(e, t);
    if (t < 0 || t > at_ms) break;
    last = t;
    if (*count < cap) {
      ++*count;
      continue;
    }
    if (jumped) continue;
    /* Counted enough: jump to the shortest window before at_ms that still
     * holds a fire instead of walking every one in between. */
    jumped = 1;
    for (int64_t win = 86400000; at_ms - win > t; win *= 2) {
      int64_t f = next_in_zone(e, at_ms - win);
      if (f >= 0 && f <= at_ms) {
        t = at_ms - win;
        break;
      }
    }
  }
  tz_pop(saved);
  return last;
}
