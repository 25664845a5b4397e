#ifndef SUMMIT_IO_SPAWN_H
#define SUMMIT_IO_SPAWN_H
/* Starting a child process cheaply (issue 17): posix_spawn, which glibc
 * runs as clone(CLONE_VM | CLONE_VFORK) -- no copy of the parent's page
 * tables, no copy-on-write faults afterwards, unlike the fork() of
 * libuv 1.44's uv_spawn -- and a pidfd to learn when it exits, which a
 * uv_poll_t can watch. The child is what uv_spawn with
 * UV_PROCESS_DETACHED makes: its own session and process group, every
 * signal at its default disposition and none blocked, stdin/stdout/stderr
 * on pipes, argv[0] looked up in the PATH of the child's environment
 * (execvp's rules, a script without #! run by /bin/sh). One difference
 * from fork+exec, glibc's own: its two internal signals (32 and 33, below
 * SIGRTMIN) start ignored in the child, as in every program that uses
 * glibc's posix_spawn (Python's subprocess, Rust's Command). */
#include <sys/types.h>

typedef struct {
  pid_t pid;
  int pidfd;    /* readable once the child has exited (reap with waitpid) */
  int in;       /* write end of the child's stdin */
  int out, err; /* read ends of its stdout and stderr */
} io_child;

/* Starts argv (NULL-terminated) in cwd (NULL: ours) with env (NULL: ours;
 * else "K=V" strings, NULL-terminated). Every descriptor it returns is
 * close-on-exec and the caller's to close. Returns 0, or a negative errno
 * (libuv's error codes): -ENOSYS when this kernel has no pidfds, for the
 * caller to fall back to uv_spawn; -ENOENT/-EACCES/... when the program
 * cannot be run (nothing is left open then). */
int io_spawn(const char *const *argv, const char *cwd,
             const char *const *env, io_child *c);

#endif
