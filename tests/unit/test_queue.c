/* Unit tests for the queue of submitted runs (core/store/queue.c) and
 * worker labels (core/engine/labels.c): a queued run keeps the labels it
 * needs; of two connections claiming it one wins; a fresh claim hides it
 * from the list and a stale one does not; a run that left the queue is
 * never claimed; labels parse with errors that name the item, and match
 * only a worker that has every label the run needs. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "engine/labels.h"
#include "fixtures.h"
#include "store/store.h"

TestSuite(queue, .init = tmpdir_setup, .fini = tmpdir_teardown);

static void queue_run(store_t *s, const char *id, int64_t t,
                      const char *on) {
  store_run r = sample_run(id, t);
  r.status = "queued";
  r.run_on = (char *)on;
  cr_assert_eq(store_run_create(s, &r), STORE_OK, "%s", store_errmsg(s));
}

typedef struct {
  char ids[8][32], on[8][64];
  int n;
} listed;

static int collect(void *ud, const store_queued *q) {
  listed *l = ud;
  snprintf(l->ids[l->n], sizeof l->ids[0], "%s", q->id);
  snprintf(l->on[l->n], sizeof l->on[0], "%s", q->run_on ? q->run_on : "-");
  l->n++;
  return 0;
}

static listed list(store_t *s, int64_t stale) {
  listed l = {0};
  cr_assert_eq(store_queue_list(s, stale, collect, &l), STORE_OK);
  return l;
}

Test(queue, oldest_first_with_labels) {
  store_t *s = open_db(1);
  queue_run(s, "q2", 2000, NULL);
  queue_run(s, "q1", 1000, "{\"region\":\"eu\"}");
  listed l = list(s, 0);
  cr_assert_eq(l.n, 2);
  cr_assert_str_eq(l.ids[0], "q1");
  cr_assert_str_eq(l.on[0], "{\"region\":\"eu\"}");
  cr_assert_str_eq(l.ids[1], "q2");
  cr_assert_str_eq(l.on[1], "-");
  store_run r;
  cr_assert_eq(store_run_get(s, "q1", &r), STORE_OK);
  cr_assert_str_eq(r.status, "queued");
  cr_assert_str_eq(r.run_on, "{\"region\":\"eu\"}");
  cr_assert_eq(r.owner_pid, 0);
  store_run_free(&r);
  store_close(s);
}

Test(queue, one_claimer_wins) {
  store_t *a = open_db(1), *b = open_db(0);
  queue_run(a, "q1", 1000, NULL);
  int won_a = 0, won_b = 0;
  cr_assert_eq(store_queue_claim(a, "q1", 5000, 0, "a:1", &won_a), STORE_OK);
  cr_assert_eq(store_queue_claim(b, "q1", 5001, 0, "b:2", &won_b), STORE_OK);
  cr_assert_eq(won_a, 1);
  cr_assert_eq(won_b, 0, "a fresh claim is not taken twice");
  cr_assert_eq(list(b, 4000).n, 0, "a fresh claim hides the run");
  /* The claim went stale (its worker died before the run started). */
  cr_assert_eq(list(b, 6000).n, 1);
  cr_assert_eq(store_queue_claim(b, "q1", 20000, 6000, "b:2", &won_b),
               STORE_OK);
  cr_assert_eq(won_b, 1, "a stale claim is taken over");
  store_close(a);
  store_close(b);
}

Test(queue, only_queued_runs) {
  store_t *s = open_db(1);
  queue_run(s, "q1", 1000, NULL);
  cr_assert_eq(store_run_set_status(s, "q1", "running", NULL, NULL, 0, 0,
                                    2000), STORE_OK);
  cr_assert_eq(store_flush(s), STORE_OK);
  int won = 1;
  cr_assert_eq(store_queue_claim(s, "q1", 3000, 0, "a:1", &won), STORE_OK);
  cr_assert_eq(won, 0, "a run that left the queue is not claimed");
  cr_assert_eq(list(s, 0).n, 0);
  store_close(s);
}

Test(labels, parse) {
  char err[300] = "";
  char *j = labels_add(NULL, "region=eu,gpu=yes", ',', "--labels", err,
                       sizeof err);
  cr_assert_not_null(j, "%s", err);
  cr_assert_str_eq(j, "{\"region\":\"eu\",\"gpu\":\"yes\"}");
  j = labels_add(j, "zone=a", '\0', "--on", err, sizeof err);
  cr_assert_str_eq(j, "{\"region\":\"eu\",\"gpu\":\"yes\",\"zone\":\"a\"}");
  j = labels_add(j, "zone=b", '\0', "--on", err, sizeof err);
  cr_assert_null(j);
  cr_assert_str_eq(err, "--on 'zone=b': label 'zone' is given twice");
  cr_assert_null(labels_add(NULL, "region", '\0', "--on", err, sizeof err));
  cr_assert_str_eq(err, "--on 'region': not KEY=VALUE (like region=eu)");
  cr_assert_null(labels_add(NULL, "a=1,b c=2", ',', "--labels", err,
                            sizeof err));
  cr_assert(strstr(err, "'b c=2': the key must be") != NULL, "%s", err);
  cr_assert_null(labels_add(NULL, "a=", '\0', "--on", err, sizeof err));
  cr_assert(strstr(err, "'a=': the value must be") != NULL, "%s", err);
}

Test(labels, match) {
  const char *worker = "{\"region\":\"eu\",\"gpu\":\"yes\"}";
  cr_assert(labels_match(NULL, NULL), "no needs: any worker");
  cr_assert(labels_match("{}", worker));
  cr_assert(labels_match("{\"region\":\"eu\"}", worker));
  cr_assert(labels_match("{\"region\":\"eu\",\"gpu\":\"yes\"}", worker));
  cr_assert_not(labels_match("{\"region\":\"us\"}", worker));
  cr_assert_not(labels_match("{\"region\":\"eu\",\"zone\":\"a\"}", worker));
  cr_assert_not(labels_match("{\"region\":\"eu\"}", NULL),
                "a worker without labels takes only runs that need none");
  cr_assert_not(labels_match("not json", worker));
  char text[64];
  labels_text("{\"region\":\"eu\",\"gpu\":\"yes\"}", text, sizeof text);
  cr_assert_str_eq(text, "region=eu,gpu=yes");
  labels_text(NULL, text, sizeof text);
  cr_assert_str_eq(text, "any worker");
}
