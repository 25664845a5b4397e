#!/usr/bin/env bash
# The state directory is private whatever the umask (issue 12, DESIGN §13,
# docs/configuration.md "State directory"): it holds params and command
# output. Under umask 022 and umask 000, after summit run (with the
# in-process sim, a log line and a command), schedule add, daemon (which
# fires the schedule) and sim serve (its default state and kubeconfig),
# `find STATE -perm /077` finds nothing: the directory and its
# subdirectories are 0700, state.db, -wal, -shm, run logs, daemon.log and
# the sim's files 0600. The commands a runbook runs keep the user's umask
# (they write the user's files). A state directory an older summit left
# 0755 with 0644 files is tightened when a summit command opens it.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
W=$T/wd
cd "$W"
cat >summit.lua <<'LUA'
return {
  environments = { staging = { cluster = "sim", namespace = "default" } },
  clusters = { sim = { sim = true, scenario = {
    deployments = { { name = "web", namespace = "default", image = "registry/web:v1", replicas = 1 } },
  } } },
}
LUA
cat >priv.lua <<'LUA'
-- A run that leaves every kind of file in the state directory: the
-- journal, a run log, the in-process sim's state; and a file of the user's.
return runbook {
  name = "priv", version = "1.0.0",
  params = { out = { type = "string", required = true }, secret_ish = { type = "string", default = "" } },
  run = function(p)
    step("touch", function()
      log.info("params hold %s", p.secret_ish)
      exec({ "sh", "-c", 'echo out; : > "$1"', "sh", p.out })
    end)
    step("look", function()
      return cluster():get("deployment/web").spec.replicas
    end)
  end,
}
LUA

# private STATE WHAT: nothing under STATE is group- or world-accessible.
private() {
  local loose
  loose=$(find "$1" -perm /077 -printf '%m %p\n')
  [[ -z $loose ]] || { echo "$loose" >&2; die "$2: group/world-accessible entries"; }
  ok "$2: find -perm /077 finds nothing"
}
# sched_runs: runs started by a schedule.
sched_runs() {
  state_sql "SELECT count(*) FROM runs WHERE schedule IS NOT NULL"
}
at_least_one_fire() { (($(sched_runs) >= 1)); }

for mask in 022 000; do
  export SUMMIT_STATE_DIR=$T/state-$mask
  umask "$mask"
  say "umask $mask"
  sm "run$mask" run priv.lua --env staging -p "out=$W/user-$mask" -p secret_ish=hunter2
  expect_rc 0 "run$mask" "summit run"
  ls "$SUMMIT_STATE_DIR"/logs/*.log >/dev/null || die "no run log was written"
  ls "$SUMMIT_STATE_DIR"/sim-*.json >/dev/null || die "the in-process sim wrote no state"
  private "$SUMMIT_STATE_DIR" "umask $mask, after run"
  want=$(printf '%o' $((0666 & ~8#$mask)))
  eq "$(stat -c %a "$W/user-$mask")" "$want" "a file the runbook's command wrote keeps the user's umask ($want)"

  sm "sched$mask" schedule add tick --every 1s priv.lua --env staging -p "out=$W/sched-$mask"
  expect_rc 0 "sched$mask" "schedule add"
  bg_start "daemon$mask" daemon
  dpid=$BG_PID
  wait_until 30 "the schedule to fire" at_least_one_fire
  # While the daemon holds the database open, SQLite's -wal and -shm exist.
  ls "$SUMMIT_STATE_DIR"/state.db-wal "$SUMMIT_STATE_DIR"/state.db-shm >/dev/null ||
    die "no -wal/-shm files while the daemon runs"
  private "$SUMMIT_STATE_DIR" "umask $mask, while the daemon runs (with -wal and -shm)"
  kill -TERM "$dpid"
  bg_wait "$dpid"
  eq "$RC" 0 "the daemon stops on SIGTERM"
  [[ -s $SUMMIT_STATE_DIR/daemon.log ]] || die "no daemon.log"
  private "$SUMMIT_STATE_DIR" "umask $mask, after schedule and daemon"

  start_sim "sim$mask"
  wait_until 10 "the sim's kubeconfig" test -s "$SUMMIT_STATE_DIR/sim/kubeconfig"
  timeout 30 kubectl --kubeconfig "$SUMMIT_STATE_DIR/sim/kubeconfig" --cache-dir "$T/kcache" \
    create namespace "ns$mask" >/dev/null || die "kubectl against the sim failed"
  wait_until 10 "the sim's state file" test -s "$SUMMIT_STATE_DIR/sim/state.json"
  stop_sim "sim$mask"
  private "$SUMMIT_STATE_DIR" "umask $mask, after sim serve"
  eq "$(stat -c %a "$SUMMIT_STATE_DIR")" 700 "the state directory is 0700"
done
umask 022

say "a state directory an older summit left world-readable"
export SUMMIT_STATE_DIR=$T/state-022
chmod 755 "$SUMMIT_STATE_DIR" "$SUMMIT_STATE_DIR/logs" "$SUMMIT_STATE_DIR/sim"
find "$SUMMIT_STATE_DIR" -type f -exec chmod 644 {} +
[[ -n $(find "$SUMMIT_STATE_DIR" -perm /077) ]] || die "could not loosen the state directory"
sm runs runs
expect_rc 0 runs "summit runs"
private "$SUMMIT_STATE_DIR" "an old state directory after summit runs"
