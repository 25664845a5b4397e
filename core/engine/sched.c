/* The coroutine scheduler (see sched.h): the only caller of lua_resume.
 *
 * Tasks are kept alive by a registry table mapping each coroutine to its
 * task (lightuserdata), which is also how a primitive finds the task of the
 * coroutine that called it. */
#include "engine/sched.h"

#include <assert.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/runtime.h"
#include "engine/testmode.h"

#define TASKS_KEY "summit.tasks"

struct task {
  sched_t *s;
  lua_State *co;
  task_t *parent;
  task_t *prev, *next;      /* all live tasks */
  task_t *next_ready;
  int ready, nargs;
  int waiting;
  wait_kind wkind;
  task_cancel_fn cancel;
  void *cdata;
  int64_t wake_ms;
  uv_timer_t *deadline;     /* interrupts the wait with ETIMEDOUT */
  int64_t run_deadline;     /* the step timeout of running Lua (watchdog) */
};

struct sched {
  lua_State *L;
  uv_loop_t *loop;
  task_t *all;
  task_t *ready_head, *ready_tail;
  task_t *current, *root;
  int n_active, n_durable, n_commit;
  int stop, root_done;
  int in_loop;          /* inside sched_run's uv_run */
  int root_result_ref;
  void (*before_wait)(void *);
  void *before_wait_ud;
  char errmsg[4096];
};

sched_t *sched_new(lua_State *L, uv_loop_t *loop) {
  sched_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->L = L;
  s->loop = loop;
  s->root_result_ref = LUA_NOREF;
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, TASKS_KEY);  /* registry.tasks = {} */
  return s;
}

uv_loop_t *sched_loop(sched_t *s) { return s->loop; }
lua_State *task_thread(task_t *t) { return t->co; }
sched_t *task_sched(task_t *t) { return t->s; }
task_t *sched_current(sched_t *s) { return s->current; }
const char *sched_errmsg(sched_t *s) { return s->errmsg; }
void sched_stop(sched_t *s) { s->stop = 1; }
int sched_stopped(sched_t *s) { return s->stop; }
void task_set_run_deadline(task_t *t, int64_t ms) { t->run_deadline = ms; }
int64_t task_run_deadline(task_t *t) { return t->run_deadline; }

void sched_set_before_wait(sched_t *s, void (*fn)(void *), void *ud) {
  s->before_wait = fn;
  s->before_wait_ud = ud;
}

/* The state to use for registry work: the running coroutine if any, so
 * the main thread's stack is left alone while it waits in lua_resume. */
static lua_State *opL(sched_t *s) {
  return s->current ? s->current->co : s->L;
}

task_t *sched_task_of(sched_t *s, lua_State *co) {
  lua_State *L = opL(s);
  lua_getfield(L, LUA_REGISTRYINDEX, TASKS_KEY);
  lua_pushthread(co);
  lua_xmove(co, L, 1);
  lua_rawget(L, -2);                  /* tasks[co] */
  task_t *t = lua_touserdata(L, -1);
  lua_pop(L, 2);
  return t;
}

task_t *sched_spawn(sched_t *s, lua_State *L, task_t *parent) {
  task_t *t = calloc(1, sizeof *t);
  if (!t) luaL_error(L, "out of memory");
  t->s = s;
  t->parent = parent;
  t->co = lua_newthread(L);           /* fn co */
  lua_pushvalue(L, -2);
  lua_xmove(L, t->co, 1);             /* co's stack: fn */
  lua_getfield(L, LUA_REGISTRYINDEX, TASKS_KEY);
  lua_pushvalue(L, -2);
  lua_pushlightuserdata(L, t);
  lua_rawset(L, -3);                  /* tasks[co] = t */
  lua_pop(L, 1);                      /* fn co */
  lua_remove(L, -2);                  /* co */
  t->next = s->all;
  if (s->all) s->all->prev = t;
  s->all = t;
  if (!parent && !s->root) s->root = t;
  sched_wake(t, 0);
  return t;
}

static void unready(sched_t *s, task_t *t) {
  if (!t->ready) return;
  task_t **pp = &s->ready_head, *prev = NULL;
  while (*pp && *pp != t) {
    prev = *pp;
    pp = &(*pp)->next_ready;
  }
  if (*pp) *pp = t->next_ready;
  if (s->ready_tail == t) s->ready_tail = prev;
  t->ready = 0;
  t->next_ready = NULL;
}

static void deadline_closed(uv_handle_t *h) { free(h); }

static void deadline_stop(task_t *t) {
  if (!t->deadline) return;
  uv_timer_stop(t->deadline);
  uv_close((uv_handle_t *)t->deadline, deadline_closed);
  t->deadline = NULL;
}

static void unwait(sched_t *s, task_t *t) {
  deadline_stop(t);
  if (!t->waiting) return;
  if (t->wkind == WAIT_ACTIVE) s->n_active--;
  else if (t->wkind == WAIT_DURABLE) s->n_durable--;
  else if (t->wkind == WAIT_COMMIT) s->n_commit--;
  assert(s->n_active >= 0 && s->n_durable >= 0 && s->n_commit >= 0);
  t->waiting = 0;
  t->cancel = NULL;
  t->cdata = NULL;
  t->wake_ms = 0;
}

/* Releases a finished or cancelled task: its coroutine may be collected. */
static void task_free(sched_t *s, task_t *t) {
  lua_State *L = t == s->current ? s->L : opL(s);
  unready(s, t);
  unwait(s, t);
  for (task_t *c = s->all; c; c = c->next)
    if (c->parent == t) c->parent = t->parent;
  if (t->prev) t->prev->next = t->next;
  else s->all = t->next;
  if (t->next) t->next->prev = t->prev;
  lua_getfield(L, LUA_REGISTRYINDEX, TASKS_KEY);
  lua_pushthread(t->co);
  lua_xmove(t->co, L, 1);
  lua_pushnil(L);
  lua_rawset(L, -3);                  /* tasks[co] = nil */
  lua_pop(L, 1);
  if (s->root == t) s->root = NULL;
  free(t);
}

void task_wait(task_t *t, wait_kind kind, task_cancel_fn cancel, void *data,
               int64_t wake_ms) {
  sched_t *s = t->s;
  unwait(s, t);
  t->waiting = 1;
  t->wkind = kind;
  t->cancel = cancel;
  t->cdata = data;
  t->wake_ms = wake_ms;
  if (kind == WAIT_ACTIVE) s->n_active++;
  else if (kind == WAIT_DURABLE) s->n_durable++;
  else if (kind == WAIT_COMMIT) s->n_commit++;
}

int sched_others_ready(sched_t *s) { return s->ready_head != NULL; }

static void deadline_fired(uv_timer_t *tm) {
  task_t *t = tm->data;
  sched_interrupt(t, "ETIMEDOUT", "the step's timeout expired");
}

void task_deadline(task_t *t, int64_t deadline_ms) {
  deadline_stop(t);
  if (deadline_ms <= 0 || !t->waiting) return;
  int64_t now = runtime_now_ms();   /* deadlines are on the run's clock */
  t->deadline = malloc(sizeof *t->deadline);
  if (!t->deadline) return;
  uv_timer_init(t->s->loop, t->deadline);
  t->deadline->data = t;
  uv_update_time(t->s->loop);  /* the delay is from now, not a stale loop time */
  testmode_timer_start(t->deadline, deadline_fired,
                       deadline_ms > now ? (uint64_t)(deadline_ms - now) : 0, 0);
}

void sched_interrupt(task_t *t, const char *code, const char *message) {
  if (!t->waiting || t->wkind == WAIT_TASKS) return;
  if (t->cancel) {
    task_cancel_fn fn = t->cancel;
    void *data = t->cdata;
    t->cancel = NULL;
    fn(data);
  }
  lua_State *co = t->co;
  lua_pushnil(co);
  lua_pushstring(co, code);
  lua_pushstring(co, message);
  sched_wake(t, 3);
}

void sched_interrupt_all(sched_t *s, const char *code, const char *message) {
  for (task_t *t = s->all; t; t = t->next)
    sched_interrupt(t, code, message);
}

void sched_wake(task_t *t, int nargs) {
  sched_t *s = t->s;
  unwait(s, t);
  if (t->ready) {
    /* Already woken: keep the first wake's values, drop these. */
    lua_pop(t->co, nargs);
    return;
  }
  assert(!t->waiting && !t->next_ready && s->ready_tail != t);
  t->ready = 1;
  t->nargs = nargs;
  t->next_ready = NULL;
  if (s->ready_tail) s->ready_tail->next_ready = t;
  else s->ready_head = t;
  s->ready_tail = t;
  /* Woken from a callback of the loop: the task must run now, so the
   * poll of this uv_run turn must not block. A timer callback (an HTTP
   * transfer finished on curl's timer, a sleep, a retry) runs before the
   * poll of the same turn, which would otherwise wait for the next event
   * or timer: measured, 1,000 HTTP checks stood idle for ~240 ms at a
   * time, 1-2 s in all (docs/performance.md). uv_stop makes that poll
   * non-blocking and uv_run return after it. */
  if (s->in_loop) uv_stop(s->loop);
}

void sched_cancel(sched_t *s, task_t *t) {
  /* A task cannot cancel itself or a task it runs inside of: the running
   * coroutine would be freed under its own feet. */
  for (task_t *a = s->current; a; a = a->parent)
    if (a == t) return;
  /* Descendants first, so no child outlives the parent it reports to. */
  for (;;) {
    task_t *c = s->all;
    while (c && c->parent != t) c = c->next;
    if (!c) break;
    sched_cancel(s, c);
  }
  if (t->waiting && t->cancel) {
    task_cancel_fn fn = t->cancel;
    void *data = t->cdata;
    t->cancel = NULL;
    fn(data);
  }
  task_free(s, t);
}

void sched_push_root_result(sched_t *s, lua_State *L) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->root_result_ref);
}

static task_t *pop_ready(sched_t *s) {
  task_t *t = s->ready_head;
  if (!t) return NULL;
  assert(t->ready);
  s->ready_head = t->next_ready;
  if (!s->ready_head) s->ready_tail = NULL;
  t->ready = 0;
  t->next_ready = NULL;
  return t;
}

/* The earliest wake time of the durable waits, 0 if none has one (an
 * approval gate without a deadline waits for people, not for a time). */
static int64_t earliest_wake(sched_t *s) {
  int64_t w = 0;
  for (task_t *t = s->all; t; t = t->next)
    if (t->waiting && t->wkind == WAIT_DURABLE && t->wake_ms &&
        (!w || t->wake_ms < w))
      w = t->wake_ms;
  return w;
}

/* Wakes the tasks that waited for the commit just made, oldest task
 * first: the ready queue is empty here, and s->all is newest first, so
 * each is put at the queue's head. */
static void wake_committed(sched_t *s) {
  assert(!s->ready_head);
  for (task_t *t = s->all; t; t = t->next) {
    if (!t->waiting || t->wkind != WAIT_COMMIT) continue;
    unwait(s, t);
    t->ready = 1;
    t->nargs = 0;
    t->next_ready = s->ready_head;
    s->ready_head = t;
    if (!s->ready_tail) s->ready_tail = t;
  }
  assert(s->n_commit == 0);
}

sched_outcome sched_run(sched_t *s, int detach, int64_t *wake_ms) {
  lua_State *L = s->L;
  for (;;) {
    task_t *t;
    while (!s->stop && (t = pop_ready(s))) {
      int is_root = t == s->root;
      /* Only this loop resumes, and never from inside a task. */
      assert(!s->current && lua_gettop(t->co) >= t->nargs);
      s->current = t;
      int rc = lua_resume(t->co, t->nargs);
      s->current = NULL;
      if (rc == LUA_YIELD) {
        /* A yield with no wait registered and no wake pending would sleep
         * forever: only scheduler primitives may yield. */
        if (!t->waiting && !t->ready) {
          lua_settop(t->co, 0);
          snprintf(s->errmsg, sizeof s->errmsg,
                   "a coroutine yielded outside a summit primitive");
          return SCHED_ERROR;
        }
        continue;
      }
      if (s->stop) {
        /* Stopped while it ran (a signal seen by the watchdog, which
         * unwound it): the run is interrupted, whatever it returned. */
        lua_settop(t->co, 0);
        task_free(s, t);
        return SCHED_STOPPED;
      }
      if (rc == 0) {
        if (is_root) {
          lua_settop(t->co, 1);
          lua_xmove(t->co, L, 1);
          luaL_unref(L, LUA_REGISTRYINDEX, s->root_result_ref);
          s->root_result_ref = luaL_ref(L, LUA_REGISTRYINDEX);
          s->root_done = 1;
        }
        task_free(s, t);
        if (is_root) return SCHED_DONE;
        continue;
      }
      const char *msg = lua_tostring(t->co, -1);
      snprintf(s->errmsg, sizeof s->errmsg, "%s",
               msg ? msg : "(error object is not a string)");
      task_free(s, t);
      return SCHED_ERROR;
    }
    if (s->stop) return SCHED_STOPPED;
    if (s->root_done) return SCHED_DONE;
    if (s->before_wait) s->before_wait(s->before_wait_ud);
    /* The commit may have been refused (a lost lease stops the run): what
     * it would have made durable must not start on the loop. */
    if (s->stop) return SCHED_STOPPED;
    if (s->n_commit > 0) {
      /* One commit made the rows of every task that waited for it
       * durable: they carry on (start their effects) in this turn. */
      wake_committed(s);
      continue;
    }
    /* summit test: time passes without waiting (testmode.h); a run
     * whose tasks all wait, one at a gate, suspends as below. */
    if (testmode.on && !(s->n_active == 0 && testmode.gates > 0) &&
        testmode_turn(s->loop))
      continue;
    if (detach && s->n_active == 0 && s->n_durable > 0) {
      *wake_ms = earliest_wake(s);
      return SCHED_SUSPENDED;
    }
    if (s->n_active == 0 && s->n_durable == 0) {
      snprintf(s->errmsg, sizeof s->errmsg,
               "deadlock: every task waits and nothing can wake them");
      return SCHED_ERROR;
    }
    s->in_loop = 1;
    uv_run(s->loop, UV_RUN_ONCE);
    s->in_loop = 0;
  }
}

void sched_free(sched_t *s) {
  if (!s) return;
  while (s->all) {
    task_t *t = s->all;
    while (t->parent) t = t->parent;  /* cancel from the top of a tree */
    sched_cancel(s, t);
  }
  luaL_unref(s->L, LUA_REGISTRYINDEX, s->root_result_ref);
  lua_pushnil(s->L);
  lua_setfield(s->L, LUA_REGISTRYINDEX, TASKS_KEY);
  free(s);
}
