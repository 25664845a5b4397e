/* Unit tests for daemon_plan (core/engine/daemon.c): what the daemon does
 * with a schedule at one poll, with the clock injected: not due, on time,
 * overlap skip, fires folded after a late poll, and the missed-fire
 * policies (skip, run-once) for fires that passed while no daemon ran. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/cron.h"
#include "engine/daemon.h"

/* "12:00:30" on 2026-01-01, in ms. */
static int64_t at(const char *hms) {
  int h, m, s;
  cr_assert_eq(sscanf(hms, "%d:%d:%d", &h, &m, &s), 3);
  return (1767225600LL + h * 3600 + m * 60 + s) * 1000;
}

static cron_expr every15(void) {
  cron_expr e;
  char err[200];
  cr_assert_eq(cron_parse("*/15 * * * *", &e, err, sizeof err), 0);
  return e;
}

Test(daemon_plan, not_due) {
  cron_expr e = every15();
  fire_plan p = daemon_plan(&e, "UTC", "skip", at("12:15:00"), at("12:14:59"),
                            at("11:00:00"), 0);
  cr_assert_eq(p.action, FIRE_NONE);
  cr_assert_eq(p.next_ms, at("12:15:00"));
}

Test(daemon_plan, on_time) {
  cron_expr e = every15();
  fire_plan p = daemon_plan(&e, "UTC", "skip", at("12:15:00"), at("12:15:00"),
                            at("11:00:00"), 0);
  cr_assert_eq(p.action, FIRE_RUN);
  cr_assert_eq(p.fire_ms, at("12:15:00"));
  cr_assert_eq(p.next_ms, at("12:30:00"));
  cr_assert_eq(p.missed, 0);
  cr_assert_eq(p.coalesced, 0);
}

Test(daemon_plan, overlap_skips_and_moves_on) {
  cron_expr e = every15();
  fire_plan p = daemon_plan(&e, "UTC", "skip", at("12:15:00"), at("12:15:00"),
                            at("11:00:00"), 1);
  cr_assert_eq(p.action, FIRE_SKIP_OVERLAP);
  cr_assert_eq(p.fire_ms, at("12:15:00"));
  cr_assert_eq(p.next_ms, at("12:30:00"), "the skipped fire is not retried");
  /* run-once does not override an overlap either. */
  p = daemon_plan(&e, "UTC", "run-once", at("10:15:00"), at("12:00:31"),
                  at("12:00:30"), 1);
  cr_assert_eq(p.action, FIRE_SKIP_OVERLAP);
}

Test(daemon_plan, late_poll_folds_fires_into_one) {
  cron_expr e = every15();
  /* The daemon ran all along but could not poll (full --max-runs). */
  fire_plan p = daemon_plan(&e, "UTC", "skip", at("12:00:00"), at("12:31:00"),
                            at("11:00:00"), 0);
  cr_assert_eq(p.action, FIRE_RUN);
  cr_assert_eq(p.fire_ms, at("12:30:00"));
  cr_assert_eq(p.coalesced, 2);
  cr_assert_eq(p.missed, 0);
  cr_assert_eq(p.next_ms, at("12:45:00"));
}

Test(daemon_plan, missed_skip) {
  cron_expr e = every15();
  /* No daemon from before 10:15 until 12:00:30: 10:15 ... 12:00 missed. */
  fire_plan p = daemon_plan(&e, "UTC", "skip", at("10:15:00"), at("12:00:31"),
                            at("12:00:30"), 0);
  cr_assert_eq(p.action, FIRE_SKIP_MISSED);
  cr_assert_eq(p.missed, 8);
  cr_assert_eq(p.fire_ms, at("12:00:00"));
  cr_assert_eq(p.next_ms, at("12:15:00"), "only the next future fire");
}

Test(daemon_plan, missed_run_once) {
  cron_expr e = every15();
  fire_plan p = daemon_plan(&e, "UTC", "run-once", at("10:15:00"),
                            at("12:00:31"), at("12:00:30"), 0);
  cr_assert_eq(p.action, FIRE_RUN, "one run now for all that was missed");
  cr_assert_eq(p.missed, 8);
  cr_assert_eq(p.fire_ms, at("12:00:00"));
  cr_assert_eq(p.next_ms, at("12:15:00"));
}

Test(daemon_plan, missed_then_on_time) {
  cron_expr e = every15();
  /* Started at 12:14:00 after a long stop; by the first poll at 12:15:01
   * the 12:15 fire is on time: it runs, the old ones count as missed. */
  fire_plan p = daemon_plan(&e, "UTC", "skip", at("10:15:00"), at("12:15:01"),
                            at("12:14:00"), 0);
  cr_assert_eq(p.action, FIRE_RUN);
  cr_assert_eq(p.fire_ms, at("12:15:00"));
  cr_assert_eq(p.missed, 8);
  cr_assert_eq(p.coalesced, 0);
}

Test(daemon_plan, another_daemons_late_fire_is_not_missed) {
  cron_expr e = every15();
  /* A second daemon started 2 s after the fire time, before the first
   * daemon's poll: within DAEMON_MISSED_GRACE_MS, so it is on time. */
  fire_plan p = daemon_plan(&e, "UTC", "skip", at("12:00:00"), at("12:00:02"),
                            at("12:00:02"), 0);
  cr_assert_eq(p.action, FIRE_RUN);
  cr_assert_eq(p.fire_ms, at("12:00:00"));
  cr_assert_eq(p.missed, 0);
}
