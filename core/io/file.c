/* Reading whole files (file.h). */
#include "io/file.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *io_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 8192, n = 0, r;
  char *buf = malloc(cap);
  while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += r;
    if (n + 1 == cap) {
      char *nb = realloc(buf, cap *= 2);
      if (!nb) free(buf);
      buf = nb;
    }
  }
  int bad = ferror(f);
  fclose(f);
  if (!buf || bad) {
    free(buf);
    if (!buf) errno = ENOMEM;
    else errno = EIO;
    return NULL;
  }
  buf[n] = '\0';
  if (len) *len = n;
  return buf;
}

int io_mkdirs(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
  return 0;
}

int io_mkdirs_for(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  char *slash = strrchr(buf, '/');
  if (!slash || slash == buf) return 0;
  *slash = '\0';
  return io_mkdirs(buf);
}

/* ---- private state -------------------------------------------------- */

static mode_t user_umask;
static int private_umask;

void io_private_umask(void) {
  user_umask = umask(077);
  private_umask = 1;
}

void io_child_umask_begin(void) {
  if (private_umask) umask(user_umask);
}

void io_child_umask_end(void) {
  if (private_umask) umask(077);
}

/* Drops the group and other bits of path if the caller owns it. A
 * directory that was loose (logs/, sim/) has its entries tightened too:
 * one level, no links followed. */
static void tighten(const char *path, int deep) {
  struct stat st;
  if (lstat(path, &st) != 0 || S_ISLNK(st.st_mode) ||
      st.st_uid != geteuid() || !(st.st_mode & 077))
    return;
  chmod(path, st.st_mode & 07700);
  if (!deep || !S_ISDIR(st.st_mode)) return;
  DIR *d = opendir(path);
  if (!d) return;
  struct dirent *e;
  char sub[4096];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
    tighten(sub, 0);
  }
  closedir(d);
}

int io_private_dir(const char *path) {
  if (io_mkdirs(path) != 0) return -1;
  struct stat st;
  if (stat(path, &st) != 0) return -1;
  if (st.st_uid != geteuid() || (st.st_mode & S_ISVTX)) return 0;
  if ((st.st_mode & 077) && chmod(path, 0700) != 0) return -1;
  /* What summit keeps here goes private if an older summit, or another
   * umask, left it loose; the rest is not ours to change. A few entries:
   * cheap enough for every command. */
  DIR *d = opendir(path);
  if (!d) return 0;
  struct dirent *e;
  char sub[4096];
  while ((e = readdir(d))) {
    const char *n = e->d_name;
    int deep = !strcmp(n, "logs") || !strcmp(n, "sim");
    if (deep || !strncmp(n, "state.db", 8) || !strcmp(n, "daemon.log") ||
        !strncmp(n, "sim-", 4)) {
      snprintf(sub, sizeof sub, "%s/%s", path, n);
      tighten(sub, deep);
    }
  }
  closedir(d);
  return 0;
}
