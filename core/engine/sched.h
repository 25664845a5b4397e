#ifndef SUMMIT_ENGINE_SCHED_H
#define SUMMIT_ENGINE_SCHED_H
/* The coroutine scheduler: the only caller of lua_resume.
 *
 * A task is a Lua coroutine. A primitive that waits starts its work on the
 * loop, marks the task waiting (with a cancel hook) and returns
 * lua_yield(L, 0). The completion pushes its results onto the task's stack
 * and calls sched_wake(); sched_run() resumes ready tasks in FIFO order and
 * runs the loop when none is ready. */
#include <lua.h>
#include <stdint.h>
#include <uv.h>

typedef struct sched sched_t;
typedef struct task task_t;

/* Stops whatever the task waits on (stop a timer, kill a process). Called at
 * most once, instead of the completion, when the task is cancelled. */
typedef void (*task_cancel_fn)(void *data);

typedef enum {
  WAIT_ACTIVE,   /* an effect in flight: a process, a transfer */
  WAIT_DURABLE,  /* a durable wait (sleep): the run may suspend on it */
  WAIT_TASKS,    /* waits for other tasks (parallel): counts as neither */
  WAIT_COMMIT    /* waits for the group commit that ends this loop turn */
} wait_kind;

typedef enum {
  SCHED_DONE,        /* the root task returned */
  SCHED_SUSPENDED,   /* only durable waits remain and detach was asked */
  SCHED_STOPPED,     /* sched_stop() was called (signal, cancel) */
  SCHED_ERROR        /* a task raised outside its protection; see errmsg */
} sched_outcome;

sched_t *sched_new(lua_State *L, uv_loop_t *loop);
/* Cancels every remaining task and frees the scheduler. */
void sched_free(sched_t *s);
uv_loop_t *sched_loop(sched_t *s);

/* Pops the function on top of L's stack and makes it a new task, child of
 * parent (NULL for the root), ready to run. Pushes the task's coroutine onto
 * L (its handle in Lua) and returns the task. */
task_t *sched_spawn(sched_t *s, lua_State *L, task_t *parent);

/* The task whose coroutine is running now (NULL outside sched_run). */
task_t *sched_current(sched_t *s);
/* The task of coroutine co, or NULL if it is not (or no longer) a task. */
task_t *sched_task_of(sched_t *s, lua_State *co);
lua_State *task_thread(task_t *t);
sched_t *task_sched(task_t *t);

/* Marks t, about to yield, as waiting. cancel may be NULL (a wait that only
 * another task's sched_wake() ends). wake_ms is the absolute wake time of a
 * durable wait (0 otherwise). */
void task_wait(task_t *t, wait_kind kind, task_cancel_fn cancel, void *data,
               int64_t wake_ms);
/* Gives the current wait of t a deadline (absolute wall-clock ms; 0: none):
 * if it is still waiting then, it is interrupted with ETIMEDOUT. Call after
 * task_wait. */
void task_deadline(task_t *t, int64_t deadline_ms);
/* Interrupts t's wait, if it is in an ACTIVE or DURABLE one: the wait is
 * cancelled (its hook runs) and the coroutine resumes with nil, code,
 * message as the results of the primitive it waited in. */
void sched_interrupt(task_t *t, const char *code, const char *message);
/* Interrupts every task waiting on an effect or a timer (cancellation). */
void sched_interrupt_all(sched_t *s, const char *code, const char *message);

/* Group commit (DESIGN §10): 1 when another task is ready to run in this
 * turn, so a task about to commit can instead wait (WAIT_COMMIT) for one
 * commit shared with what the others write. When no task is ready the
 * scheduler calls before_wait (the commit) and then wakes every task in
 * WAIT_COMMIT, with no results, before it runs any of them or the loop. */
int sched_others_ready(sched_t *s);

/* Makes t ready; its coroutine resumes with the top nargs values of its own
 * stack (pushed by the caller) as the results of its yield. */
void sched_wake(task_t *t, int nargs);
/* Cancels t and its descendants: their waits are cancelled, their
 * coroutines released; they never run again. */
void sched_cancel(sched_t *s, task_t *t);

/* Makes sched_run return SCHED_STOPPED at its next turn. */
void sched_stop(sched_t *s);
/* 1 once sched_stop() was called. */
int sched_stopped(sched_t *s);
/* The absolute wall-clock ms past which t's running Lua is interrupted
 * with ETIMEDOUT (the innermost step timeout; 0: none), for the watchdog:
 * a step that computes without waiting never reaches task_deadline. */
void task_set_run_deadline(task_t *t, int64_t ms);
int64_t task_run_deadline(task_t *t);
/* Called with all tasks blocked, before the loop is run to wait: the place
 * to commit buffered journal writes. */
void sched_set_before_wait(sched_t *s, void (*fn)(void *), void *ud);

/* After SCHED_DONE: pushes the root task's first result onto L. */
void sched_push_root_result(sched_t *s, lua_State *L);

/* Runs until the root task returns, or the run suspends (detach != 0 and
 * every waiting task is in a durable wait; *wake_ms is the earliest wake,
 * 0 if no durable wait has a wake time),
 * or sched_stop(). */
sched_outcome sched_run(sched_t *s, int detach, int64_t *wake_ms);
const char *sched_errmsg(sched_t *s);

#endif
