#!/usr/bin/env bash
# make demo: run examples/demo.lua, kill it with SIGKILL during its durable
# sleep, then resume it: completed steps replay, the sleep is not restarted.
set -euo pipefail
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
export SUMMIT_STATE_DIR=${SUMMIT_STATE_DIR:-$(mktemp -d)/state}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "summit run examples/demo.lua (state in $SUMMIT_STATE_DIR)"
cd "$here"
"$bin" run demo.lua -p version=v2.0.0 &
pid=$!
# Wait until the run is inside its soak sleep, then kill it hard.
for _ in $(seq 1 100); do
  if "$bin" runs --json 2>/dev/null | head -1 | grep -q running &&
     id=$("$bin" runs --json | head -1 | sed 's/.*"run":"\([^"]*\)".*/\1/') &&
     "$bin" log "$id" | grep -q 'sleep .*started' &&
     "$bin" log "$id" | grep -q 'soak'; then
    break
  fi
  sleep 0.1
done
sleep 1
say "kill -9 $pid (a crash in the middle of the soak)"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true

say "summit status $id"
"$bin" status "$id"

say "summit resume $id: done steps replay, the sleep keeps its wake time"
"$bin" resume "$id"

say "summit log $id"
"$bin" log "$id"

say "summit run rollout.lua --env staging: a rollout on the simulated cluster"
"$bin" run rollout.lua --env staging -p image=registry/web:v2.0.0 --time-scale 20

say "a broken image: the rollout exceeds its progress deadline and is undone"
"$bin" run rollout.lua --env staging -p image=registry/web:broken --time-scale 200 || true
