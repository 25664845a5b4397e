#!/usr/bin/env bash
# Issue 17 / crash test of group commit: a parallel of 12 branches x 8
# exec steps (tests/integration/runbooks/crash_parallel.lua), whose
# branches start their steps together and so share one commit per loop
# turn, is SIGKILLed at 8 random points and resumed after each kill until
# it succeeds. Checks (DESIGN §4 under group commit): every entry completed
# exactly once; every effect ran at least once and never more often than
# its exec has durable `started` rows (no process started before its row
# was on disk, however many rows shared the commit); an effect that ran
# twice belongs to an exec in flight at a kill and recovered as attempt
# 2+; nothing completed ran again. Then, where strace is installed: 200
# branches that each start one exec share their commits (far fewer than
# one fsync per branch; before group commit it was two each).
#
# The kill points come from bash's RANDOM seeded with $SUMMIT_TEST_SEED (or
# a fresh seed, printed, so a failure can be replayed).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

KILLS=${SUMMIT_TEST_KILLS:-8}
BRANCHES=12
STEPS=8
seed=${SUMMIT_TEST_SEED:-$(( (RANDOM << 15 | RANDOM) % 1000000 ))}
echo "seed: $seed  (replay the kill points with SUMMIT_TEST_SEED=$seed)"
RANDOM=$seed

work=$T/wd
rb=$RUNBOOKS/crash_parallel.lua
effects=$work/effects.txt
inflight=$T/inflight.txt   # "kill# key" of every entry in flight at a kill
: >"$inflight"

say "launch $rb and kill it up to $KILLS times at random points"
bg_run launch run "$rb" -p dir="$work" -p branches=$BRANCHES -p steps=$STEPS
run=$NEW_RUN
echo "run id: $run"

landed=0
for ((k = 1; k <= KILLS; k++)); do
  kill_cycle "$k" "$run" "$((40 + RANDOM % 160))" "$inflight"
  [[ $RC -eq 137 ]] || break
  landed=$((landed + 1))
  sleep 0.1   # let the killed summit's orphaned children append their line
  # A kill that lands after the last commit leaves a finished run.
  [[ $(run_status "$run") != succeeded ]] || break
done
((landed >= 3)) || die "only $landed kills landed in a live summit process"
ok "$landed kills landed in a live summit process"

say "resume until it succeeds"
if [[ $(run_status "$run") != succeeded ]]; then
  sm final resume "$run"
  expect_rc 0 final "final resume"
fi
expect_status "$run" succeeded "final status"

say "check the side effects against the journal"
"$SUMMIT" log "$run" --json >"$T/log.jsonl"
py '
import json, sys
effects, logf, inflightf, nb, ns = sys.argv[1:6]
nb, ns = int(nb), int(ns)
fails = []
lines = [l.rstrip("\n") for l in open(effects)]
count = {}
for l in lines:
    count[l] = count.get(l, 0) + 1
rows = [json.loads(l) for l in open(logf)]
by_key = {}
for r in rows:
    by_key.setdefault(r["key"], []).append(r)
inflight = {}
for l in open(inflightf):
    k, key = l.split()
    inflight.setdefault(key, []).append(int(k))
for key, rs in sorted(by_key.items()):
    done = [r for r in rs if r["state"] == "completed"]
    if len(done) != 1:
        fails.append("entry %s has %d completed rows, expected exactly 1" % (key, len(done)))
dups = 0
for i in range(1, nb + 1):
    for j in range(1, ns + 1):
        line = "b%d s%d" % (i, j)
        xkey = "1.b%d/%d/1" % (i, j)
        n = count.get(line, 0)
        started = [r for r in by_key.get(xkey, []) if r["state"] == "started"]
        if n == 0:
            fails.append("%s never ran" % line)
        if n > len(started):
            fails.append("%s ran %d times but its exec %s has %d durable started rows: a process started before its row was on disk" % (line, n, xkey, len(started)))
        if n >= 2:
            dups += n - 1
            rec = [r for r in started if r["attempt"] >= n and "recovered" in (r.get("note") or "")]
            if xkey not in inflight:
                fails.append("%s ran %d times but its exec %s was not in flight at any kill" % (line, n, xkey))
            elif not rec:
                fails.append("%s ran %d times but %s has no recovered attempt %d" % (line, n, xkey, n))
            else:
                print("  ok: %s ran %d times: %s was in flight at kill(s) %s, recovered" % (line, n, xkey, inflight[xkey]))
for key, ks in sorted(inflight.items()):
    if key.count("/") == 2 and not any("recovered" in (r.get("note") or "") and r["attempt"] >= 2 for r in by_key.get(key, [])):
        fails.append("exec %s was in flight at kill(s) %s but was never recovered" % (key, ks))
print("  effects: %d lines for %d execs, %d run twice; entries in flight at kills: %d" % (len(lines), nb * ns, dups, len(inflight)))
if fails:
    for f in fails: print("FAIL: " + f, file=sys.stderr)
    sys.exit(1)
' "$effects" "$T/log.jsonl" "$inflight" "$BRANCHES" "$STEPS" ||
  die "journal/effects check failed (seed $seed)"
ok "every exec ran once, or again only after a kill caught it in flight"

say "200 branches that start an exec together share their commits"
if command -v strace >/dev/null && strace -f -o /dev/null true 2>/dev/null; then
  mkdir -p "$T/wd2"
  # (LeakSanitizer cannot run under ptrace.)
  ASAN_OPTIONS=detect_leaks=0 strace -f -c -e trace=fdatasync -o "$T/strace.txt" \
    "$SUMMIT" run "$rb" -p dir="$T/wd2" -p branches=200 -p steps=1 -p pause=0 \
    >"$T/s200.out" 2>"$T/s200.err" || { cat "$T/s200.err" >&2; die "200-branch run failed"; }
  n=$(awk '$NF == "fdatasync" {print $4}' "$T/strace.txt")
  eq "$(wc -l <"$T/wd2/effects.txt" | tr -d ' ')" 200 "all 200 execs ran"
  echo "  fdatasync calls for 200 branches: $n"
  # One commit per loop turn plus a fixed few (creating the run, its
  # outcome, WAL checkpoints); without group commit: 2 per branch.
  ((n < 60)) || die "200 branches made $n fdatasync calls: their started rows did not share commits"
  ok "200 exec branches: $n fdatasyncs"
else
  echo "  skipped: strace is not usable here"
fi

