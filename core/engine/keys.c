/* Journal key derivation (see keys.h). */
#include "engine/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int key_child(char *buf, size_t len, const char *prefix, long n) {
  int w = *prefix ? snprintf(buf, len, "%s/%ld", prefix, n)
                  : snprintf(buf, len, "%ld", n);
  return w < 0 || (size_t)w >= len ? -1 : w;
}

int key_branch_valid(const char *b) {
  if (!*b) return 0;
  for (; *b; b++)
    if (!((*b >= 'a' && *b <= 'z') || (*b >= 'A' && *b <= 'Z') ||
          (*b >= '0' && *b <= '9') || *b == '_' || *b == '-'))
      return 0;
  return 1;
}

int key_branch(char *buf, size_t len, const char *key, const char *branch) {
  if (!key_branch_valid(branch)) return -1;
  int w = snprintf(buf, len, "%s.%s", key, branch);
  return w < 0 || (size_t)w >= len ? -1 : w;
}

int key_split(const char *key, char *prefix, size_t len, long *n) {
  const char *slash = strrchr(key, '/');
  const char *num = slash ? slash + 1 : key;
  char *end;
  if (!*num || *num < '0' || *num > '9') return -1;
  *n = strtol(num, &end, 10);
  if (*end || *n < 1) return -1;
  size_t plen = slash ? (size_t)(slash - key) : 0;
  if (plen >= len) return -1;
  memcpy(prefix, key, plen);
  prefix[plen] = '\0';
  return 0;
}

/* What may follow an entry's counter in a part: "~t" (t digits) and/or
 * ".branch" (a valid branch name), in that order, or nothing. */
static int suffix_ok(const char *s, size_t n) {
  size_t i = 0;
  if (i < n && s[i] == '~') {
    size_t d = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == d) return 0;
  }
  if (i < n && s[i] == '.') {
    size_t b = ++i;
    for (; i < n; i++) {
      char ch = s[i];
      if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
        return 0;
    }
    if (i == b) return 0;
  }
  return i == n;
}

int key_ancestors(const char *key, void (*fn)(void *ud, const char *k),
                  void *ud) {
  size_t klen = strlen(key);
  char *acc = malloc(klen + 1);
  if (!acc) return -1;
  int count = 0;
  size_t alen = 0;   /* acc holds the prefix the current part lives under */
  const char *p = key;
  for (;;) {
    const char *end = strchr(p, '/');
    size_t plen = end ? (size_t)(end - p) : strlen(p);
    /* A part is "n", or "n~t" (try t of a retried step) and/or "n.b"
     * (branch b of a parallel): entry n of the prefix, then a prefix. */
    size_t nlen = 0;
    while (nlen < plen && p[nlen] >= '0' && p[nlen] <= '9') nlen++;
    int last = end == NULL;
    if (nlen == 0 || (last && nlen != plen) || !suffix_ok(p + nlen, plen - nlen) ||
        (end && !end[1])) {
      count = -1;
      break;
    }
    if (alen) acc[alen++] = '/';
    memcpy(acc + alen, p, nlen);
    acc[alen + nlen] = '\0';
    fn(ud, acc);
    count++;
    memcpy(acc + alen, p, plen);
    alen += plen;
    acc[alen] = '\0';
    if (last) break;
    p = end + 1;
  }
  free(acc);
  return count;
}
