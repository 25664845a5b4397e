/* summit init [DIR] [--force]: writes what a team's repository needs to
 * start writing runbooks into DIR (default: the working directory): a
 * starter summit.lua and runbooks/hello.lua, the editor types for
 * lua-language-server (types/summit/), .luarc.json, .luacheckrc and an
 * empty lib/ for team modules. The files are embedded in the binary
 * (cmake/init_files.c.in). An existing file is kept unless --force. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "io/term.h"
#include "engine/engine.h"
#include "lua/embedded.h"

/* mkdir -p: every directory of path. Returns 0, or -1 with errno set. */
static int make_dirs(const char *path) {
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(buf, path, n + 1);
  for (char *p = buf + 1; ; p++) {
    if (*p != '/' && *p != '\0') continue;
    char c = *p;
    *p = '\0';
    struct stat st;
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
    if (stat(buf, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) {
      errno = ENOTDIR;
      return -1;
    }
    if (c == '\0') return 0;
    *p = c;
  }
}

static int write_all(int fd, const char *text, size_t size) {
  while (size > 0) {
    ssize_t w = write(fd, text, size);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    text += w;
    size -= (size_t)w;
  }
  return 0;
}

/* Writes one file under dir. Returns 1 written, 0 skipped (it exists and
 * not force), -1 after printing why it could not be written. */
static int write_one(const char *dir, const struct summit_init_file *f, int force) {
  char path[4096];
  int n = snprintf(path, sizeof path, "%s/%s", dir, f->path);
  if (n < 0 || (size_t)n >= sizeof path) {
    fprintf(stderr, "summit init: %s/%s: path too long\n", term_str(dir), f->path);
    return -1;
  }
  char *slash = strrchr(path, '/');
  *slash = '\0';
  int rc = make_dirs(path);
  *slash = '/';
  if (rc != 0) {
    fprintf(stderr, "summit init: cannot create the directory of %s: %s\n", term_str(path),
            strerror(errno));
    return -1;
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL), 0644);
  if (fd < 0 && errno == EEXIST) return 0;
  if (fd < 0 || write_all(fd, f->text, f->size) != 0) {
    fprintf(stderr, "summit init: cannot write %s: %s\n", term_str(path), strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  if (close(fd) != 0) {
    fprintf(stderr, "summit init: cannot write %s: %s\n", term_str(path), strerror(errno));
    return -1;
  }
  return 1;
}

int cmd_init(int argc, char **argv) {
  const char *dir = NULL;
  int force = 0;
  for (int i = 0; i < argc; i++) {
    if (cli_flag(argv, i, "--force")) force = 1;
    else if (argv[i][0] == '-') return cli_usage("init", "unknown option %s", argv[i]);
    else if (dir) return cli_usage("init", "one directory only (got %s and %s)", dir, argv[i]);
    else dir = argv[i];
  }
  if (!dir) dir = ".";
  if (make_dirs(dir) != 0) {
    fprintf(stderr, "summit init: cannot create %s: %s\n", term_str(dir), strerror(errno));
    return EXIT_FAILED;
  }
  int wrote = 0, skipped = 0;
  for (const struct summit_init_file *f = summit_init_files; f->path; f++) {
    int r = write_one(dir, f, force);
    if (r < 0) return EXIT_FAILED;
    printf("%s %s/%s\n", r ? "wrote  " : "skipped", term_str(dir), f->path);
    if (r) wrote++;
    else skipped++;
  }
  /* summit.lua's modules = { "lib" }: the team modules' directory, which
   * .luarc.json hands the language server too. */
  char lib[4096];
  snprintf(lib, sizeof lib, "%s/lib", dir);
  if (make_dirs(lib) != 0) {
    fprintf(stderr, "summit init: cannot create %s: %s\n", term_str(lib), strerror(errno));
    return EXIT_FAILED;
  }
  printf("summit init: %d written, %d skipped", wrote, skipped);
  if (skipped) printf(" (they exist; --force overwrites them)");
  printf("\nnext: cd %s && summit validate --strict runbooks/hello.lua && "
         "summit run hello --env dev\n", term_str(dir));
  return EXIT_OK;
}
