#ifndef SUMMIT_ENGINE_WORKTREE_H
#define SUMMIT_ENGINE_WORKTREE_H
/* The git state of the work tree a new run's runbook lives in, recorded on
 * the run (runs.git_commit) for provenance. */
#include <uv.h>

#include "store/store.h"

/* Starts `git status --porcelain=v2 --branch` in the directory of file, in
 * the background, if that directory is inside a git work tree, and records
 * {commit, branch, dirty, dir} on run_id when it answers. A runbook outside
 * a work tree costs a stat per parent directory and no process; a git that
 * fails records nothing. */
void worktree_probe(uv_loop_t *loop, store_t *s, const char *run_id,
                    const char *file);

#endif
