/* Unit tests for core/engine/keys.c: journal key derivation (DESIGN §4).
 * "n" at the top, "K/n" inside entry K, "K.B/n" inside branch B of the
 * parallel at K; split and ancestors are the inverse operations. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "engine/keys.h"

/* ---- key_child --------------------------------------------------------- */

Test(keys, child_top_level) {
  char buf[32];
  cr_assert_eq(key_child(buf, sizeof buf, "", 1), 1);
  cr_assert_str_eq(buf, "1");
  cr_assert_eq(key_child(buf, sizeof buf, "", 12345), 5);
  cr_assert_str_eq(buf, "12345");
}

Test(keys, child_nested) {
  char buf[32];
  cr_assert_eq(key_child(buf, sizeof buf, "3", 1), 3);
  cr_assert_str_eq(buf, "3/1");
  cr_assert_eq(key_child(buf, sizeof buf, "3/1.2", 4), 7);
  cr_assert_str_eq(buf, "3/1.2/4");
  cr_assert_eq(key_child(buf, sizeof buf, "3/1.db-migrate_1", 10), 19);
  cr_assert_str_eq(buf, "3/1.db-migrate_1/10");
}

Test(keys, child_buffer_too_small) {
  char buf[8];
  /* "3/1.2/4" is 7 chars + NUL = 8: fits exactly. */
  cr_assert_eq(key_child(buf, 8, "3/1.2", 4), 7);
  cr_assert_str_eq(buf, "3/1.2/4");
  cr_assert_eq(key_child(buf, 7, "3/1.2", 4), -1);
  cr_assert_eq(key_child(buf, 1, "", 5), -1);
  cr_assert_eq(key_child(buf, 2, "", 5), 1);
  cr_assert_eq(key_child(buf, 2, "", 10), -1);
}

/* ---- key_branch ----------------------------------------------------------- */

Test(keys, branch_valid_names) {
  char buf[64];
  cr_assert_eq(key_branch(buf, sizeof buf, "3/1", "2"), 5);
  cr_assert_str_eq(buf, "3/1.2");
  cr_assert_eq(key_branch(buf, sizeof buf, "5", "tests"), 7);
  cr_assert_str_eq(buf, "5.tests");
  cr_assert_gt(key_branch(buf, sizeof buf, "5", "Scan_2-x"), 0);
  cr_assert_str_eq(buf, "5.Scan_2-x");
  cr_assert(key_branch_valid("a"));
  cr_assert(key_branch_valid("A_z-09"));
}

Test(keys, branch_invalid_names) {
  const char *bad[] = {"", "a b", "a.b", "a/b", "tab\t", "caf\xc3\xa9",
                       "x\n", "a:b", "*"};
  char buf[64];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cr_assert_not(key_branch_valid(bad[i]), "'%s' must be invalid", bad[i]);
    strcpy(buf, "untouched");
    cr_assert_eq(key_branch(buf, sizeof buf, "3", bad[i]), -1,
                 "key_branch('%s')", bad[i]);
  }
}

Test(keys, branch_buffer_too_small) {
  char buf[8];
  cr_assert_eq(key_branch(buf, 8, "3/1", "abc"), 7);
  cr_assert_str_eq(buf, "3/1.abc");
  cr_assert_eq(key_branch(buf, 7, "3/1", "abc"), -1);
}

/* ---- key_split ---------------------------------------------------------- */

Test(keys, split_valid) {
  char prefix[32];
  long n = 0;
  cr_assert_eq(key_split("3/1.2/4", prefix, sizeof prefix, &n), 0);
  cr_assert_str_eq(prefix, "3/1.2");
  cr_assert_eq(n, 4);
  cr_assert_eq(key_split("7", prefix, sizeof prefix, &n), 0);
  cr_assert_str_eq(prefix, "");
  cr_assert_eq(n, 7);
  cr_assert_eq(key_split("3/15", prefix, sizeof prefix, &n), 0);
  cr_assert_str_eq(prefix, "3");
  cr_assert_eq(n, 15);
  cr_assert_eq(key_split("2.a/1.b/3", prefix, sizeof prefix, &n), 0);
  cr_assert_str_eq(prefix, "2.a/1.b");
  cr_assert_eq(n, 3);
}

Test(keys, split_is_inverse_of_child) {
  const char *prefixes[] = {"", "1", "3/1.2", "9/8.x/7.y-z"};
  for (size_t i = 0; i < 4; i++)
    for (long n = 1; n < 200; n += 37) {
      char key[64], prefix[64];
      long m = 0;
      cr_assert_gt(key_child(key, sizeof key, prefixes[i], n), 0);
      cr_assert_eq(key_split(key, prefix, sizeof prefix, &m), 0, "%s", key);
      cr_assert_str_eq(prefix, prefixes[i]);
      cr_assert_eq(m, n);
    }
}

Test(keys, split_malformed) {
  const char *bad[] = {"",    "/",    "3/",   "x",     "3/x",    "3/4a",
                       "0",   "3/0",  "-1",   "3/-1",  "3/+4",   "3/ 4",
                       "3.2", "3/1.2", "1.5", "3/1.2/"};
  char prefix[32];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    long n = -99;
    cr_assert_eq(key_split(bad[i], prefix, sizeof prefix, &n), -1,
                 "key_split('%s') must fail", bad[i]);
  }
}

Test(keys, split_prefix_buffer_too_small) {
  char prefix[5];
  long n;
  cr_assert_eq(key_split("3/1.2/4", prefix, sizeof prefix, &n), -1);
  cr_assert_eq(key_split("3/1.2/4", prefix, 0, &n), -1);
  char big[6];
  cr_assert_eq(key_split("3/1.2/4", big, sizeof big, &n), 0);
  cr_assert_str_eq(big, "3/1.2");
}

/* ---- key_ancestors ---------------------------------------------------- */

typedef struct {
  int n;
  char k[16][64];
} acc_t;

static void collect(void *ud, const char *k) {
  acc_t *a = ud;
  cr_assert_lt(a->n, 16);
  snprintf(a->k[a->n++], sizeof a->k[0], "%s", k);
}

static void expect_ancestors(const char *key, int n, const char *const *want) {
  acc_t a;
  memset(&a, 0, sizeof a);
  cr_assert_eq(key_ancestors(key, collect, &a), n, "key_ancestors('%s')", key);
  cr_assert_eq(a.n, n, "callbacks for '%s'", key);
  for (int i = 0; i < n; i++)
    cr_assert_str_eq(a.k[i], want[i], "ancestor %d of '%s'", i, key);
}

Test(keys, ancestors_top_and_nested) {
  expect_ancestors("3", 1, (const char *[]){"3"});
  expect_ancestors("3/1", 2, (const char *[]){"3", "3/1"});
  expect_ancestors("12/3/45", 3, (const char *[]){"12", "12/3", "12/3/45"});
}

Test(keys, ancestors_parallel) {
  expect_ancestors("3/1.2/4", 3, (const char *[]){"3", "3/1", "3/1.2/4"});
  expect_ancestors("5.tests/1", 2, (const char *[]){"5", "5.tests/1"});
}

Test(keys, ancestors_nested_parallels) {
  expect_ancestors("2.a/1.b/3", 3,
                   (const char *[]){"2", "2.a/1", "2.a/1.b/3"});
  expect_ancestors("1.x/2/3.y-z/4.w_1/5", 5,
                   (const char *[]){"1", "1.x/2", "1.x/2/3", "1.x/2/3.y-z/4",
                                    "1.x/2/3.y-z/4.w_1/5"});
}

Test(keys, ancestors_agree_with_split) {
  /* Walking up with key_split visits the entry ancestors in reverse. */
  const char *key = "1.x/2/3.y-z/4.w_1/5";
  acc_t a;
  memset(&a, 0, sizeof a);
  int n = key_ancestors(key, collect, &a);
  cr_assert_eq(n, 5);
  cr_assert_str_eq(a.k[n - 1], key);
  char cur[64], prefix[64];
  snprintf(cur, sizeof cur, "%s", key);
  for (int i = n - 1; i > 0; i--) {
    long m;
    cr_assert_eq(key_split(cur, prefix, sizeof prefix, &m), 0);
    /* The parent entry of a prefix "K" or "K.B" is K. */
    char *dot = strrchr(prefix, '.');
    char *slash = strrchr(prefix, '/');
    if (dot && (!slash || dot > slash)) *dot = '\0';
    cr_assert_str_eq(prefix, a.k[i - 1]);
    snprintf(cur, sizeof cur, "%s", prefix);
  }
}

Test(keys, ancestors_malformed) {
  const char *bad[] = {"/",     "3/",    "/3",   "3//4",  "x",   "3/x",
                       "3.2",   "3.",    "~2/1", ".2/1",  "3/1.2", "3~2",
                       "a.b/1", "3/1.2/", "3/-1", "3/4a", "",     "3/1.2/4~2",
                       "3x/1",  "3/1;2"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    acc_t a;
    memset(&a, 0, sizeof a);
    cr_assert_eq(key_ancestors(bad[i], collect, &a), -1,
                 "key_ancestors('%s') must be -1", bad[i]);
  }
}

Test(keys, ancestors_retry_tries) {
  /* Try t of a retried step K runs its body under "K~t". */
  expect_ancestors("2~3/1", 2, (const char *[]){"2", "2~3/1"});
  expect_ancestors("4/2~2/1.a/3", 4,
                   (const char *[]){"4", "4/2", "4/2~2/1", "4/2~2/1.a/3"});
  char prefix[32];
  long n;
  cr_assert_eq(key_split("2~3/1", prefix, sizeof prefix, &n), 0);
  cr_assert_str_eq(prefix, "2~3");
  cr_assert_eq(n, 1);
}

Test(keys, ancestors_malformed_calls_back_at_most_the_valid_part) {
  acc_t a;
  memset(&a, 0, sizeof a);
  cr_assert_eq(key_ancestors("", collect, &a), -1);
  cr_assert_eq(a.n, 0);
  memset(&a, 0, sizeof a);
  cr_assert_eq(key_ancestors("x/1", collect, &a), -1);
  cr_assert_eq(a.n, 0);
}

/* key_ancestors refuses prefixes the engine never produces: an empty
 * branch ("3./1"), an empty try ("3~/1"), a branch name key_branch_valid
 * refuses ("3.a b/1"). */
Test(keys, ancestors_refuse_impossible_prefixes) {
  const char *bad[] = {"3./1", "3~/1", "3.a b/1", "3~x/1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    acc_t a;
    memset(&a, 0, sizeof a);
    cr_assert_eq(key_ancestors(bad[i], collect, &a), -1,
                 "key_ancestors('%s') must be -1", bad[i]);
  }
}
