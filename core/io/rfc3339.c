/* RFC 3339 timestamps and civil-calendar arithmetic (see rfc3339.h): the
 * one parser behind audit.c, cron.c and the ExecCredential expiry time. */
#include "io/rfc3339.h"

#include <stddef.h>

/* n ASCII digits at s, as a number; -1 when one is not a digit (a NUL
 * stops it too, so short strings are safe). */
static int digits(const char *s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* The two forms had two parsers (summit audit's --since and kubeconfig's
 * ExecCredential expiry); one parser keeps each caller's accepted set
 * exactly as it was, which is why the lenient branches are spelled out. */
int rfc3339_parse_ms(const char *s, unsigned flags, int64_t *out) {
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int lenient = (flags & RFC3339_LENIENT) != 0;
  int Y, M, D, h = 0, m = 0, sec = 0, ms = 0, off = 0;
  if (!s) return -1;
  if (digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) ||
      s[7] != '-' || digits(s + 8, 2, &D))
    return -1;
  const char *p = s + 10;
  if (*p == 'T' || *p == 't' || *p == ' ') {
    p++;
    if (digits(p, 2, &h) || p[2] != ':' || digits(p + 3, 2, &m)) return -1;
    p += 5;
    if (*p == ':') {
      if (digits(p + 1, 2, &sec)) return -1;
      p += 3;
      if (*p == '.' || (!lenient && *p == ',')) {
        p++;
        if (!lenient && (*p < '0' || *p > '9')) return -1;
        int k = 0;
        for (; *p >= '0' && *p <= '9'; p++)
          if (k < 3) {
            ms = ms * 10 + (*p - '0');
            k++;
          }
        for (; k < 3; k++) ms *= 10;
      }
    } else if (!lenient) {
      return -1;
    }
    if (*p == 'Z' || *p == 'z') {
      p++;
    } else if (*p == '+' || *p == '-') {
      int oh, om;
      if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) ||
          (!lenient && (oh > 23 || om > 59)))
        return -1;
      off = (*p == '-' ? -1 : 1) * (oh * 60 + om);
      p += 6;
    } else if (!lenient) {
      return -1;
    }
  } else if (!lenient) {
    return -1;
  }
  if (*p || M < 1 || M > 12 || D < 1 || h > 23 || m > 59) return -1;
  if (lenient) {
    if (D > 31 || sec > 60) return -1;
  } else {
    int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (sec > 59 || D > mdays[M - 1] + (M == 2 && leap)) return -1;
  }
  int64_t t = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec -
              (int64_t)off * 60;
  *out = t * 1000 + ms;
  return 0;
}
