#ifndef SUMMIT_ENGINE_PINS_H
#define SUMMIT_ENGINE_PINS_H
/* The closure a run pins (DESIGN §14): each module source a run loads is
 * stored with it by SHA-256 when first loaded, and a resume loads the
 * pinned text instead of what summit embeds (or SUMMIT_LUA_DIR holds)
 * now. The runbook's own source is pinned in the runs row (run.c). */
#include <stddef.h>

struct runtime;

typedef struct pin {
  char *name, *path, *sha, *text;
  struct pin *next;
} pin_t;

typedef struct pins {
  int on;          /* a run (started or resumed) records what it loads */
  int live;        /* the run's row takes pins at once (else: pending) */
  pin_t *pinned;   /* resume: what the run pinned before (text read lazily) */
  pin_t *pending;  /* loaded before the row could take them */
} pins_t;

/* SHA-256 of data as 64 hex digits. */
void pins_sha256_hex(const char *data, size_t len, char out[65]);

/* A new run records from now on; pins_commit writes them with its row. */
void pins_start(struct runtime *rt);
/* A resumed run (rt->run_id): with upgrade 0 its pins are read and loaded
 * from then on; with upgrade 1 they are ignored and the current sources
 * pinned by pins_commit once the new code replayed cleanly. 0, or -1 with
 * the store's error. */
int pins_resume(struct runtime *rt, int upgrade);
/* Writes what was loaded so far as the run's pins (replacing any it had:
 * resume --upgrade) with summit's version; later loads are pinned at
 * once. A store code. */
int pins_commit(struct runtime *rt);

/* The source module name must load: the pinned text if the run has one
 * (*text replaced, caller frees *owned), else text itself, pinned now
 * (or at pins_commit). 0; -1 with the store's error; -2 when the pinned
 * text is missing from the store. */
int pins_source(struct runtime *rt, const char *name, const char *path,
                const char **text, char **owned);

/* Module name's pinned source and file, when the run pinned it (a resume
 * without --upgrade): 0 with *text and *path (caller frees), 1 when it has
 * none, -1 on a store error, -2 when the pinned text is missing. Lets a
 * team module deleted from disk still load as the run loaded it. */
int pins_pinned(struct runtime *rt, const char *name, char **text,
                char **path);
void pins_free(pins_t *p);

#endif
