/* Unit tests for core/engine/duration.c: the durations runbooks write
 * ("500ms", "30s", "15m", "1h", "1h30m", "2d", plain seconds) and the
 * errors for everything else. */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "engine/duration.h"

static double ok(const char *s) {
  double ms = -12345;
  char err[160] = "";
  cr_assert_eq(duration_parse(s, &ms, err, sizeof err), 0,
               "'%s' should parse: %s", s, err);
  return ms;
}

static void bad(const char *s, const char *expect) {
  double ms = -12345;
  char err[160] = "";
  cr_assert_eq(duration_parse(s, &ms, err, sizeof err), -1,
               "'%s' should be refused (got %g ms)", s ? s : "(null)", ms);
  cr_assert_neq(err[0], '\0', "an error message is written for '%s'",
                s ? s : "(null)");
  if (expect)
    cr_assert_not_null(strstr(err, expect), "'%s': message '%s' lacks '%s'",
                       s ? s : "(null)", err, expect);
  cr_assert_eq(ms, -12345, "*ms is left alone on error");
}

Test(duration, single_units) {
  cr_assert_float_eq(ok("500ms"), 500.0, 1e-9);
  cr_assert_float_eq(ok("30s"), 30000.0, 1e-9);
  cr_assert_float_eq(ok("15m"), 900000.0, 1e-9);
  cr_assert_float_eq(ok("1h"), 3600000.0, 1e-9);
  cr_assert_float_eq(ok("2d"), 172800000.0, 1e-9);
  cr_assert_float_eq(ok("1ms"), 1.0, 1e-9);
}

Test(duration, compound_units) {
  cr_assert_float_eq(ok("1h30m"), 5400000.0, 1e-9);
  cr_assert_float_eq(ok("1m30s"), 90000.0, 1e-9);
  cr_assert_float_eq(ok("1d2h3m4s5ms"),
                     86400000.0 + 7200000.0 + 180000.0 + 4000.0 + 5.0, 1e-6);
  cr_assert_float_eq(ok("2m500ms"), 120500.0, 1e-9);
  cr_assert_float_eq(ok("1h0m"), 3600000.0, 1e-9);
}

Test(duration, fractions) {
  cr_assert_float_eq(ok("1.5"), 1500.0, 1e-9);
  cr_assert_float_eq(ok("0.5s"), 500.0, 1e-9);
  cr_assert_float_eq(ok("1.5h"), 5400000.0, 1e-9);
  cr_assert_float_eq(ok("2.5ms"), 2.5, 1e-9);
}

Test(duration, plain_seconds_and_zero) {
  cr_assert_float_eq(ok("0"), 0.0, 1e-12);
  cr_assert_float_eq(ok("0s"), 0.0, 1e-12);
  cr_assert_float_eq(ok("0ms"), 0.0, 1e-12);
  cr_assert_float_eq(ok("30"), 30000.0, 1e-9);
  cr_assert_float_eq(ok("86400"), 86400000.0, 1e-6);
}

Test(duration, ms_is_not_minutes) {
  /* Longest unit wins: "5ms" is 5 ms, not 5 minutes followed by "s". */
  cr_assert_float_eq(ok("5ms"), 5.0, 1e-9);
  cr_assert_float_eq(ok("5m"), 300000.0, 1e-9);
  cr_assert_float_eq(ok("5m5ms"), 300005.0, 1e-9);
}

Test(duration, empty_and_null) {
  bad("", "empty");
  bad(NULL, "empty");
}

Test(duration, garbage) {
  bad("5 parsecs", "5 parsecs");
  bad("1x", "'1x'");
  bad("ms", NULL);
  bad("h", NULL);
  bad("abc", NULL);
  bad("1h30", NULL);    /* a trailing number without unit */
  bad(" 1s", NULL);
  bad("1s ", NULL);
  bad("1 s", NULL);
  bad("1h 30m", NULL);
  bad(".", NULL);
  bad("1..5s", NULL);
  bad("1e400", NULL);   /* not finite */
  bad("inf", NULL);
  bad("nan", NULL);
  bad("1hour", NULL);
}

Test(duration, negative) {
  bad("-1", NULL);
  bad("-1s", NULL);
  bad("1h-30m", NULL);
  bad("+1s", NULL);
}

Test(duration, units_must_decrease_once) {
  bad("1m1h", "decrease");
  bad("1s1m", "decrease");
  bad("1h1h", "decrease");
  bad("1ms1s", "decrease");
  bad("30s1d", "decrease");
}

Test(duration, message_truncated_safely) {
  double ms;
  char err[8];
  memset(err, 'Z', sizeof err);
  cr_assert_eq(duration_parse("5 parsecs", &ms, err, sizeof err), -1);
  cr_assert_eq(err[sizeof err - 1], '\0');
  cr_assert_eq(strlen(err), sizeof err - 1);
}

/* A unit value that overflows to +inf ms ("1e308d") is refused, like a
 * non-finite plain number. */
Test(duration, huge_unit_value_is_refused) {
  double ms = 0;
  char err[160] = "";
  int rc = duration_parse("1e308d", &ms, err, sizeof err);
  cr_assert_eq(rc, -1, "rc=%d ms=%g err=%s", rc, ms, err);
}
