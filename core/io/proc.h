#ifndef SUMMIT_IO_PROC_H
#define SUMMIT_IO_PROC_H
/* Child processes on the libuv loop: argv only (never a shell), optional
 * cwd, env and stdin input, stdout/stderr captured up to a cap, the whole
 * output appended to a log file, and a timeout that sends SIGTERM to the
 * child's process group and SIGKILL after a grace period. Knows nothing of
 * Lua. */
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct proc proc_t;

typedef struct {
  int64_t exit_code;     /* -1 when killed by a signal */
  int term_signal;       /* 0 unless killed by a signal */
  int timed_out;         /* the timeout fired */
  int cancelled;         /* proc_cancel() was called */
  int spawn_error;       /* libuv error (negative errno) when spawn failed */
  char *out, *err;       /* captured, NUL-terminated, at most cap bytes */
  size_t out_len, err_len;
  int out_truncated, err_truncated;
  double duration_ms;
} proc_result;

/* Called once when the process has exited and both pipes are drained (or
 * spawning failed). The result is valid only during the call. */
typedef void (*proc_done_cb)(void *ud, const proc_result *r);

typedef struct {
  const char *const *argv;  /* NULL-terminated; argv[0] is looked up in PATH */
  const char *cwd;          /* NULL: inherit */
  const char *const *env;   /* NULL: inherit; else "K=V" list, NULL-ended */
  const char *input;        /* written to stdin then closed; NULL: empty */
  size_t input_len;
  uint64_t timeout_ms;      /* 0: none */
  uint64_t kill_grace_ms;   /* SIGTERM -> SIGKILL delay; 0 means 5000 */
  size_t capture_cap;       /* bytes kept per stream; 0 means 1 MiB */
  int log_fd;               /* >= 0: every output byte is appended here */
  const char *log_label;    /* prefix of log lines, e.g. "3/1 stdout" */
  /* NULL, or applied to whole lines before they are logged (a malloc'd
   * replacement and its length, or NULL to log them as they are): the
   * redaction of secrets. Partial lines then wait for their newline. */
  char *(*log_filter)(const char *s, size_t len, size_t *outlen);
} proc_opts;

/* Starts the process. Returns NULL and calls nothing if allocation fails;
 * a spawn failure (ENOENT, ...) is reported through done with spawn_error
 * set, from the loop, never re-entrantly. The proc_t frees itself after
 * done returns. */
proc_t *proc_start(uv_loop_t *loop, const proc_opts *o, proc_done_cb done,
                   void *ud);

/* Kills the process group (SIGTERM, then SIGKILL after the grace period);
 * done still fires, with cancelled set. */
void proc_cancel(proc_t *p);

/* Detaches the callback and kills the process group at once: done will not
 * be called (for a caller that is going away). */
void proc_abandon(proc_t *p);

#endif
