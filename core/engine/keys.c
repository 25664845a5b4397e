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

int key_ancestors(const char *key, void (*fn)(void *ud, const char *k),
                  void *ud) {
  size_t klen = strlen(key);
  char *acc = malloc(klen + 1);
  if (!acc) return -1;
  int count = 0;
  const char *p = key;
  size_t alen = 0;   /* acc holds the prefix of the current part */
  while (*p) {
    const char *end = strchr(p, '/');
    size_t plen = end ? (size_t)(end - p) : strlen(p);
    /* A part is "n" or "n.branch": entry n of the prefix, then the branch. */
    const char *dot = memchr(p, '.', plen);
    size_t nlen = dot ? (size_t)(dot - p) : plen;
    if (nlen == 0 || (dot && dot + 1 == p + plen)) {
      count = -1;
      break;
    }
    for (size_t i = 0; i < nlen; i++)
      if (p[i] < '0' || p[i] > '9') {
        free(acc);
        return -1;
      }
    if (alen) acc[alen++] = '/';
    memcpy(acc + alen, p, nlen);
    alen += nlen;
    acc[alen] = '\0';
    fn(ud, acc);
    count++;
    if (dot) {
      memcpy(acc + alen, dot, plen - nlen);
      alen += plen - nlen;
      acc[alen] = '\0';
      if (!end) { /* a key cannot end in a branch prefix */
        count = -1;
        break;
      }
    }
    p = end ? end + 1 : p + plen;
    if (end && !*p) {
      count = -1;
      break;
    }
  }
  free(acc);
  return count;
}
