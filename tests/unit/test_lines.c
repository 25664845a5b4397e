/* Unit tests for core/io/lines.c: a sample watch stream split at every
 * byte position (and fed a byte at a time) gives the same lines, CRLF,
 * empty lines, the maximum line length (exact, beyond, detected before the
 * newline), the unterminated tail at end of stream, a callback that stops
 * and resumes, and sticky errors. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "io/lines.h"

/* Collects lines as "<line>|" so boundaries show. */
typedef struct {
  char out[8192];
  size_t n;
  int calls;
  int stop_at;      /* return 7 from this call number (1-based), 0: never */
} sink_t;

static int on_line(void *ud, const char *line, size_t len) {
  sink_t *s = ud;
  cr_assert_eq(strlen(line), len, "a line must be NUL-terminated at len");
  cr_assert_lt(s->n + len + 1, sizeof s->out);
  memcpy(s->out + s->n, line, len);
  s->n += len;
  s->out[s->n++] = '|';
  s->out[s->n] = '\0';
  s->calls++;
  return s->calls == s->stop_at ? 7 : 0;
}

static const char stream[] =
  "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\"}}\n"
  "{\"type\":\"MODIFIED\",\"object\":{}}\r\n"
  "\n"
  "\r\n"
  "{\"type\":\"DELETED\"}\n"
  "tail-without-newline";

static const char want[] =
  "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\"}}|"
  "{\"type\":\"MODIFIED\",\"object\":{}}|"
  "|"
  "|"
  "{\"type\":\"DELETED\"}|";

Test(lines, whole_stream) {
  lines_t l;
  sink_t s = {0};
  lines_init(&l, 0);
  cr_assert_eq(l.max, LINES_DEFAULT_MAX);
  cr_assert_eq(lines_feed(&l, stream, strlen(stream), on_line, &s), 0);
  cr_assert_str_eq(s.out, want);
  size_t tl;
  cr_assert_str_eq(lines_tail(&l, &tl), "tail-without-newline");
  cr_assert_eq(tl, strlen("tail-without-newline"));
  cr_assert_eq(lines_pending(&l), tl, "a truncated stream is detectable");
  lines_free(&l);
}

Test(lines, split_at_every_position) {
  size_t n = strlen(stream);
  for (size_t i = 0; i <= n; i++) {
    for (size_t j = i; j <= n; j++) {
      lines_t l;
      sink_t s = {0};
      lines_init(&l, 64);
      cr_assert_eq(lines_feed(&l, stream, i, on_line, &s), 0);
      cr_assert_eq(lines_feed(&l, stream + i, j - i, on_line, &s), 0);
      cr_assert_eq(lines_feed(&l, stream + j, n - j, on_line, &s), 0);
      cr_assert_str_eq(s.out, want, "split at %zu and %zu", i, j);
      cr_assert_str_eq(lines_tail(&l, NULL), "tail-without-newline");
      lines_free(&l);
    }
  }
}

Test(lines, byte_at_a_time) {
  lines_t l;
  sink_t s = {0};
  lines_init(&l, 0);
  for (size_t i = 0; stream[i]; i++)
    cr_assert_eq(lines_feed(&l, stream + i, 1, on_line, &s), 0);
  cr_assert_str_eq(s.out, want);
  cr_assert_eq(lines_pending(&l), strlen("tail-without-newline"));
  lines_free(&l);
}

Test(lines, clean_end_has_no_tail) {
  lines_t l;
  sink_t s = {0};
  lines_init(&l, 0);
  cr_assert_eq(lines_feed(&l, "a\nb\r\n", 5, on_line, &s), 0);
  cr_assert_eq(lines_feed(&l, NULL, 0, on_line, &s), 0);
  cr_assert_str_eq(s.out, "a|b|");
  cr_assert_eq(lines_pending(&l), 0);
  size_t tl = 99;
  cr_assert_str_eq(lines_tail(&l, &tl), "");
  cr_assert_eq(tl, 0);
  lines_free(&l);
}

Test(lines, empty_and_crlf_lines) {
  lines_t l;
  sink_t s = {0};
  lines_init(&l, 0);
  /* Only one '\r' before the '\n' is stripped; a lone '\r' stays. */
  const char *in = "\n\r\n\r\r\nx\ry\n";
  cr_assert_eq(lines_feed(&l, in, strlen(in), on_line, &s), 0);
  cr_assert_eq(s.calls, 4);
  cr_assert_str_eq(s.out, "||\r|x\ry|");
  lines_free(&l);
}

Test(lines, max_length_exact_is_fine) {
  lines_t l;
  sink_t s = {0};
  lines_init(&l, 4);
  cr_assert_eq(lines_feed(&l, "abcd\n", 5, on_line, &s), 0);
  cr_assert_eq(lines_feed(&l, "ef", 2, on_line, &s), 0);
  cr_assert_eq(lines_feed(&l, "gh\r", 3, on_line, &s), 0);
  cr_assert_eq(lines_feed(&l, "\n", 1, on_line, &s), 0);
  cr_assert_str_eq(s.out, "abcd|efgh|");
  lines_free(&l);
}

Test(lines, too_long_at_newline) {
  lines_t l;
  sink_t s = {0};
  lines_init(&l, 4);
  cr_assert_eq(lines_feed(&l, "ok\nabcde\n", 9, on_line, &s),
               LINES_ETOOLONG);
  cr_assert_str_eq(s.out, "ok|", "lines before the long one are delivered");
  /* Sticky. */
  cr_assert_eq(lines_feed(&l, "x\n", 2, on_line, &s), LINES_ETOOLONG);
  cr_assert_eq(s.calls, 1);
  lines_free(&l);
}

Test(lines, too_long_detected_before_newline) {
  lines_t l;
  sink_t s = {0};
  lines_init(&l, 8);
  int rc = 0;
  for (int i = 0; i < 100 && rc == 0; i++)
    rc = lines_feed(&l, "xxx", 3, on_line, &s);
  cr_assert_eq(rc, LINES_ETOOLONG);
  cr_assert_leq(l.cap, 10, "memory stays bounded by max");
  cr_assert_eq(s.calls, 0);
  lines_free(&l);
}

Test(lines, too_long_in_one_chunk) {
  lines_t l;
  sink_t s = {0};
  lines_init(&l, 1000);
  size_t n = 1 << 20;
  char *big = malloc(n);
  memset(big, 'a', n);
  cr_assert_eq(lines_feed(&l, big, n, on_line, &s), LINES_ETOOLONG);
  cr_assert_leq(l.cap, 1002);
  free(big);
  lines_free(&l);
}

Test(lines, stop_keeps_the_rest) {
  lines_t l;
  sink_t s = {0};
  s.stop_at = 2;
  lines_init(&l, 0);
  cr_assert_eq(lines_feed(&l, "a\nb\nc\nd", 7, on_line, &s), 7);
  cr_assert_str_eq(s.out, "a|b|");
  cr_assert_eq(lines_pending(&l), 3, "\"c\\nd\" kept");
  /* Draining with no data delivers what was kept, then new data joins the
   * tail. */
  cr_assert_eq(lines_feed(&l, NULL, 0, on_line, &s), 0);
  cr_assert_str_eq(s.out, "a|b|c|");
  cr_assert_eq(lines_feed(&l, "e\n", 2, on_line, &s), 0);
  cr_assert_str_eq(s.out, "a|b|c|de|");
  cr_assert_eq(lines_pending(&l), 0);
  lines_free(&l);
}

Test(lines, stop_then_feed_more) {
  lines_t l;
  sink_t s = {0};
  s.stop_at = 1;
  lines_init(&l, 0);
  cr_assert_eq(lines_feed(&l, "a\nb", 3, on_line, &s), 7);
  cr_assert_eq(lines_feed(&l, "c\nd\n", 4, on_line, &s), 0);
  cr_assert_str_eq(s.out, "a|bc|d|");
  lines_free(&l);
}

Test(lines, stop_on_last_line_keeps_nothing) {
  lines_t l;
  sink_t s = {0};
  s.stop_at = 1;
  lines_init(&l, 0);
  cr_assert_eq(lines_feed(&l, "a\n", 2, on_line, &s), 7);
  cr_assert_eq(lines_pending(&l), 0);
  cr_assert_null(l.rest);
  lines_free(&l);
}

/* Records only the length of each line (which may hold NUL bytes). */
static int on_len(void *ud, const char *line, size_t len) {
  size_t *got = ud;
  cr_assert_eq(line[len], '\0');
  *got = len;
  return 0;
}

Test(lines, nul_bytes_pass_through) {
  lines_t l;
  size_t got = 0;
  lines_init(&l, 0);
  cr_assert_eq(lines_feed(&l, "a\0b\n", 4, on_len, &got), 0);
  cr_assert_eq(got, 3, "a NUL inside a line is data");
  lines_free(&l);
}

Test(lines, reinit_after_free) {
  lines_t l;
  sink_t s = {0};
  lines_init(&l, 2);
  cr_assert_eq(lines_feed(&l, "toolong", 7, on_line, &s), LINES_ETOOLONG);
  lines_free(&l);
  lines_init(&l, 2);
  cr_assert_eq(lines_feed(&l, "ok\n", 3, on_line, &s), 0);
  cr_assert_str_eq(s.out, "ok|");
  lines_free(&l);
}
