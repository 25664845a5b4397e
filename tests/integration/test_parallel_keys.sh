#!/usr/bin/env bash
# Issue 2 / parallel keys: branches that finish in a different order on each
# run keep the same journal keys, and a SIGKILL inside a parallel block
# resumes without re-running the branches that had completed.
#
#  1. Two runs of runbooks/parallel.lua with different random per-branch
#     delays (seeded, printed): their completion orders differ (checked from
#     the journal), their sets of (key, kind, name) are identical.
#  2. A run whose branch d is held (its exec waits while a file exists) is
#     SIGKILLed once a, b and c completed and d's exec is in flight; `summit resume` succeeds, a/b/c's effects
#     happened once, d's twice (in flight -> recovered, attempt 2), the step
#     before and after the block once, the results of all four branches
#     arrive, and the resumed run has the same keys as the clean runs.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

seed=${SUMMIT_TEST_SEED:-$(( (RANDOM << 15 | RANDOM) % 1000000 ))}
echo "seed: $seed  (replay with SUMMIT_TEST_SEED=$seed)"
RANDOM=$seed
rb=$RUNBOOKS/parallel.lua

# A random permutation of a b c d.
perm() {
  local names=(a b c d) i j t
  for ((i = 3; i > 0; i--)); do
    j=$((RANDOM % (i + 1)))
    t=${names[i]}; names[i]=${names[j]}; names[j]=$t
  done
  echo "${names[*]}"
}
# delays for a finishing order "x y z w": 0, 0.12, 0.24, 0.36 s
delays_for() {
  local i=0 out="" n
  for n in $1; do
    out+="$n=0.$(printf '%02d' $((i * 12))),"
    i=$((i + 1))
  done
  echo "${out%,}"
}

# keys RUN: "key kind name" of every entry, sorted.
keys() {
  "$SUMMIT" status "$1" --json | py 'import json,sys
for e in json.load(sys.stdin)["entries"]:
    print(e["key"], e["kind"], e.get("name") or "")' | sort
}
# completion_order RUN: branch names in the order their work step completed.
completion_order() {
  "$SUMMIT" log "$1" --json | py 'import json,sys,re
out = []
for l in sys.stdin:
    r = json.loads(l)
    m = re.fullmatch(r"2\.([a-d])/1", r["key"])
    if m and r["state"] == "completed":
        out.append(m.group(1))
print(" ".join(out))'
}

say "two runs whose branches finish in different orders"
order1=$(perm)
order2=$(perm)
while [[ $order2 == "$order1" ]]; do order2=$(perm); done
runs=()
for i in 1 2; do
  o=order$i
  mkdir -p "$T/w$i"
  d=$(delays_for "${!o}")
  echo "run $i: delays $d"
  sm "run$i" run "$rb" -p dir="$T/w$i" -p delays="$d"
  expect_rc 0 "run$i" "run $i"
  runs+=("$(newest_run)")
done
[[ ${runs[0]} != "${runs[1]}" ]] || die "the two runs have the same id"
c1=$(completion_order "${runs[0]}")
c2=$(completion_order "${runs[1]}")
echo "  completion orders: run 1: $c1 | run 2: $c2"
[[ $c1 != "$c2" ]] || die "the branches completed in the same order in both runs ($c1): the test did not vary the order"
ok "the branches completed in different orders"
keys "${runs[0]}" >"$T/keys1"
keys "${runs[1]}" >"$T/keys2"
if ! diff -u "$T/keys1" "$T/keys2" >&2; then
  die "the two runs have different (key, kind, name) sets"
fi
ok "both runs have the same $(wc -l <"$T/keys1") (key, kind, name) entries"
for b in a b c d; do
  grep -qx "2.$b/1 step work $b" "$T/keys1" || die "no entry '2.$b/1 step work $b' (branch keys are not <parallel key>.<branch>/<n>)"
done
ok "branch entries are keyed by branch name (2.a/1 .. 2.d/1)"

say "SIGKILL inside the parallel block, then resume"
w=$T/w3
mkdir -p "$w"
touch "$w/hold.d"   # branch d's exec waits while this file exists
bg_run crash run "$rb" -p dir="$w" -p delays="a=0,b=0.1,c=0.2,d=0" --json
pid=$BG_PID
run=$NEW_RUN
branches_ready() {
  journal_has "$run" 2.a/3 completed && journal_has "$run" 2.b/3 completed &&
    journal_has "$run" 2.c/3 completed && journal_has "$run" 2.d/1/1 started
}
wait_until 60 "branches a, b, c to complete while d runs" branches_ready
kill -9 "$pid"
bg_wait "$pid"
rm -f "$w/hold.d"   # the orphaned exec of d ends; the resumed one will not wait
eq "$RC" 137 "summit was killed inside the parallel block"
eq "$(entry_field "$run" 2 state)" started "the parallel entry (2) is in flight"
eq "$(entry_field "$run" 2.d/1/1 state)" started "branch d's exec (2.d/1/1) is in flight"
eq "$(lines "$w/count.d")" 1 "branch d's effect ran once before the kill"

sm resume resume "$run" --json
expect_rc 0 resume "resume after the kill"
expect_status "$run" succeeded "resumed run"
for b in a b c; do
  eq "$(lines "$w/count.$b")" 1 "branch $b (completed before the kill) ran exactly once"
  py 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["event"] == "step.replayed" and e.get("key") == sys.argv[2]:
        sys.exit(0)
sys.exit(1)' "$T/resume.out" "2.$b/1" || { show resume; die "no step.replayed event for 2.$b/1 in the resume"; }
  ok "branch $b's step was replayed (step.replayed 2.$b/1)"
done
eq "$(lines "$w/count.d")" 2 "branch d (in flight at the kill) ran again"
eq "$(lines "$w/count.before")" 1 "the step before the block ran once"
eq "$(lines "$w/count.after")" 1 "the step after the block ran once"
eq "$(entry_field "$run" 2.d/1/1 attempt)" 2 "branch d's exec is at attempt 2"
"$SUMMIT" log "$run" --json | py 'import json,sys
sys.exit(0 if any(r["key"] == "2.d/1/1" and r["attempt"] == 2 and "recovered" in (r.get("note") or "")
                  for r in map(json.loads, sys.stdin)) else 1)' ||
  die "the log does not show 2.d/1/1 recovered at attempt 2"
ok "the log shows branch d's exec recovered"
res=$(py 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join("%s=%s" % (k, d[k]) for k in sorted(d)))' "$w/results.json")
eq "$res" "a=a-done b=b-done c=c-done d=d-done" "the block returned all four branch results (replayed and new)"
keys "$run" >"$T/keys3"
if ! diff -u "$T/keys1" "$T/keys3" >&2; then
  die "the resumed run's (key, kind, name) set differs from a clean run's"
fi
ok "the resumed run has the same keys as the clean runs"

say "a step where a yield cannot cross (gsub callback) in a parallel branch"
sm noyield run "$RUNBOOKS/parallel_noyield.lua"
expect_rc 0 noyield "a step inside a gsub callback beside another branch"
"$SUMMIT" status "$(newest_run)" --json | py 'import json,sys
d = json.load(sys.stdin)
sys.exit(0 if d.get("result") == "ABCx" else 1)' || die "the run did not return ABCx"
ok "the steps in the gsub callback ran and committed (result ABCx)"
