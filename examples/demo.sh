#!/usr/bin/env bash
# make demo: the platform team's deployment procedure (runbooks/deploy.lua)
# on summit's simulated cluster, from staging to production and finalize,
# with the approvals given by the demo's named approvers (examples/summit.lua)
# and scaled time; before it, a short crash: a run killed with SIGKILL
# during its durable sleep resumes without redoing its steps.
set -euo pipefail
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
export SUMMIT_STATE_DIR=${SUMMIT_STATE_DIR:-$(mktemp -d)/state}
export SUMMIT_USER=${SUMMIT_USER:-demo}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '\033[2m$ %s\033[0m\n' "$*"; }
cd "$here"
newest() { { "$bin" runs --json 2>/dev/null || true; } | head -1 | sed -n 's/.*"run":"\([^"]*\)".*/\1/p'; }

# ---- part 1: a crash and a resume (examples/demo.lua) ----
say "part 1: summit run demo.lua, killed with SIGKILL in its soak, then resumed (state in $SUMMIT_STATE_DIR)"
"$bin" run demo.lua -p version=v2.0.0 -p soak=3s &
pid=$!
id=
for _ in $(seq 1 100); do
  id=$(newest)
  if [[ -n $id ]] && "$bin" log "$id" 2>/dev/null | grep -q 'soak'; then break; fi
  sleep 0.1
done
sleep 1
say "kill -9 $pid (a crash in the middle of the soak)"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
say "summit resume $id: the done steps replay, the sleep keeps its wake time"
"$bin" resume "$id"

# ---- part 2: the deployment procedure ----
# Time runs 60 times faster (--time-scale 60: a 5-minute canary round takes
# 5 seconds) and the analysis is shortened with params; the seed's
# thresholds are the defaults. docs/runbooks/deploy.md explains every step.
fast=(--time-scale 60 -p canary_count=3 -p canary_interval=1m -p canary_initial_delay=1m
      -p monitor_wait=2m -p verify_count=2 -p verify_interval=2m)

say "part 2: the runbooks of this directory's summit.lua"
show "summit runbooks   (params left out here)"
"$bin" runbooks | grep -v '^ *-p '


say "summit run deploy -p version=v4.0.5 --detach: it stops at the first gate (exit 3)"
show "summit run deploy -p version=v4.0.5 --detach ${fast[*]}"
rc=0
"$bin" run deploy -p version=v4.0.5 --detach "${fast[@]}" || rc=$?
[[ $rc -eq 3 ]] || { echo "demo: expected the run to suspend (exit 3), got $rc" >&2; exit 1; }
run=$(newest)

# approve GATE USER...: as those people, from "another shell".
approve() {
  local gate=$1
  shift
  for u in "$@"; do
    show "SUMMIT_USER=$u summit approve $run --gate $gate"
    SUMMIT_USER=$u "$bin" approve "$run" --gate "$gate" --comment "demo approval by $u"
  done
}
# wait_gate GATE: until the run waits on GATE (or has ended).
wait_gate() {
  for _ in $(seq 1 600); do
    "$bin" runs --waiting 2>/dev/null | grep -q "gate '$1'" && return 0
    kill -0 "$runner" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

say "who must answer: summit runs --waiting"
show "summit runs --waiting"
"$bin" runs --waiting
approve checklist-pre-deployment carol

say "summit resume $run: staging, then the canary's gate (the run waits in this process)"
"$bin" resume "$run" --time-scale 60 &
runner=$!
wait_gate canary || { wait "$runner"; exit 1; }
sleep 0.3
say "the canary gate: a Platform Lead"
"$bin" runs --waiting
approve canary alice
wait_gate production || { wait "$runner"; exit 1; }
sleep 0.3
say "the production gate: a Platform Lead and a Senior Engineer"
"$bin" runs --waiting
approve production alice bob
rc=0
wait "$runner" || rc=$?

say "summit status $run"
"$bin" status "$run"
say "summit audit verify"
"$bin" audit verify
say "summit audit show $run (the approvals and the release)"
"$bin" audit show "$run" | grep -E 'approval.granted|checklist.ack|canary.verdict|release\.' || true
say "summit provenance $run: the in-toto/SLSA statement of the run, written once it has ended"
show "summit provenance $run -o \$SUMMIT_STATE_DIR/deploy.intoto.json"
"$bin" provenance "$run" -o "$SUMMIT_STATE_DIR/deploy.intoto.json"
python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
print("subject:", ", ".join(s["name"] for s in d["subject"]))
print("approvals:", ", ".join(a.get("gate", "?") + " by " + a.get("actor", "?") for a in d["predicate"]["buildDefinition"]["internalParameters"].get("approvals", [])))' \
  "$SUMMIT_STATE_DIR/deploy.intoto.json" || true
exit "$rc"
