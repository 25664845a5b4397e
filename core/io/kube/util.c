/* Small helpers of the kubeconfig code (see internal.h): bounded file
 * reads, lexical path cleaning as Go's filepath.Clean does it, names made
 * safe to print, and lenient base64 as kubeconfigs carry it. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/base64.h"
#include "io/kube/internal.h"

/* Writes a formatted message to err (when there is room for one). Always
 * returns -1 so callers can `return kc_errf(...)`. */
int kc_errf(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* A name from a kubeconfig made safe to print: quoted, control bytes,
 * quotes and backslashes shown as '?', cut after 64 bytes. q must hold
 * 72 bytes. Returns q. */
const char *kc_qname(const char *s, char *q) {
  size_t i, w = 0;
  q[w++] = '"';
  for (i = 0; s[i] && i < 64; i++) {
    unsigned char c = (unsigned char)s[i];
    q[w++] = (c < 0x20 || c == 0x7f || c == '"' || c == '\\') ? '?' : (char)c;
  }
  if (s[i]) {
    memcpy(q + w, "...", 3);
    w += 3;
  }
  q[w++] = '"';
  q[w] = '\0';
  return q;
}

/* Copies len bytes and adds a NUL. NULL when memory runs out. */
char *kc_memdup0(const char *s, size_t len) {
  char *d = malloc(len + 1);
  if (!d) return NULL;
  if (len) memcpy(d, s, len);
  d[len] = '\0';
  return d;
}

/* strdup that passes NULL through; sets *oom when the copy fails. */
char *kc_dup_or_null(const char *s, int *oom) {
  if (!s) return NULL;
  char *d = strdup(s);
  if (!d) *oom = 1;
  return d;
}

/* Data copy (NUL-terminated) that passes NULL through. */
char *kc_dupn_or_null(const char *s, size_t len, int *oom) {
  if (!s) return NULL;
  char *d = kc_memdup0(s, len);
  if (!d) *oom = 1;
  return d;
}

/* Reads a whole regular file of at most cap bytes into a malloc'd,
 * NUL-terminated buffer. Returns 0, or an errno value (EFBIG beyond cap). */
int kc_read_all(const char *path, size_t cap, char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return e;
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return EISDIR;
  }
  size_t n = 0, size = 4096;
  char *buf = malloc(size);
  if (!buf) {
    close(fd);
    return ENOMEM;
  }
  for (;;) {
    if (n == size) {
      if (size > cap) {
        free(buf);
        close(fd);
        return EFBIG;
      }
      char *nb = realloc(buf, size * 2);
      if (!nb) {
        free(buf);
        close(fd);
        return ENOMEM;
      }
      buf = nb;
      size *= 2;
    }
    ssize_t r = read(fd, buf + n, size - n);
    if (r < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      free(buf);
      close(fd);
      return e;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  if (n > cap) {
    free(buf);
    return EFBIG;
  }
  char *nb = realloc(buf, n + 1);
  if (nb) buf = nb;
  else if (n == size) {
    free(buf);
    return ENOMEM;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
}

void kc_rtrim(char *s) {
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
}

/* Lexically cleans an absolute path in place, as Go's filepath.Clean
 * does: repeated slashes collapse, "." goes, ".." removes the previous
 * element (never above "/"). */
static void clean_abs(char *p) {
  size_t n = strlen(p), r = 1, w = 1;
  if (p[0] != '/') return;
  while (r < n) {
    if (p[r] == '/') {
      r++;
      continue;
    }
    size_t e = r;
    while (e < n && p[e] != '/') e++;
    size_t seg = e - r;
    if (seg == 1 && p[r] == '.') {
      /* Nothing to keep. */
    } else if (seg == 2 && p[r] == '.' && p[r + 1] == '.') {
      while (w > 1 && p[w - 1] != '/') w--;
      if (w > 1) w--;
    } else {
      if (w > 1) p[w++] = '/';
      memmove(p + w, p + r, seg);
      w += seg;
    }
    r = e;
  }
  p[w] = '\0';
}

/* dir + "/" + rel, cleaned. malloc'd, or NULL when memory runs out. */
char *kc_path_join(const char *dir, const char *rel) {
  size_t a = strlen(dir), b = strlen(rel);
  char *p = malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, rel, b + 1);
  clean_abs(p);
  return p;
}

/* The absolute, cleaned directory holding path, or NULL (no memory, or
 * the working directory is unknown). */
char *kc_dir_of(const char *path) {
  char *abs;
  if (path[0] == '/') {
    abs = strdup(path);
  } else {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    abs = kc_path_join(cwd, path);
  }
  if (!abs) return NULL;
  clean_abs(abs);
  char *slash = strrchr(abs, '/');
  if (slash == abs) slash[1] = '\0';
  else *slash = '\0';
  return abs;
}

/* Decodes base64 (whitespace ignored, padding optional).
 * Empty input gives *out = NULL. Returns 0, or -1 for bad base64 or no
 * memory (*nomem set). The result is NUL-terminated. */
int kc_b64_decode(const char *s, size_t n, char **out, size_t *outlen,
                      int *nomem) {
  *out = NULL;
  *outlen = 0;
  if (n > INT_MAX - 8) return -1;
  char *clean = malloc(n + 4);
  if (!clean) {
    *nomem = 1;
    return -1;
  }
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (!isspace((unsigned char)s[i])) clean[m++] = s[i];
  size_t pad = 0;
  while (m && clean[m - 1] == '=' && pad < 2) {
    m--;
    pad++;
  }
  if (m == 0) {
    free(clean);
    return pad ? -1 : 0;
  }
  if (memchr(clean, '=', m) || m % 4 == 1) {
    free(clean);
    return -1;
  }
  /* 'A' is six zero bits: stand-in padding whose bytes are dropped. */
  size_t fill = (4 - m % 4) % 4;
  if (pad && pad != fill) {
    free(clean);
    return -1;
  }
  memset(clean + m, 'A', fill);
  size_t total = m + fill;
  unsigned char *dst = malloc(total / 4 * 3 + 1);
  if (!dst) {
    free(clean);
    *nomem = 1;
    return -1;
  }
  long r = base64_decode(dst, clean, total);
  free(clean);
  if (r < 0 || (size_t)r != total / 4 * 3) {
    free(dst);
    return -1;
  }
  size_t len = (size_t)r - fill;
  dst[len] = '\0';
  *out = (char *)dst;
  *outlen = len;
  return 0;
}
