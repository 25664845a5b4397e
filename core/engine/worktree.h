#ifndef SUMMIT_ENGINE_WORKTREE_H
#define SUMMIT_ENGINE_WORKTREE_H
/* The git state of the work tree a new run's runbook lives in, recorded on
 * the run (runs.git_commit) for provenance. */
#include <uv.h>

#include "store/store.h"

typedef struct worktree worktree_t;

/* Starts `git status --porcelain=v2 --branch` in the directory of file, in
 * the background, if that directory is inside a git work tree; NULL if it
 * is not (a stat per parent directory, no process). Started before the
 * run exists so git works while the runbook loads. */
worktree_t *worktree_probe(uv_loop_t *loop, const char *file);
/* Names the run that gets {commit, branch, dirty, dir}: written when git
 * answers, or at once if it already has. After this call the probe frees
 * itself; a git that fails records nothing. */
void worktree_bind(worktree_t *w, store_t *s, const char *run_id);
/* Drops a probe that will never be bound (the run was not created). */
void worktree_drop(worktree_t *w);

#endif
