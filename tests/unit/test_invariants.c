/* The build that runs the tests keeps assert() (CMakeLists.txt), so a
 * broken invariant of the C core aborts the test that hits it instead of
 * passing unseen. These tests break one on purpose: the statement slots of
 * core/store/ (store/internal.h). */
#include <criterion/criterion.h>

#include <signal.h>

#include "store/internal.h"

static store_t *open_memory(void) {
  char err[256] = "";
  store_t *s = store_open(":memory:", 1, STORE_DURABILITY_PROCESS, err,
                          sizeof err);
  cr_assert_not_null(s, "store_open: %s", err);
  return s;
}

Test(invariants, a_statement_slot_keeps_its_sql) {
  store_t *s = open_memory();
  store_q *a = store__stmt(s, N_STREAK, "SELECT 1");
  cr_assert_not_null(a, "%s", store_errmsg(s));
  cr_assert_eq(store__stmt(s, N_STREAK, "SELECT 1"), a, "prepared once");
  store_close(s);
}

#ifndef NDEBUG
Test(invariants, a_slot_asked_with_other_sql_aborts, .signal = SIGABRT) {
  store_t *s = open_memory();
  cr_assert_not_null(store__stmt(s, N_STREAK, "SELECT 1"));
  store__stmt(s, N_STREAK, "SELECT 2");
}

Test(invariants, a_slot_out_of_range_aborts, .signal = SIGABRT) {
  store_t *s = open_memory();
  store__stmt(s, STORE_NSTMT, "SELECT 1");
}
#endif
