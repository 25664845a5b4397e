/* Unit tests for core/io/rfc3339.c: the strict RFC 3339 form (kubeconfig
 * ExecCredential expiry) and the lenient one (summit audit --since), each
 * with what it must accept and reject, and days_from_civil on the dates
 * where calendars go wrong. */
#include <criterion/criterion.h>

#include <stdint.h>

#include "io/rfc3339.h"

Test(rfc3339, days_from_civil) {
  cr_assert_eq(days_from_civil(1970, 1, 1), 0);
  cr_assert_eq(days_from_civil(1969, 12, 31), -1);
  cr_assert_eq(days_from_civil(2000, 3, 1) * 86400000, INT64_C(951868800000));
  cr_assert_eq(days_from_civil(2100, 3, 1) * 86400000,
               INT64_C(4107542400000));
  /* Linear in d: Feb 31 2024 (leap) is Mar 2. */
  cr_assert_eq(days_from_civil(2024, 2, 31), days_from_civil(2024, 3, 2));
}

Test(rfc3339, strict_valid) {
  int64_t t;
  cr_assert_eq(rfc3339_parse_ms("1970-01-01T00:00:00Z", 0, &t), 0);
  cr_assert_eq(t, 0);
  cr_assert_eq(rfc3339_parse_ms("2024-05-01T14:00:00.5+02:00", 0, &t), 0);
  cr_assert_eq(t, INT64_C(1714564800500));
  cr_assert_eq(rfc3339_parse_ms("2024-05-01t11:30:00.123456789-00:30", 0, &t),
               0);
  cr_assert_eq(t, INT64_C(1714564800123));
  cr_assert_eq(rfc3339_parse_ms("2024-05-01 12:00:00,5z", 0, &t), 0);
  cr_assert_eq(t, INT64_C(1714564800500));
  cr_assert_eq(rfc3339_parse_ms("2024-02-29T00:00:00Z", 0, &t), 0);
  cr_assert_eq(t, INT64_C(1709164800000));
  cr_assert_eq(rfc3339_parse_ms("1969-12-31T23:59:59Z", 0, &t), 0);
  cr_assert_eq(t, -1000);
}

Test(rfc3339, strict_invalid) {
  int64_t t = 42;
  const char *bad[] = {"2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z",
                       "2024-05-01T24:00:00Z", "2024-05-01T12:00:00",
                       "2024-05-01", "2024-05-01T12:00:00Zjunk",
                       "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00+0200",
                       "", "2024-05-01T12:00:60Z", "2024-04-31T00:00:00Z",
                       "2024-05-01T12:00Z", "2024-05-01T12:00:00+24:00",
                       "2024-05-01T12:00:00+02:60", "2024-05-00T00:00:00Z",
                       "2024-5-01T00:00:00Z", "2024-05-01X12:00:00Z",
                       "2024-05-01T12:00:00", NULL};
  for (int i = 0; bad[i]; i++)
    cr_assert_eq(rfc3339_parse_ms(bad[i], 0, &t), -1, "%s", bad[i]);
  cr_assert_eq(rfc3339_parse_ms(NULL, 0, &t), -1);
  cr_assert_eq(t, 42, "a rejected input leaves *out alone");
}

Test(rfc3339, lenient_valid) {
  int64_t t;
  unsigned L = RFC3339_LENIENT;
  cr_assert_eq(rfc3339_parse_ms("2026-11-27", L, &t), 0);
  cr_assert_eq(t, INT64_C(1795737600000));
  cr_assert_eq(rfc3339_parse_ms("2026-11-27T10:45", L, &t), 0);
  cr_assert_eq(t, INT64_C(1795776300000));
  cr_assert_eq(rfc3339_parse_ms("2026-11-27T10:45:40.5Z", L, &t), 0);
  cr_assert_eq(t, INT64_C(1795776340500));
  cr_assert_eq(rfc3339_parse_ms("2026-11-27 10:45:40+02:00", L, &t), 0);
  cr_assert_eq(t, INT64_C(1795769140000));
  cr_assert_eq(rfc3339_parse_ms("2026-11-27t10:45:40.z", L, &t), 0);
  cr_assert_eq(t, INT64_C(1795776340000));
  /* Rolls over as timegm() does: Feb 31 2024 is Mar 2, :60 the next
   * minute; an offset is not range-checked. */
  cr_assert_eq(rfc3339_parse_ms("2024-02-31", L, &t), 0);
  cr_assert_eq(t, INT64_C(1709337600000));
  cr_assert_eq(rfc3339_parse_ms("2024-05-01T12:00:60", L, &t), 0);
  cr_assert_eq(t, INT64_C(1714564860000));
  cr_assert_eq(rfc3339_parse_ms("2024-05-01T12:00+30:00", L, &t), 0);
  cr_assert_eq(t, INT64_C(1714456800000));
  /* Strict inputs read the same. */
  cr_assert_eq(rfc3339_parse_ms("2024-05-01t11:30:00.123456789-00:30", L, &t),
               0);
  cr_assert_eq(t, INT64_C(1714564800123));
}

Test(rfc3339, lenient_invalid) {
  int64_t t;
  const char *bad[] = {"", "2026", "2026-11", "2026-11-2", "2026-13-01",
                       "2026-00-01", "2026-11-00", "2026-11-32",
                       "2026-11-27T", "2026-11-27T10", "2026-11-27T24:00",
                       "2026-11-27T10:60", "2026-11-27T10:45:61",
                       "2026-11-27T10:45:40,5Z", "2026-11-27T10:45+0200",
                       "2026-11-27T10:45:40Zjunk", "2026-11-27X", "1h",
                       "2026-11-27 ", NULL};
  for (int i = 0; bad[i]; i++)
    cr_assert_eq(rfc3339_parse_ms(bad[i], RFC3339_LENIENT, &t), -1, "%s",
                 bad[i]);
  cr_assert_eq(rfc3339_parse_ms(NULL, RFC3339_LENIENT, &t), -1);
}
