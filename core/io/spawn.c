/* posix_spawn + pidfd (see spawn.h). */
#include "io/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_PATH "/bin:/usr/bin"  /* execvp's, when PATH is unset */

/* 1 when the kernel has pidfd_open (Linux 5.3), asked once. */
static int have_pidfd(void) {
  static int have = -1;
  if (have < 0) {
    int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    have = fd >= 0;
    if (fd >= 0) close(fd);
  }
  return have;
}

/* A close-on-exec pipe whose ends are both above 2: a child end that was
 * 0, 1 or 2 (summit started with a standard descriptor closed) would be
 * dup2'ed onto itself and keep its close-on-exec flag. */
static int pipe_above_stdio(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) return -errno;
  for (int i = 0; i < 2; i++) {
    if (fds[i] > 2) continue;
    int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
    int e = errno;
    close(fds[i]);
    if (fd < 0) {
      close(fds[1 - i]);
      return -e;
    }
    fds[i] = fd;
  }
  return 0;
}

static void close_pair(int fds[2]) {
  if (fds[0] >= 0) close(fds[0]);
  if (fds[1] >= 0) close(fds[1]);
}

/* posix_spawn of path; a file the kernel cannot execute (ENOEXEC: a
 * script without #!) is given to /bin/sh, as execvp does. */
static int spawn_path(pid_t *pid, const char *path,
                      const posix_spawn_file_actions_t *fa,
                      const posix_spawnattr_t *at, const char *const *argv,
                      char *const *envp) {
  int rc = posix_spawn(pid, path, fa, at, (char *const *)argv, envp);
  if (rc != ENOEXEC) return rc;
  size_t n = 0;
  while (argv[n]) n++;
  const char **sh = calloc(n + 2, sizeof *sh);
  if (!sh) return ENOMEM;
  sh[0] = "/bin/sh";
  sh[1] = path;
  for (size_t i = 1; i < n; i++) sh[i + 1] = argv[i];
  rc = posix_spawn(pid, "/bin/sh", fa, at, (char *const *)sh, envp);
  free(sh);
  return rc;
}

/* The PATH the child will have. */
static const char *child_path(char *const *envp) {
  for (char *const *e = envp; *e; e++)
    if (!strncmp(*e, "PATH=", 5)) return *e + 5;
  return DEFAULT_PATH;
}

/* execvp's search: argv[0] with a '/' is run as it is; otherwise each
 * directory of the child's PATH in turn ("" is the working directory),
 * going on past the ones where it is missing or not allowed. */
static int spawn_search(pid_t *pid, const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *at, const char *const *argv,
                        const char *cwd, char *const *envp) {
  const char *file = argv[0];
  if (!*file) return ENOENT;
  if (strchr(file, '/')) return spawn_path(pid, file, fa, at, argv, envp);
  size_t flen = strlen(file);
  int seen_eacces = 0;
  for (const char *d = child_path(envp);; d++) {
    const char *end = strchrnul(d, ':');
    size_t dlen = (size_t)(end - d);
    char *path = malloc(dlen + flen + 3);
    if (!path) return ENOMEM;
    if (dlen) memcpy(path, d, dlen);
    else path[dlen++] = '.';
    path[dlen] = '/';
    memcpy(path + dlen + 1, file, flen + 1);
    /* A cheap look first, where our directory is the child's: a spawn
     * (a clone and a failed exec) for each missing entry costs more. */
    int rc = (path[0] != '/' && cwd) || access(path, X_OK) == 0
                 ? spawn_path(pid, path, fa, at, argv, envp)
                 : errno;
    free(path);
    if (rc == 0) return 0;
    if (rc == EACCES) seen_eacces = 1;
    else if (rc != ENOENT && rc != ENOTDIR && rc != ELOOP &&
             rc != ENAMETOOLONG)
      return rc;
    if (!*end) break;
    d = end;
  }
  return seen_eacces ? EACCES : ENOENT;
}

/* The attributes of a detached child: own session, default signal
 * dispositions (summit ignores SIGPIPE; its children must not), none
 * blocked. */
static int detached_attr(posix_spawnattr_t *at) {
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  int rc = posix_spawnattr_init(at);
  if (rc) return rc;
  rc = posix_spawnattr_setflags(at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETSIGMASK);
  if (!rc) rc = posix_spawnattr_setsigdefault(at, &all);
  if (!rc) rc = posix_spawnattr_setsigmask(at, &none);
  if (rc) posix_spawnattr_destroy(at);
  return rc;
}

int io_spawn(const char *const *argv, const char *cwd,
             const char *const *env, io_child *c) {
  if (!have_pidfd()) return -ENOSYS;
  if (!argv || !argv[0]) return -EINVAL;
  int p_in[2] = {-1, -1}, p_out[2] = {-1, -1}, p_err[2] = {-1, -1};
  int rc = pipe_above_stdio(p_in);
  if (!rc) rc = pipe_above_stdio(p_out);
  if (!rc) rc = pipe_above_stdio(p_err);
  if (rc) goto fail_pipes;

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  rc = -posix_spawn_file_actions_init(&fa);
  if (rc) goto fail_pipes;
  int e = posix_spawn_file_actions_adddup2(&fa, p_in[0], 0);
  if (!e) e = posix_spawn_file_actions_adddup2(&fa, p_out[1], 1);
  if (!e) e = posix_spawn_file_actions_adddup2(&fa, p_err[1], 2);
  if (!e && cwd) e = posix_spawn_file_actions_addchdir_np(&fa, cwd);
  if (!e) e = detached_attr(&at);
  if (e) {
    posix_spawn_file_actions_destroy(&fa);
    rc = -e;
    goto fail_pipes;
  }
  e = spawn_search(&c->pid, &fa, &at, argv, cwd,
                   env ? (char *const *)env : environ);
  posix_spawnattr_destroy(&at);
  posix_spawn_file_actions_destroy(&fa);
  if (e) {
    rc = -e;
    goto fail_pipes;
  }
  close(p_in[0]);
  close(p_out[1]);
  close(p_err[1]);
  c->in = p_in[1];
  c->out = p_out[0];
  c->err = p_err[0];
  c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
  if (c->pidfd < 0) {
    /* Cannot happen for our own unreaped child, short of running out of
     * descriptors: stop it rather than leave it unwatched. */
    rc = -errno;
    kill(-c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
    close(c->in);
    close(c->out);
    close(c->err);
    return rc;
  }
  return 0;

fail_pipes:
  close_pair(p_in);
  close_pair(p_out);
  close_pair(p_err);
  return rc;
}
