/* Unit tests for store_schedule_streak (core/store/notify.c): how many of
 * a schedule's runs before a given run ended badly in a row, which is what
 * decides a schedule.failing notification (docs/notifications.md). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "store/store.h"

static store_t *s;

static void setup(void) {
  tmpdir_setup();
  s = open_db_with(1, STORE_DURABILITY_PROCESS);
}

static void teardown(void) {
  store_close(s);
  tmpdir_teardown();
}

TestSuite(streak, .init = setup, .fini = teardown);

/* A run created at ms by schedule (NULL: none), ended with status. */
static void run(const char *id, int64_t ms, const char *schedule,
                const char *status) {
  store_run r = sample_run(id, ms);  /* only schedule and status count */
  cr_assert_eq(store_run_create(s, &r), STORE_OK);
  if (schedule)
    cr_assert_eq(store_schedule_run_started(s, schedule, ms, id), STORE_OK,
                 "%s", store_errmsg(s));
  cr_assert_eq(store_run_set_status(s, id, status, NULL, NULL, 0, 1, ms + 1),
               STORE_OK);
  cr_assert_eq(store_flush(s), STORE_OK);
}

static int64_t streak(const char *schedule, const char *id) {
  int64_t n = -1;
  cr_assert_eq(store_schedule_streak(s, schedule, id, &n), STORE_OK, "%s",
               store_errmsg(s));
  return n;
}

Test(streak, counts_back_to_the_newest_success) {
  run("a", 1000, "probe", "failed");
  run("b", 2000, "probe", "succeeded");
  run("c", 3000, "probe", "failed");
  run("d", 4000, "probe", "rolled_back");
  run("e", 5000, "probe", "failed");
  cr_assert_eq(streak("probe", "a"), 0, "the first run has nothing before it");
  cr_assert_eq(streak("probe", "b"), 1);
  cr_assert_eq(streak("probe", "c"), 0, "b succeeded just before c");
  cr_assert_eq(streak("probe", "d"), 1);
  cr_assert_eq(streak("probe", "e"), 2, "c and d: failed and rolled back");
}

Test(streak, only_the_schedules_own_earlier_runs) {
  run("a", 1000, "probe", "failed");
  run("x", 1500, "other", "failed");
  run("y", 1600, NULL, "failed");
  run("b", 2000, "probe", "cancelled");
  run("c", 3000, "probe", "failed");
  run("later", 9000, "probe", "failed");
  cr_assert_eq(streak("probe", "c"), 2, "a and b; not x, y or the later run");
  cr_assert_eq(streak("other", "x"), 0);
}

Test(streak, runs_not_ended_neither_extend_nor_break_it) {
  run("a", 1000, "probe", "failed");
  run("b", 2000, "probe", "suspended");
  run("c", 3000, "probe", "failed");
  cr_assert_eq(streak("probe", "c"), 1);
}

Test(streak, no_runs_or_an_unknown_run) {
  cr_assert_eq(streak("probe", "nope"), 0);
}
