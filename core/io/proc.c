/* Child processes on the libuv loop (see proc.h).
 *
 * Each proc_t owns six handles: the process, three stdio pipes and two
 * timers (the timeout and the SIGTERM -> SIGKILL grace). The process is
 * started with posix_spawn and watched through a pidfd on a uv_poll_t
 * (io/spawn.h: no fork of our address space), or, on a kernel without
 * pidfds, with uv_spawn and its uv_process_t. Once the process
 * has exited and both output pipes are drained, every handle is closed and
 * done runs from the last close callback, so done is never re-entrant and
 * the memory is released only after libuv is finished with it. A spawn
 * failure takes the same path, with no process.
 *
 * The child runs detached (its own session and process group), so a kill
 * reaches everything it started unless that escaped with its own setsid.
 *
 * The embedding program must ignore SIGPIPE: writing stdin input to a child
 * that exited without reading it would otherwise kill us. */
#include "io/proc.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/file.h"
#include "io/spawn.h"

#define DEFAULT_CAP ((size_t)1 << 20)
#define DEFAULT_GRACE_MS 5000
#define READ_CHUNK 65536

enum { S_OUT, S_ERR };

/* Kill stages, driven by the grace timer. */
enum { K_NONE, K_TERM, K_KILL, K_GIVEUP };

typedef struct {
  uv_pipe_t pipe;
  char *buf;          /* captured bytes, NUL-terminated */
  size_t len, size;   /* size counts the NUL */
  int truncated;
  int eof;
  int line_start;     /* next logged byte needs a prefix */
  char *prefix;       /* "[label stdout] " */
  size_t prefix_len;
  char *pend;         /* with a log filter: the line not yet logged */
  size_t pend_len, pend_cap;
} stream;

struct proc {
  uv_loop_t *loop;
  proc_done_cb done;
  void *ud;

  uv_process_t proc;     /* uv_spawn's child (without pidfds) */
  uv_poll_t pidpoll;     /* io_spawn's child: its pidfd */
  pid_t pid;
  int pidfd;             /* -1 with uv_spawn */
  uv_pipe_t in;
  uv_write_t wreq;
  uv_timer_t timeout;
  uv_timer_t grace;
  stream s[2];

  /* What libuv reads into, shared by both pipes (a read is handed to
   * on_read before the next is allocated), made on the first read: a
   * process that prints nothing costs no buffer, and none is zeroed. */
  char *rbuf;
  char *input;          /* our copy: the caller's may not outlive the write */
  size_t input_len;
  uint64_t timeout_ms, grace_ms;
  size_t cap;
  int log_fd;
  int log_mid;          /* stream with a partial line in the log, or -1 */
  char *(*log_filter)(const char *, size_t, size_t *);

  int has_proc;         /* the process handle (proc or pidpoll) is open */
  int spawned, exited, closing, finalizing, abandoned;
  int kill_stage;
  int nopen;            /* handles not yet through their close callback */
  uint64_t t0, t1;
  proc_result r;
};

static void on_close(uv_handle_t *h);

static void close_h(uv_handle_t *h) {
  if (!uv_is_closing(h)) uv_close(h, on_close);
}

static void kill_group(proc_t *p, int sig) {
  /* The pid is the process group id too (detached). Once the group is
   * empty this is ESRCH, which is fine. */
  if (p->spawned && p->pid > 0) kill(-p->pid, sig);
}

static void free_proc(proc_t *p) {
  for (int i = 0; i < 2; i++) {
    free(p->s[i].buf);
    free(p->s[i].prefix);
    free(p->s[i].pend);
  }
  free(p->rbuf);
  free(p->input);
  if (p->pidfd >= 0) close(p->pidfd);
  free(p);
}

/* The handle that stands for the process. */
static uv_handle_t *proc_handle(proc_t *p) {
  return p->pidfd >= 0 ? (uv_handle_t *)&p->pidpoll : (uv_handle_t *)&p->proc;
}

/* Closes everything; done follows from the last close callback. The
 * process handle stays open until it has been reaped, since libuv only
 * waits for children it still has a handle for. */
static void begin_close(proc_t *p) {
  if (p->closing) return;
  p->closing = 1;
  p->t1 = uv_hrtime();
  close_h((uv_handle_t *)&p->in);
  close_h((uv_handle_t *)&p->s[S_OUT].pipe);
  close_h((uv_handle_t *)&p->s[S_ERR].pipe);
  close_h((uv_handle_t *)&p->timeout);
  close_h((uv_handle_t *)&p->grace);
  if (p->has_proc && (p->exited || !p->spawned)) close_h(proc_handle(p));
}

static void maybe_finish(proc_t *p) {
  if (p->exited && p->s[S_OUT].eof && p->s[S_ERR].eof) begin_close(p);
}

static void finalize(proc_t *p) {
  static char empty[1];
  proc_result *r = &p->r;
  /* Only from the last close callback: libuv is done with every handle. */
  assert(p->closing && p->nopen == 0 && !p->finalizing);
  p->finalizing = 1;
  if (p->done && !p->abandoned) {
    r->out = p->s[S_OUT].buf ? p->s[S_OUT].buf : empty;
    r->out_len = p->s[S_OUT].len;
    r->out_truncated = p->s[S_OUT].truncated;
    r->err = p->s[S_ERR].buf ? p->s[S_ERR].buf : empty;
    r->err_len = p->s[S_ERR].len;
    r->err_truncated = p->s[S_ERR].truncated;
    r->duration_ms = (double)(p->t1 - p->t0) / 1e6;
    p->done(p->ud, r);
  }
  free_proc(p);
}

static void on_close(uv_handle_t *h) {
  proc_t *p = h->data;
  assert(p->nopen > 0);
  if (--p->nopen == 0) finalize(p);
}

/* ---- the log ---- */

static int write_all(int fd, const char *b, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Appends a chunk to the log, each line prefixed with the stream's label.
 * A partial line of the other stream is ended first so lines never mix. */
static void log_raw(proc_t *p, int si, const char *b, size_t n) {
  stream *s = &p->s[si];
  char out[8192];
  size_t o = 0;
  int ok = 0;

  if (p->log_fd < 0 || n == 0) return;
  if (p->log_mid >= 0 && p->log_mid != si) {
    p->s[p->log_mid].line_start = 1;
    out[o++] = '\n';
  }
  /* Staged through a bounded buffer: one write per ~8 KiB. */
  for (size_t i = 0; i < n;) {
    if (s->line_start) {
      if (o + s->prefix_len > sizeof out) {
        if ((ok = write_all(p->log_fd, out, o)) < 0) break;
        o = 0;
      }
      memcpy(out + o, s->prefix, s->prefix_len);
      o += s->prefix_len;
      s->line_start = 0;
    }
    const char *nl = memchr(b + i, '\n', n - i);
    size_t end = nl ? (size_t)(nl - b) + 1 : n;
    while (i < end) {
      size_t k = end - i;
      if (k > sizeof out - o) k = sizeof out - o;
      memcpy(out + o, b + i, k);
      o += k;
      i += k;
      if (o == sizeof out) {
        if ((ok = write_all(p->log_fd, out, o)) < 0) break;
        o = 0;
      }
    }
    if (ok < 0) break;
    if (nl) s->line_start = 1;
  }
  if (ok == 0 && o > 0) ok = write_all(p->log_fd, out, o);
  if (ok < 0) p->log_fd = -1;  /* a broken log must not stop the process */
  p->log_mid = s->line_start ? -1 : si;
}

/* With a log filter: logs pend[0..n) through it, keeps the rest. */
static void log_pending(proc_t *p, int si, size_t n) {
  stream *s = &p->s[si];
  size_t out_len = 0;
  char *f = p->log_filter(s->pend, n, &out_len);
  if (f) log_raw(p, si, f, out_len);
  else log_raw(p, si, s->pend, n);
  free(f);
  memmove(s->pend, s->pend + n, s->pend_len - n);
  s->pend_len -= n;
}

#define LOG_LINE_MAX 65536  /* a longer line is filtered in pieces */

/* Appends a chunk to the log. A filter (redaction) sees whole lines: a
 * partial line waits for its newline, the end of the stream, or
 * LOG_LINE_MAX bytes. */
static void log_chunk(proc_t *p, int si, const char *b, size_t n) {
  stream *s = &p->s[si];
  if (p->log_fd < 0 || n == 0) return;
  if (!p->log_filter) {
    log_raw(p, si, b, n);
    return;
  }
  if (s->pend_len + n > s->pend_cap) {
    size_t cap = (s->pend_len + n) * 2;
    char *q = realloc(s->pend, cap);
    if (!q) {  /* cannot filter: log nothing rather than a secret */
      p->log_fd = -1;
      return;
    }
    s->pend = q;
    s->pend_cap = cap;
  }
  memcpy(s->pend + s->pend_len, b, n);
  s->pend_len += n;
  const char *last = NULL;
  for (size_t i = s->pend_len; i > 0; i--)
    if (s->pend[i - 1] == '\n') {
      last = s->pend + i - 1;
      break;
    }
  if (last) log_pending(p, si, (size_t)(last - s->pend) + 1);
  if (s->pend_len >= LOG_LINE_MAX) log_pending(p, si, s->pend_len);
}

/* ---- output ---- */

static void capture(proc_t *p, stream *s, const char *b, size_t n) {
  assert(s->len <= p->cap && (!s->buf || s->len < s->size));
  size_t room = p->cap - s->len;
  if (n > room) {
    s->truncated = 1;
    n = room;
  }
  if (n == 0) return;
  if (s->len + n + 1 > s->size) {
    /* Grow geometrically, never past cap + 1. */
    size_t want = s->size ? s->size * 2 : 4096;
    if (want < s->len + n + 1) want = s->len + n + 1;
    if (want > p->cap + 1) want = p->cap + 1;
    char *nb = realloc(s->buf, want);
    if (!nb) {
      s->truncated = 1;
      return;
    }
    s->buf = nb;
    s->size = want;
  }
  assert(s->len + n < s->size && s->size <= p->cap + 1);
  memcpy(s->buf + s->len, b, n);
  s->len += n;
  s->buf[s->len] = '\0';
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  proc_t *p = h->data;
  (void)hint;
  if (!p->rbuf) p->rbuf = malloc(READ_CHUNK);
  /* Out of memory: a zero-length buffer makes libuv report UV_ENOBUFS,
   * which on_read takes as the end of the stream. */
  *buf = uv_buf_init(p->rbuf, p->rbuf ? READ_CHUNK : 0);
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf) {
  proc_t *p = h->data;
  stream *s = (stream *)h;
  if (nread > 0) {
    capture(p, s, buf->base, (size_t)nread);
    log_chunk(p, s == &p->s[S_OUT] ? S_OUT : S_ERR, buf->base,
              (size_t)nread);
  } else if (nread < 0) {
    /* EOF or a read error: either way this stream is finished. */
    uv_read_stop(h);
    int si = s == &p->s[S_OUT] ? S_OUT : S_ERR;
    if (p->log_filter && s->pend_len && p->log_fd >= 0)
      log_pending(p, si, s->pend_len);
    s->eof = 1;
    maybe_finish(p);
  }
}

/* ---- process and timers ---- */

static void exited(proc_t *p, int64_t status, int sig) {
  p->exited = 1;
  p->r.term_signal = sig;
  p->r.exit_code = sig ? -1 : status;
  if (p->closing) close_h(proc_handle(p));  /* abandoned: reaped now */
  else maybe_finish(p);
}

static void on_proc_exit(uv_process_t *h, int64_t status, int sig) {
  exited(h->data, status, sig);
}

/* The pidfd is readable: the child has exited; reap it. */
static void on_pidfd(uv_poll_t *h, int status, int events) {
  proc_t *p = h->data;
  int st = 0;
  (void)status;
  (void)events;
  pid_t r;
  do r = waitpid(p->pid, &st, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0) return;  /* not yet (a spurious wake-up) */
  uv_poll_stop(h);
  if (r < 0) exited(p, -1, 0);  /* reaped by someone else: unknown */
  else if (WIFSIGNALED(st)) exited(p, -1, WTERMSIG(st));
  else exited(p, WEXITSTATUS(st), 0);
}

static void on_write(uv_write_t *req, int status) {
  /* Errors (EPIPE: the child never read it) are not ours to report. */
  (void)status;
  close_h((uv_handle_t *)req->handle);
}

static void on_grace(uv_timer_t *t) {
  proc_t *p = t->data;
  assert(p->kill_stage == K_TERM || p->kill_stage == K_KILL);
  if (p->kill_stage == K_TERM) {
    p->kill_stage = K_KILL;
    kill_group(p, SIGKILL);
    uv_timer_start(&p->grace, on_grace, p->grace_ms, 0);
  } else if (p->kill_stage == K_KILL) {
    /* Something outside the group still holds the pipes; stop waiting
     * for them once the process itself is gone. */
    p->kill_stage = K_GIVEUP;
    for (int i = 0; i < 2; i++) {
      uv_read_stop((uv_stream_t *)&p->s[i].pipe);
      p->s[i].eof = 1;
    }
    maybe_finish(p);
  }
}

static void start_kill(proc_t *p) {
  if (p->kill_stage != K_NONE) return;
  uv_timer_stop(&p->timeout);
  p->kill_stage = K_TERM;
  kill_group(p, SIGTERM);
  uv_timer_start(&p->grace, on_grace, p->grace_ms, 0);
}

static void on_timeout(uv_timer_t *t) {
  proc_t *p = t->data;
  p->r.timed_out = 1;
  start_kill(p);
}

/* ---- public API ---- */

/* "[label stdout] ", or "[stdout] " without a label. The label is clipped
 * so a prefix always fits the log staging buffer. */
static char *make_prefix(const char *label, const char *name, size_t *len) {
  int ll = label ? (int)strnlen(label, 256) : 0;
  size_t n = (size_t)ll + strlen(name) + 5;
  char *b = malloc(n);
  if (!b) return NULL;
  if (ll) *len = (size_t)snprintf(b, n, "[%.*s %s] ", ll, label, name);
  else *len = (size_t)snprintf(b, n, "[%s] ", name);
  return b;
}

/* A new proc_t for o with every allocation made (its stdin copy, its log
 * prefixes) and no handle yet, so failure frees at once and calls nothing;
 * NULL when out of memory. */
static proc_t *proc_new(uv_loop_t *loop, const proc_opts *o,
                        proc_done_cb done, void *ud) {
  proc_t *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->loop = loop;
  p->done = done;
  p->ud = ud;
  p->t0 = uv_hrtime();
  p->timeout_ms = o->timeout_ms;
  p->grace_ms = o->kill_grace_ms ? o->kill_grace_ms : DEFAULT_GRACE_MS;
  p->cap = o->capture_cap ? o->capture_cap : DEFAULT_CAP;
  p->log_fd = o->log_fd;
  p->log_filter = o->log_filter;
  p->log_mid = -1;
  p->pidfd = -1;
  p->r.exit_code = -1;

  int fail = 0;
  if (o->input && o->input_len > 0) {
    p->input = malloc(o->input_len);
    if (p->input) memcpy(p->input, o->input, o->input_len);
    else fail = 1;
    p->input_len = o->input_len;
  }
  for (int i = 0; i < 2 && !fail; i++) {
    p->s[i].prefix = make_prefix(o->log_label, i == S_OUT ? "stdout" :
                                 "stderr", &p->s[i].prefix_len);
    p->s[i].line_start = 1;
    if (!p->s[i].prefix) fail = 1;
  }
  if (fail) {
    free_proc(p);
    return NULL;
  }
  return p;
}

/* io_spawn (posix_spawn, a pidfd): 0 when it is not available here (the
 * caller uses uv_spawn), else 1 with *rc its result. */
static int spawn_fast(proc_t *p, const proc_opts *o, int *rc) {
  io_child c;
  io_child_umask_begin();  /* the child writes the user's files */
  *rc = io_spawn(o->argv, o->cwd, o->env, &c);
  io_child_umask_end();
  if (*rc == UV_ENOSYS) return 0;
  if (*rc != 0) return 1;
  p->pid = c.pid;
  p->pidfd = c.pidfd;
  uv_pipe_open(&p->in, c.in);
  uv_pipe_open(&p->s[S_OUT].pipe, c.out);
  uv_pipe_open(&p->s[S_ERR].pipe, c.err);
  uv_poll_init(p->loop, &p->pidpoll, c.pidfd);
  p->pidpoll.data = p;
  p->has_proc = 1;
  p->nopen++;
  uv_poll_start(&p->pidpoll, UV_READABLE, on_pidfd);
  return 1;
}

/* Spawns o->argv with p's pipes as its stdio; returns uv_spawn's result
 * (UV_EINVAL without argv). The process handle, once initialised, is one
 * more that begin_close must close. */
static int spawn(proc_t *p, const proc_opts *o) {
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
  stdio[0].data.stream = (uv_stream_t *)&p->in;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&p->s[S_OUT].pipe;
  stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[2].data.stream = (uv_stream_t *)&p->s[S_ERR].pipe;

  uv_process_options_t po;
  memset(&po, 0, sizeof po);
  po.exit_cb = on_proc_exit;
  po.file = o->argv ? o->argv[0] : NULL;  /* NULL: EINVAL below */
  /* libuv does not modify these; its prototypes just lack const. */
  po.args = (char **)o->argv;
  po.env = (char **)o->env;
  po.cwd = o->cwd;
  po.flags = UV_PROCESS_DETACHED;
  po.stdio_count = 3;
  po.stdio = stdio;

  int rc = UV_EINVAL;
  if (po.file && spawn_fast(p, o, &rc)) return rc;
  if (po.file) {
    /* uv_spawn initialises the handle even when it fails, so it must be
     * closed either way. */
    io_child_umask_begin();  /* the child writes the user's files */
    rc = uv_spawn(p->loop, &p->proc, &po);
    io_child_umask_end();
    p->has_proc = 1;
    p->nopen++;
    p->pid = p->proc.pid;
  }
  p->proc.data = p;
  return rc;
}

proc_t *proc_start(uv_loop_t *loop, const proc_opts *o, proc_done_cb done,
                   void *ud) {
  proc_t *p = proc_new(loop, o, done, ud);
  if (!p) return NULL;

  uv_pipe_init(loop, &p->in, 0);
  uv_pipe_init(loop, &p->s[S_OUT].pipe, 0);
  uv_pipe_init(loop, &p->s[S_ERR].pipe, 0);
  uv_timer_init(loop, &p->timeout);
  uv_timer_init(loop, &p->grace);
  p->in.data = p->s[S_OUT].pipe.data = p->s[S_ERR].pipe.data = p;
  p->timeout.data = p->grace.data = p->proc.data = p;
  p->nopen = 5;

  int rc = spawn(p, o);
  if (rc != 0) {
    /* Reported from the close callbacks, i.e. from the loop. */
    p->r.spawn_error = rc;
    begin_close(p);
    return p;
  }
  p->spawned = 1;

  for (int i = 0; i < 2; i++)
    uv_read_start((uv_stream_t *)&p->s[i].pipe, on_alloc, on_read);
  if (p->input) {
    uv_buf_t b;
    b.base = p->input;
    b.len = p->input_len;
    if (uv_write(&p->wreq, (uv_stream_t *)&p->in, &b, 1, on_write) != 0)
      close_h((uv_handle_t *)&p->in);
  } else {
    close_h((uv_handle_t *)&p->in);
  }
  if (p->timeout_ms > 0)
    uv_timer_start(&p->timeout, on_timeout, p->timeout_ms, 0);
  return p;
}

void proc_cancel(proc_t *p) {
  if (!p || p->closing || p->finalizing) return;
  p->r.cancelled = 1;
  start_kill(p);
}

void proc_abandon(proc_t *p) {
  if (!p || p->finalizing) return;
  p->abandoned = 1;
  p->done = NULL;
  p->ud = NULL;
  if (p->spawned && !p->exited) kill_group(p, SIGKILL);
  begin_close(p);
}
