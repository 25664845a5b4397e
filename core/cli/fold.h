#ifndef SUMMIT_CLI_FOLD_H
#define SUMMIT_CLI_FOLD_H
/* The newest state of each journal entry, folded from the rows of
 * store_journal_each (summit status). Linear in the number of rows: keys
 * are found through a hash table, never by a scan (issue #12). */
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* One entry: the names of its first row; the state and attempt of its
 * newest row; the time of its first row and of its newest row that is not
 * "started"; the newest error and note any row had. */
typedef struct {
  char *key, *kind, *name, *site;   /* one block, owned through key */
  const char *state;                /* a static string or own_state */
  char *own_state, *error, *note;
  int64_t attempt, started_ms, ended_ms;
} fold_entry;

/* Zero-initialise; free with journal_fold_free. */
typedef struct {
  fold_entry *v;        /* n entries, in first-seen order */
  size_t n, cap;
  size_t *slots;        /* index + 1 into v, 0 = empty; a power of two */
  size_t nslots;
  size_t probes;        /* slots looked at, for tests: about one per row */
  int oom;              /* a row could not be folded: out of memory */
} journal_fold;

/* A store_entry_cb: folds row e (rows must come in id order). Returns 1,
 * which stops the walk, only when out of memory (oom is set then). */
int journal_fold_row(void *fold, const store_entry *e);
void journal_fold_free(journal_fold *f);

/* What summit status shows of a run (runjson.c): its folded entries, its
 * open waits (a JSON array), its pins (cli_pins) and its result (JSON
 * text or NULL). */
struct cJSON;
typedef struct {
  journal_fold fold;
  struct cJSON *waits, *pins;
  char *result;
} run_view;
/* Fills *v (free with run_view_free, whatever it returns). Returns
 * STORE_OK, or STORE_ERR with v->fold.oom set when out of memory, else
 * the store's error (store_errmsg). */
int run_view_load(store_t *s, const store_run *r, run_view *v);
void run_view_free(run_view *v);

#endif
