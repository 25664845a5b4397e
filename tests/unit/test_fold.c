/* Unit tests for core/cli/fold.c: the newest state of each journal entry
 * (summit status). Rows are fed as store_journal_each hands them over.
 * The work check counts hash-table probes, not time: it is what made
 * status quadratic when keys were found by walking a list (issue #12). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "cli/fold.h"

static void row(journal_fold *f, const char *key, const char *state,
                int64_t attempt, int64_t ts, const char *error) {
  store_entry e = {.key = key, .state = state, .attempt = attempt,
                   .kind = "step", .name = key, .ts_ms = ts, .error = error};
  cr_assert_eq(journal_fold_row(f, &e), 0);
}

Test(fold, newest_state_in_first_seen_order) {
  journal_fold f = {0};
  row(&f, "1", "started", 1, 10, NULL);
  row(&f, "2", "started", 1, 11, NULL);
  row(&f, "1", "completed", 1, 12, NULL);
  row(&f, "2", "failed", 1, 13, "{\"code\":\"E\"}");
  row(&f, "2", "started", 2, 14, NULL);
  row(&f, "3/1.a/1", "started", 1, 15, NULL);
  cr_assert_eq(f.n, 3);
  cr_assert_str_eq(f.v[0].key, "1");
  cr_assert_str_eq(f.v[0].state, "completed");
  cr_assert_eq(f.v[0].started_ms, 10);
  cr_assert_eq(f.v[0].ended_ms, 12);
  cr_assert_str_eq(f.v[1].key, "2");
  cr_assert_str_eq(f.v[1].state, "started");
  cr_assert_eq(f.v[1].attempt, 2);
  cr_assert_eq(f.v[1].ended_ms, 13, "a retry keeps the end of the failed attempt");
  cr_assert_str_eq(f.v[1].error, "{\"code\":\"E\"}");
  cr_assert_str_eq(f.v[2].key, "3/1.a/1");
  cr_assert_eq(f.v[2].ended_ms, 0);
  journal_fold_free(&f);
}

Test(fold, unknown_state_is_kept) {
  journal_fold f = {0};
  row(&f, "1", "started", 1, 1, NULL);
  row(&f, "1", "some-new-state", 1, 2, NULL);
  cr_assert_str_eq(f.v[0].state, "some-new-state");
  journal_fold_free(&f);
}

/* n entries of 2 rows each (started, completed), keys as the engine makes
 * them; returns the probes per row. */
static double probes_per_row(int n) {
  journal_fold f = {0};
  char key[64];
  for (int i = 1; i <= n; i++) {
    snprintf(key, sizeof key, "%d/1.b%d/%d", i % 97, i, i);
    row(&f, key, "started", 1, i, NULL);
  }
  for (int i = 1; i <= n; i++) {
    snprintf(key, sizeof key, "%d/1.b%d/%d", i % 97, i, i);
    row(&f, key, "completed", 1, n + i, NULL);
  }
  cr_assert_eq(f.n, (size_t)n);
  for (int i = 0; i < n; i++)
    cr_assert_str_eq(f.v[i].state, "completed");
  double per = (double)f.probes / (2.0 * n);
  journal_fold_free(&f);
  return per;
}

Test(fold, work_per_row_does_not_grow_with_the_journal) {
  double small = probes_per_row(1000), big = probes_per_row(100000);
  /* A table at most half full averages under 2.5 probes per lookup; a
   * scan of the entries seen so far would average n/2. */
  cr_assert_lt(small, 3.0, "%.2f probes per row at 1,000 entries", small);
  cr_assert_lt(big, 3.0, "%.2f probes per row at 100,000 entries", big);
}
