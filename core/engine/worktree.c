/* The git state of a run's work tree (worktree.h). Read through the git CLI
 * like the `git` primitive, so worktrees, submodules and packed refs mean
 * what git says they mean. */
#include "engine/worktree.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/proc.h"

struct worktree {
  store_t *store;       /* set by worktree_bind */
  char run_id[64];
  char dir[PATH_MAX];
  char *result;         /* git's answer as JSON, kept until bound */
  int done, dropped;
};
typedef struct worktree probe;

/* Writes the result if both the answer and the run are there; frees the
 * probe once nothing more can happen to it. */
static void settle(probe *pr) {
  if (!pr->done) return;
  if (pr->store && pr->result)
    store_run_set_git(pr->store, pr->run_id, pr->result);
  if (pr->store || pr->dropped) {
    free(pr->result);
    free(pr);
  }
}

void worktree_bind(worktree_t *w, store_t *s, const char *run_id) {
  if (!w) return;
  w->store = s;
  snprintf(w->run_id, sizeof w->run_id, "%s", run_id);
  settle(w);
}

void worktree_drop(worktree_t *w) {
  if (!w) return;
  w->dropped = 1;
  settle(w);
}

/* Whether dir or one of its parents holds .git (a directory, or a file for
 * worktrees and submodules). */
static int in_work_tree(const char *dir) {
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s", dir);
  for (;;) {
    char g[PATH_MAX + 8];
    struct stat st;
    snprintf(g, sizeof g, "%s/.git", p);
    if (stat(g, &st) == 0) return 1;
    char *slash = strrchr(p, '/');
    if (!slash || slash == p) return 0;
    *slash = '\0';
  }
}

static void done(void *ud, const proc_result *r) {
  probe *pr = ud;
  if (r->spawn_error == 0 && r->exit_code == 0 && r->out) {
    const char *commit = NULL, *branch = NULL;
    int dirty = 0;
    size_t clen = 0, blen = 0;
    for (const char *l = r->out; *l;) {
      const char *e = strchr(l, '\n');
      size_t n = e ? (size_t)(e - l) : strlen(l);
      if (n > 14 && !strncmp(l, "# branch.oid ", 13))
        commit = l + 13, clen = n - 13;
      else if (n > 15 && !strncmp(l, "# branch.head ", 14))
        branch = l + 14, blen = n - 14;
      else if (n > 0 && l[0] != '#')
        dirty = 1;  /* a changed tracked file */
      l = e ? e + 1 : l + n;
    }
    cJSON *j = cJSON_CreateObject();
    char buf[256];
    if (commit && clen < sizeof buf && strncmp(commit, "(initial)", 9)) {
      snprintf(buf, sizeof buf, "%.*s", (int)clen, commit);
      cJSON_AddStringToObject(j, "commit", buf);
    }
    if (branch && blen < sizeof buf && strncmp(branch, "(detached)", 10)) {
      snprintf(buf, sizeof buf, "%.*s", (int)blen, branch);
      cJSON_AddStringToObject(j, "branch", buf);
    }
    cJSON_AddBoolToObject(j, "dirty", dirty);
    cJSON_AddStringToObject(j, "dir", pr->dir);
    pr->result = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
  }
  pr->done = 1;
  settle(pr);
}

worktree_t *worktree_probe(uv_loop_t *loop, const char *file) {
  char abs[PATH_MAX];
  if (!realpath(file, abs)) return NULL;
  char *slash = strrchr(abs, '/');
  if (!slash) return NULL;
  *slash = '\0';
  if (!abs[0]) snprintf(abs, sizeof abs, "/");
  if (!in_work_tree(abs)) return NULL;
  probe *pr = calloc(1, sizeof *pr);
  if (!pr) return NULL;
  snprintf(pr->dir, sizeof pr->dir, "%s", abs);
  const char *argv[] = {"git", "-C", pr->dir, "status", "--porcelain=v2",
                        "--branch", "--untracked-files=no", NULL};
  proc_opts o = {.argv = argv, .timeout_ms = 10000, .capture_cap = 1 << 20,
                 .log_fd = -1};
  if (!proc_start(loop, &o, done, pr)) {
    free(pr);
    return NULL;
  }
  return pr;
}
