#ifndef SUMMIT_ENGINE_KEYS_H
#define SUMMIT_ENGINE_KEYS_H
/* Journal keys (DESIGN §4): the caller's path plus a per-path counter.
 * The n-th entry at the top is "n"; inside entry K it is "K/n"; branch B of
 * a parallel at K runs under the prefix "K.B", so its entries are "K.B/n";
 * try t > 1 of a step K that is retried runs its body under "K~t".
 * Keys depend only on the order of calls on each path, never on the order
 * in which concurrent branches finish. */
#include <stddef.h>

/* Writes the key of the n-th entry under prefix ("" at the top). Returns the
 * length, or -1 if buf is too small. */
int key_child(char *buf, size_t len, const char *prefix, long n);
/* Writes the prefix of branch `branch` of the parallel entry at key. */
int key_branch(char *buf, size_t len, const char *key, const char *branch);
/* A branch name is usable in a key: letters, digits, '_' and '-' only. */
int key_branch_valid(const char *branch);
/* Splits key into the prefix it lives under and its counter ("3/1.2/4" ->
 * "3/1.2", 4). Returns 0, or -1 if key is malformed. */
int key_split(const char *key, char *prefix, size_t len, long *n);
/* Calls fn with every entry key on the path to key, outermost first, key
 * itself last ("3/1.2/4" -> "3", "3/1", "3/1.2/4"; "2~3/1" -> "2", "2~3/1").
 * Returns the count, or
 * -1 if key is malformed. */
int key_ancestors(const char *key, void (*fn)(void *ud, const char *k),
                  void *ud);

#endif
