/* Unit tests for core/engine/cron.c: parsing (fields, names, ranges,
 * steps, lists, nicknames, @every) and the next fire time against a table
 * of known answers, with the clock injected as an argument: month ends,
 * leap days, Vixie's day-of-month/day-of-week OR rule, and the DST
 * transitions of America/New_York and Europe/Berlin in 2026. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/cron.h"

/* "2026-03-08T07:00:00Z" -> Unix ms. */
static int64_t at(const char *iso) {
  struct tm tm = {0};
  cr_assert_not_null(strptime(iso, "%Y-%m-%dT%H:%M:%SZ", &tm), "bad %s", iso);
  return (int64_t)timegm(&tm) * 1000;
}

static void iso(int64_t ms, char out[32]) {
  if (ms < 0) {
    snprintf(out, 32, "(none)");
    return;
  }
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static cron_expr parse(const char *text) {
  cron_expr e;
  char err[256] = "";
  cr_assert_eq(cron_parse(text, &e, err, sizeof err), 0,
               "'%s' should parse: %s", text, err);
  return e;
}

typedef struct {
  const char *tz, *expr, *after, *want;  /* want NULL: no fire */
} known;

static void check_table(const known *k, size_t n) {
  for (size_t i = 0; i < n; i++) {
    cron_expr e = parse(k[i].expr);
    int64_t got = cron_next(&e, k[i].tz, at(k[i].after));
    int64_t want = k[i].want ? at(k[i].want) : -1;
    char g[32], w[32];
    iso(got, g);
    iso(want, w);
    cr_expect_eq(got, want, "%s '%s' after %s: got %s, want %s",
                 k[i].tz ? k[i].tz : "UTC", k[i].expr, k[i].after, g, w);
  }
}

Test(cron, utc_fields_and_names) {
  static const known K[] = {
    {NULL, "*/15 * * * *", "2026-01-01T00:07:00Z", "2026-01-01T00:15:00Z"},
    /* Strictly after: a fire time is not its own next. */
    {NULL, "*/15 * * * *", "2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z"},
    {NULL, "*/15 * * * *", "2026-01-01T00:14:59Z", "2026-01-01T00:15:00Z"},
    {NULL, "5-10/2 * * * *", "2026-01-01T00:06:00Z", "2026-01-01T00:07:00Z"},
    {NULL, "5-10/2 * * * *", "2026-01-01T00:09:00Z", "2026-01-01T01:05:00Z"},
    {NULL, "50/5 * * * *", "2026-01-01T00:56:00Z", "2026-01-01T01:50:00Z"},
    {NULL, "0 9,17 * * *", "2026-01-01T09:00:00Z", "2026-01-01T17:00:00Z"},
    {NULL, "0 9 * * mon-fri", "2026-01-02T10:00:00Z", "2026-01-05T09:00:00Z"},
    {NULL, "0 9 * * MON-FRI", "2026-01-05T08:00:00Z", "2026-01-05T09:00:00Z"},
    {NULL, "0 0 * * 7", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
    {NULL, "0 0 * * sun", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
    {NULL, "0 0 * jan,jul sun", "2026-02-01T00:00:00Z", "2026-07-05T00:00:00Z"},
    {NULL, "0 0 1 */3 *", "2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z"},
    {NULL, "0 0 1,15 * *", "2026-01-15T00:00:00Z", "2026-02-01T00:00:00Z"},
    {NULL, "59 23 31 12 *", "2026-01-01T00:00:00Z", "2026-12-31T23:59:00Z"},
    /* Nicknames. */
    {NULL, "@hourly", "2026-01-01T10:59:59Z", "2026-01-01T11:00:00Z"},
    {NULL, "@daily", "2026-01-01T10:00:00Z", "2026-01-02T00:00:00Z"},
    {NULL, "@weekly", "2026-01-01T10:00:00Z", "2026-01-04T00:00:00Z"},
    {NULL, "@monthly", "2026-01-31T10:00:00Z", "2026-02-01T00:00:00Z"},
    {NULL, "@yearly", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
    {"UTC", "@every 15m", "2026-01-01T00:07:00Z", "2026-01-01T00:15:00Z"},
    {NULL, "@every 2s", "2026-01-01T00:00:03Z", "2026-01-01T00:00:04Z"},
  };
  check_table(K, sizeof K / sizeof K[0]);
}

Test(cron, month_ends_and_leap_days) {
  static const known K[] = {
    /* The 31st skips the 30-day months (and February). */
    {NULL, "0 0 31 * *", "2026-04-01T00:00:00Z", "2026-05-31T00:00:00Z"},
    {NULL, "0 0 31 * *", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z"},
    {NULL, "0 0 31 * *", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z"},
    {NULL, "0 0 30 * *", "2026-01-30T00:00:00Z", "2026-03-30T00:00:00Z"},
    /* Feb 29 only in leap years. */
    {NULL, "0 12 29 2 *", "2026-01-01T00:00:00Z", "2028-02-29T12:00:00Z"},
    {NULL, "0 12 29 2 *", "2024-01-01T00:00:00Z", "2024-02-29T12:00:00Z"},
    {NULL, "0 12 29 2 *", "2024-02-29T12:00:00Z", "2028-02-29T12:00:00Z"},
    /* 2100 is not a leap year. */
    {NULL, "0 0 29 2 *", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z"},
    {NULL, "0 0 28 2 *", "2026-02-28T00:00:00Z", "2027-02-28T00:00:00Z"},
    /* Never: no February has a 30th. */
    {NULL, "0 0 30 2 *", "2026-01-01T00:00:00Z", NULL},
  };
  check_table(K, sizeof K / sizeof K[0]);
}

Test(cron, day_of_month_or_day_of_week) {
  static const known K[] = {
    /* Both restricted: the 1st-7th OR any Monday (Vixie cron). */
    {NULL, "30 4 1-7 * 1", "2026-01-08T00:00:00Z", "2026-01-12T04:30:00Z"},
    {NULL, "30 4 1-7 * 1", "2026-01-31T00:00:00Z", "2026-02-01T04:30:00Z"},
    {NULL, "0 0 13 * fri", "2026-02-01T00:00:00Z", "2026-02-06T00:00:00Z"},
    /* A field that starts with '*' makes it AND: odd days that are
     * Mondays. */
    {NULL, "30 4 */2 * 1", "2026-01-01T00:00:00Z", "2026-01-05T04:30:00Z"},
    {NULL, "30 4 */2 * 1", "2026-01-05T04:30:00Z", "2026-01-19T04:30:00Z"},
    /* Day of week unrestricted: day of month alone. */
    {NULL, "0 0 13 * *", "2026-02-01T00:00:00Z", "2026-02-13T00:00:00Z"},
  };
  check_table(K, sizeof K / sizeof K[0]);
}

Test(cron, new_york_dst) {
  static const known K[] = {
    {"America/New_York", "0 9 * * *", "2026-01-01T00:00:00Z",
     "2026-01-01T14:00:00Z"},                   /* 09:00 EST */
    {"America/New_York", "0 9 * * *", "2026-07-01T00:00:00Z",
     "2026-07-01T13:00:00Z"},                   /* 09:00 EDT */
    /* Spring forward, Sunday 2026-03-08: 02:00 EST becomes 03:00 EDT.
     * 02:30 does not exist: it fires when the gap ends, 03:00 EDT. */
    {"America/New_York", "30 2 * * *", "2026-03-07T12:00:00Z",
     "2026-03-08T07:00:00Z"},
    {"America/New_York", "30 2 * * *", "2026-03-08T07:00:00Z",
     "2026-03-09T06:30:00Z"},                   /* 02:30 EDT */
    /* Every half hour across the gap: 02:00 and 02:30 collapse into one
     * fire at 03:00 EDT, then 03:30. */
    {"America/New_York", "*/30 * * * *", "2026-03-08T06:45:00Z",
     "2026-03-08T07:00:00Z"},
    {"America/New_York", "*/30 * * * *", "2026-03-08T07:00:00Z",
     "2026-03-08T07:30:00Z"},
    /* Fall back, Sunday 2026-11-01: 02:00 EDT becomes 01:00 EST. 01:30
     * happens twice and fires once, the first time (EDT). */
    {"America/New_York", "30 1 * * *", "2026-10-31T12:00:00Z",
     "2026-11-01T05:30:00Z"},
    {"America/New_York", "30 1 * * *", "2026-11-01T05:30:00Z",
     "2026-11-02T06:30:00Z"},                   /* 01:30 EST next day */
    /* Hourly: 01:00 EDT, then not 01:00 EST again, then 02:00 EST. */
    {"America/New_York", "0 * * * *", "2026-11-01T05:00:00Z",
     "2026-11-01T07:00:00Z"},
    /* Asked from inside the repeated hour (01:10 EST): the repeated wall
     * times already fired, so the next is 02:00 EST. */
    {"America/New_York", "*/15 * * * *", "2026-11-01T06:10:00Z",
     "2026-11-01T07:00:00Z"},
  };
  check_table(K, sizeof K / sizeof K[0]);
}

Test(cron, berlin_dst) {
  static const known K[] = {
    {"Europe/Berlin", "0 8 * * *", "2026-01-10T00:00:00Z",
     "2026-01-10T07:00:00Z"},                   /* 08:00 CET */
    /* Spring forward, Sunday 2026-03-29: 02:00 CET becomes 03:00 CEST. */
    {"Europe/Berlin", "30 2 * * *", "2026-03-28T12:00:00Z",
     "2026-03-29T01:00:00Z"},
    {"Europe/Berlin", "0 3 * * *", "2026-03-28T12:00:00Z",
     "2026-03-29T01:00:00Z"},
    /* The 02:30 and the 03:00 of that day are one fire, not two. */
    {"Europe/Berlin", "30 2,3 * * *", "2026-03-29T01:00:00Z",
     "2026-03-29T01:30:00Z"},                   /* 03:30 CEST */
    /* Fall back, Sunday 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30
     * fires at its first occurrence (CEST) only. */
    {"Europe/Berlin", "30 2 * * *", "2026-10-24T12:00:00Z",
     "2026-10-25T00:30:00Z"},
    {"Europe/Berlin", "30 2 * * *", "2026-10-25T00:30:00Z",
     "2026-10-26T01:30:00Z"},                   /* 02:30 CET */
    {"Europe/Berlin", "@daily", "2026-10-24T21:00:00Z",
     "2026-10-24T22:00:00Z"},                   /* midnight CEST */
    {"Europe/Berlin", "@daily", "2026-10-24T22:00:00Z",
     "2026-10-25T23:00:00Z"},                   /* 25 h later, CET */
  };
  check_table(K, sizeof K / sizeof K[0]);
}

Test(cron, tz_is_restored) {
  setenv("TZ", "Asia/Tokyo", 1);
  tzset();
  cron_expr e = parse("0 0 * * *");
  cron_next(&e, "America/New_York", at("2026-01-01T00:00:00Z"));
  cr_assert_str_eq(getenv("TZ"), "Asia/Tokyo");
  unsetenv("TZ");
  cron_next(&e, "Europe/Berlin", at("2026-01-01T00:00:00Z"));
  cr_assert_null(getenv("TZ"));
}

Test(cron, last_and_count) {
  cron_expr e = parse("*/15 * * * *");
  int n = 0;
  int64_t last = cron_last(&e, NULL, at("2026-01-01T00:00:00Z"),
                           at("2026-01-01T01:00:00Z"), 100, &n);
  cr_assert_eq(last, at("2026-01-01T01:00:00Z"));
  cr_assert_eq(n, 4);
  last = cron_last(&e, NULL, at("2026-01-01T00:00:00Z"),
                   at("2026-01-01T00:14:00Z"), 100, &n);
  cr_assert_eq(last, -1);
  cr_assert_eq(n, 0);
  /* Capped count, and still the right last fire a year later. */
  e = parse("* * * * *");
  last = cron_last(&e, NULL, at("2025-01-01T00:00:00Z"),
                   at("2026-01-01T10:07:30Z"), 10, &n);
  cr_assert_eq(n, 10);
  cr_assert_eq(last, at("2026-01-01T10:07:00Z"));
  e = parse("@every 2s");
  last = cron_last(&e, NULL, 1000, 10500, 100, &n);
  cr_assert_eq(last, 10000);
  cr_assert_eq(n, 5);                           /* 2, 4, 6, 8, 10 s */
}

static void bad(const char *text, const char *want) {
  cron_expr e;
  char err[256] = "";
  cr_assert_eq(cron_parse(text, &e, err, sizeof err), -1,
               "'%s' should be refused", text);
  cr_assert_not_null(strstr(err, want), "'%s': '%s' lacks '%s'", text, err,
                     want);
}

Test(cron, bad_expressions_name_field_and_token) {
  bad("61 * * * *", "minute field: '61' is out of range 0-59");
  bad("* 24 * * *", "hour field: '24'");
  bad("* * 0 * *", "day-of-month field: '0' is out of range 1-31");
  bad("* * * 13 *", "month field: '13'");
  bad("* * * foo *", "month field: 'foo'");
  bad("* * * * 8", "day-of-week field: '8'");
  bad("* * * * fri-", "day-of-week field: 'fri-'");
  bad("*/0 * * * *", "minute field: '*/0' has a step");
  bad("5-1 * * * *", "minute field: '5-1' is a range that ends before");
  bad("1,,2 * * * *", "minute field: '1,,2' has an empty list element");
  bad("* * * *", "expected 5 fields");
  bad("* * * * * *", "got 6");
  bad("@reboot", "'@reboot' is not a known nickname");
  bad("@every 500ms", "at least 1s");
  bad("@every soon", "'soon' is not a duration");
  bad("", "expected 5 fields");
}

Test(cron, time_zones) {
  char err[256] = "";
  cr_assert_eq(cron_tz_check("UTC", err, sizeof err), 0);
  cr_assert_eq(cron_tz_check("Europe/Berlin", err, sizeof err), 0, "%s", err);
  cr_assert_eq(cron_tz_check("Mars/Olympus", err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "unknown time zone 'Mars/Olympus'"));
  cr_assert_eq(cron_tz_check("../../etc/passwd", err, sizeof err), -1);
  cr_assert_eq(cron_tz_check("Europe", err, sizeof err), -1);  /* a dir */
}
