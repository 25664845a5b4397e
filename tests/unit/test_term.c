/* Unit tests for core/io/term.c: what a terminal is shown of text from
 * runbooks, params and people, and the UTF-8 check of params. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "io/term.h"

static void shows(const char *in, size_t len, int flags, const char *want) {
  char *got = term_escape(in, len, flags);
  cr_assert_not_null(got);
  cr_assert_str_eq(got, want);
  free(got);
}

Test(term, printable_text_is_unchanged) {
  const char *s = "deploy v1.2 <script>alert(1)</script> é ✓ \\x1b";
  cr_assert_eq(term_str(s), s, "nothing to escape: the same pointer");
  shows(s, strlen(s), 0, s);
}

Test(term, c0_controls_and_del) {
  shows("a\x1b[2Kb", 6, 0, "a\\x1b[2Kb");
  shows("x\ry\tz\n", 6, 0, "x\\ry\\tz\\n");
  shows("\x1b]0;title\x07", 10, 0, "\\x1b]0;title\\x07");
  shows("del\x7f", 4, 0, "del\\x7f");
  shows("nul\0after", 9, 0, "nul\\x00after");
}

Test(term, multiline_keeps_newlines_only) {
  shows("line 1\nline\r2\n", 14, TERM_MULTILINE, "line 1\nline\\r2\n");
}

Test(term, c1_and_bidi_controls) {
  shows("a\xc2\x9b" "2Kb", 6, 0, "a\\u009b2Kb");
  shows("\xe2\x80\xae" "gnp.exe", 10, 0, "\\u202egnp.exe");
  shows("\xe2\x81\xa6x\xe2\x81\xa9", 7, 0, "\\u2066x\\u2069");
  shows("a\xe2\x80\xa8" "b", 5, 0, "a\\u2028b");
}

Test(term, invalid_utf8_is_replaced) {
  shows("a\xff" "b", 3, 0, "a\xef\xbf\xbd" "b");
  shows("\xc3(", 2, 0, "\xef\xbf\xbd(");
  shows("\xc0\xaf", 2, 0, "\xef\xbf\xbd\xef\xbf\xbd");   /* overlong '/' */
  shows("\xed\xa0\x80", 3, 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  /* surrogate */
  shows("\xe2\x9c", 2, 0, "\xef\xbf\xbd\xef\xbf\xbd");   /* cut short */
}

Test(term, utf8_valid) {
  size_t bad = 99;
  cr_assert(term_utf8_valid("é ✓ \xf0\x9f\x9a\x80", 11, &bad));
  cr_assert_not(term_utf8_valid("ab\xff", 3, &bad));
  cr_assert_eq(bad, 2);
  cr_assert_not(term_utf8_valid("\xf4\x90\x80\x80", 4, &bad));  /* > U+10FFFF */
  cr_assert_eq(bad, 0);
}

Test(term, ring_holds_one_printf_worth) {
  const char *a = term_str("1\x1b"), *b = term_str("2\x1b");
  for (int i = 0; i < 10; i++) term_str("x\x1b");
  cr_assert_str_eq(a, "1\\x1b");
  cr_assert_str_eq(b, "2\\x1b");
  cr_assert_null(term_str(NULL));
}
