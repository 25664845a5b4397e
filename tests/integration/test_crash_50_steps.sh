#!/usr/bin/env bash
# Issue 2 / crash test: a 50-step runbook (each step appends "step N" to a
# file through exec) is SIGKILLed at 10 random points and resumed after each
# kill until it ends `succeeded`. Checks: final status; the file holds every
# step in order (consecutive duplicates collapsed -> exactly 1..50); a line
# written twice belongs to a step that was in flight at a kill and whose
# exec the journal shows as recovered (attempt 2+); every exec in flight at
# a kill was recovered; no effect ran more often than its durable `started`
# rows allow; every entry completed exactly once.
#
# The kill points come from bash's RANDOM seeded with $SUMMIT_TEST_SEED (or
# a fresh seed, printed, so a failure can be replayed).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

KILLS=${SUMMIT_TEST_KILLS:-10}
STEPS=50
seed=${SUMMIT_TEST_SEED:-$(( (RANDOM << 15 | RANDOM) % 1000000 ))}
echo "seed: $seed  (replay the kill points with SUMMIT_TEST_SEED=$seed)"
RANDOM=$seed

work=$T/wd
rb=$RUNBOOKS/crash50.lua
effects=$work/effects.txt
inflight=$T/inflight.txt   # "kill# key" of every entry in flight at a kill
: >"$inflight"

# Each step takes ~50 ms + the cost of a process; a cycle lets the run go
# on for 40..240 ms, so 10 cycles cannot finish the 50 steps (>= 2.5 s).
kill_delay() { echo $((40 + RANDOM % 200)); }

say "launch $rb and kill it $KILLS times at random points"
bg_run launch run "$rb" -p dir="$work" -p steps=$STEPS -p pause=0.05
run=$NEW_RUN
echo "run id: $run"

landed=0
for ((k = 1; k <= KILLS; k++)); do
  kill_cycle "$k" "$run" "$(kill_delay)" "$inflight"
  [[ $RC -eq 137 ]] || break
  landed=$((landed + 1))
  # The killed summit's child (its own process group) may still be about
  # to append its line; let it, so its line lands before the resume's.
  sleep 0.1
  st=$(run_status "$run")
  case $st in
    succeeded | failed | cancelled | rolled_back | needs_attention)
      die "after kill $k the run's status is '$st'; a killed run must stay resumable" ;;
  esac
done
eq "$landed" "$KILLS" "all $KILLS kills landed in a live summit process"

say "resume until it succeeds"
sm final resume "$run"
expect_rc 0 final "final resume"
expect_status "$run" succeeded "final status"

say "check the side effects against the journal"
"$SUMMIT" log "$run" --json >"$T/log.jsonl"
"$SUMMIT" status "$run" --json >"$T/status.json"
py '
import json, sys
effects, logf, statusf, inflightf, steps = sys.argv[1:6]
steps = int(steps)
fails = []
lines = [l.rstrip("\n") for l in open(effects)]
# consecutive duplicates collapsed -> exactly step 1..N in order
dedup = [l for i, l in enumerate(lines) if i == 0 or lines[i - 1] != l]
want = ["step %d" % i for i in range(1, steps + 1)]
if dedup != want:
    fails.append("effects file (consecutive duplicates collapsed) is not step 1..%d in order: %r" % (steps, dedup[:60]))
else:
    print("  ok: effects file holds step 1..%d in order (%d lines, %d duplicates)" % (steps, len(lines), len(lines) - steps))
count = {}
for l in lines:
    count[l] = count.get(l, 0) + 1
rows = [json.loads(l) for l in open(logf)]
inflight = {}
for l in open(inflightf):
    k, key = l.split()
    inflight.setdefault(key, []).append(int(k))
def rows_of(key):
    return [r for r in rows if r["key"] == key]
recovered = [r for r in rows if "recovered" in (r.get("note") or "")]
dups = 0
for i in range(1, steps + 1):
    n = count.get("step %d" % i, 0)
    skey, xkey = str(i), "%d/1" % i
    xstarted = [r for r in rows_of(xkey) if r["state"] == "started"]
    for key in (skey, xkey):
        done = [r for r in rows_of(key) if r["state"] == "completed"]
        if len(done) != 1:
            fails.append("entry %s has %d completed rows, expected exactly 1" % (key, len(done)))
    if n > len(xstarted):
        fails.append("step %d ran %d times but its exec %s has only %d durable started rows (an effect ran before its started row was durable)" % (i, n, xkey, len(xstarted)))
    if n >= 2:
        dups += n - 1
        if xkey not in inflight:
            fails.append("step %d appears %d times but its exec %s was not in flight at any kill" % (i, n, xkey))
        rec = [r for r in rows_of(xkey) if r["attempt"] >= 2 and "recovered" in (r.get("note") or "")]
        if not rec:
            fails.append("step %d appears %d times but the log shows no recovered attempt 2+ of %s" % (i, n, xkey))
        elif max(r["attempt"] for r in rows_of(xkey)) < n:
            fails.append("step %d appears %d times but %s reached only attempt %d" % (i, n, xkey, max(r["attempt"] for r in rows_of(xkey))))
        else:
            print("  ok: step %d ran %d times: %s was in flight at kill(s) %s and was recovered (attempt %d)" % (i, n, xkey, inflight[xkey], max(r["attempt"] for r in rec)))
# every exec (an effect) caught in flight by a kill was recovered later;
# steps are scopes, which carry on with the same attempt
for key, ks in sorted(inflight.items()):
    if not key.endswith("/1"):
        continue
    if not any(r["key"] == key and "recovered" in (r.get("note") or "") and r["attempt"] >= 2 for r in rows):
        fails.append("entry %s was in flight at kill(s) %s but the log shows no recovery of it" % (key, ks))
print("  recovered entries in the log: %d, duplicated effect lines: %d, entries in flight at kills: %d" % (len(recovered), dups, len(inflight)))
if len(recovered) < dups:
    fails.append("the log shows %d recovered entries, fewer than the %d duplicated effects" % (len(recovered), dups))
if not inflight:
    fails.append("no kill landed inside an entry: the test did not exercise recovery (try another seed)")
st = json.load(open(statusf))
bad = [e["key"] for e in st["entries"] if e["state"] != "completed"]
if bad:
    fails.append("entries not completed in the final status: %s" % bad)
if fails:
    for f in fails: print("FAIL: " + f, file=sys.stderr)
    sys.exit(1)
print("  ok: every duplicate belongs to a recovered in-flight step; every exec in flight at a kill was recovered")
' "$effects" "$T/log.jsonl" "$T/status.json" "$inflight" "$STEPS" || die "journal/effects check failed (seed $seed)"
N_CHECKS=$((N_CHECKS + 1))

say "summit log shows the recoveries"
"$SUMMIT" log "$run" >"$T/log.txt"
if [[ -s $inflight ]]; then
  has "$T/log.txt" "recovered" "human summit log mentions the recoveries"
fi
