/* Duration parsing (see duration.h). */
#include "engine/duration.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  const char *unit;
  double ms;
} UNITS[] = {{"d", 86400000.0}, {"h", 3600000.0}, {"m", 60000.0},
             {"s", 1000.0},     {"ms", 1.0}};
#define NUNITS ((int)(sizeof UNITS / sizeof UNITS[0]))

int duration_parse(const char *s, double *ms, char *err, unsigned errlen) {
  if (!s || !*s) {
    snprintf(err, errlen, "empty duration");
    return -1;
  }
  char *end;
  double plain = strtod(s, &end);
  if (*end == '\0' && (s[0] >= '0' && s[0] <= '9')) {
    if (!isfinite(plain)) goto bad;
    *ms = plain * 1000.0;
    return 0;
  }
  double total = 0;
  int last = -1;
  const char *p = s;
  while (*p) {
    if (!(*p >= '0' && *p <= '9') && *p != '.') goto bad;
    double v = strtod(p, &end);
    if (end == p) goto bad;
    p = end;
    int u = -1;
    /* "ms" before "m": take the longest unit that matches. */
    for (int i = 0; i < NUNITS; i++) {
      size_t n = strlen(UNITS[i].unit);
      if (!strncmp(p, UNITS[i].unit, n) &&
          (u < 0 || n > strlen(UNITS[u].unit)))
        u = i;
    }
    if (u < 0) goto bad;
    if (u <= last) {
      snprintf(err, errlen,
               "invalid duration '%s': units must decrease (h, m, s, ms)", s);
      return -1;
    }
    last = u;
    total += v * UNITS[u].ms;
    p += strlen(UNITS[u].unit);
  }
  if (!isfinite(total)) goto bad;
  *ms = total;
  return 0;
bad:
  snprintf(err, errlen,
           "invalid duration '%s' (expected seconds or e.g. 500ms, 30s, "
           "15m, 1h30m)", s);
  return -1;
}
