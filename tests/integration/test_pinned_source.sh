#!/usr/bin/env bash
# Issue 2 / pinned source: a suspended run resumes with the source it was
# started with, not the edited file on disk; `resume --upgrade` replays the
# file on disk and refuses (exit 2, divergence report) when it diverges.
#
#  1. run --detach -> exit 3, status suspended (the run sleeps 1 s); the file
#     is edited (step two renamed, its effect changed); after the wake time
#     `summit resume` runs the ORIGINAL step two (effect two-v1).
#  2. another suspended run; the file is edited so the completed step one is
#     renamed (and moved one line down): `resume --upgrade` exits 2 with a
#     report on stderr naming the key, both sides and the runbook file:line;
#     the run stays suspended (same pinned sha, same wake time), nothing ran;
#     a plain `summit resume` then succeeds with the pinned source.
#  3. another suspended run; only step two (after the suspension point) is
#     edited: `resume --upgrade` succeeds, runs the new step two and pins
#     the new source (source_sha256).
#  4. a run suspended inside a parallel branch written as in the README
#     (`tests = function() return step("tests", ...) end`); the branch step
#     is renamed: `resume --upgrade` exits 2 naming the branch key and the
#     file:line of the call; a plain resume then finishes the run.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

# edit FILE PYTHON-EXPR: rewrites FILE with s -> EXPR (s is its text).
edit() {
  py 'import sys
p = sys.argv[1]; s = open(p).read()
n = eval(sys.argv[2])
assert n != s, "the edit changed nothing"
open(p, "w").write(n)' "$1" "$2"
}

# suspended NAME DIR: copies the runbook into DIR and starts a run that
# suspends in its sleep; sets RUN and RB.
suspended() {
  local name=$1 w=$2
  mkdir -p "$w"
  RB=$w/runbook.lua
  cp "$RUNBOOKS/pinned.lua" "$RB"
  sm "$name" run "$RB" -p dir="$w" --detach
  expect_rc 3 "$name" "$name: run --detach stops at the sleep"
  RUN=$(newest_run)
  expect_status "$RUN" suspended "$name"
  eq "$(cat "$w/effects.txt")" "one-v1" "$name: step one ran, step two did not"
}

# wait_wake RUN: sleeps until the run's wake time has passed.
wait_wake() {
  local wake
  wake=$(run_field "$1" wake)
  [[ -n $wake ]] || die "suspended run $1 has no wake time in summit status"
  local ms
  ms=$(py 'import sys,datetime
t = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
print(int(t.timestamp() * 1000))' "$wake")
  local now
  now=$(now_ms)
  ((now <= ms)) && ms_sleep $((ms - now + 50))
  return 0
}

say "1. resume runs the pinned source, not the edited file"
suspended s1 "$T/w1"
run1=$RUN
edit "$RB" 's.replace("step(\"two\"", "step(\"two (edited)\"").replace("two-v1", "two-v2")'
wait_wake "$run1"
sm r1 resume "$run1"
expect_rc 0 r1 "resume of the suspended run"
expect_status "$run1" succeeded "run 1"
eq "$(tr '\n' ' ' <"$T/w1/effects.txt")" "one-v1 two-v1 " "the ORIGINAL step two ran (two-v1), once; step one did not run again"
eq "$(entry_field "$run1" 3 name)" two "the journal names step 3 'two' (pinned), not 'two (edited)'"
hasnt "$T/r1.out" "edited" "the resume's output does not mention the edited step"

say "2. resume --upgrade refuses a diverging file"
suspended s2 "$T/w2"
run2=$RUN
rb2=$RB
sha_before=$(run_field "$run2" source_sha256)
wake_before=$(run_field "$run2" wake)
old_line=$(grep -n 'step("one"' "$rb2" | cut -d: -f1)
edit "$rb2" 's.replace("    step(\"one\"", "    -- renamed\n    step(\"one-renamed\"")'
new_line=$(grep -n 'step("one-renamed"' "$rb2" | cut -d: -f1)
echo "  step one: line $old_line in the journal, line $new_line in the edited file"
wait_wake "$run2"
sm up2 resume "$run2" --upgrade
expect_rc 2 up2 "resume --upgrade of a diverging file"
has "$T/up2.err" "key 1" "the report names the key (1)"
has "$T/up2.err" "step 'one'" "the report says what the journal holds (step 'one')"
has "$T/up2.err" "step 'one-renamed'" "the report says what the code asks for (step 'one-renamed')"
has "$T/up2.err" "$rb2:$new_line" "the report gives the runbook file:line of the diverging call ($rb2:$new_line)"
has "$T/up2.err" "$rb2:$old_line" "the report gives the file:line the journal recorded ($rb2:$old_line)"
py 'import sys
err = open(sys.argv[1]).read()
j = [l for l in err.splitlines() if l.strip().startswith("the journal holds")]
c = [l for l in err.splitlines() if l.strip().startswith("the code asks for")]
sys.exit(0 if j and c and "one-renamed" not in j[0] and "one-renamed" in c[0] else 1)' "$T/up2.err" ||
  { show up2; die "the report does not pair 'the journal holds' with step 'one' and 'the code asks for' with 'one-renamed'"; }
ok "the journal side and the code side are labelled"
expect_status "$run2" suspended "after the refused upgrade the run"
eq "$(run_field "$run2" source_sha256)" "$sha_before" "the run is still pinned to its original source"
eq "$(tr '\n' ' ' <"$T/w2/effects.txt")" "one-v1 " "nothing ran during the refused upgrade"
soft_eq "$(run_field "$run2" wake)" "$wake_before" "the suspended run keeps its wake time after the refused upgrade"
sm r2 resume "$run2"
expect_rc 0 r2 "plain resume after the refused upgrade"
expect_status "$run2" succeeded "run 2"
eq "$(tr '\n' ' ' <"$T/w2/effects.txt")" "one-v1 two-v1 " "the pinned source ran step two; step one ran once"

say "3. resume --upgrade with an edit after the suspension point"
suspended s3 "$T/w3"
run3=$RUN
edit "$RB" 's.replace("step(\"two\"", "step(\"two-upgraded\"").replace("two-v1", "two-v3")'
new_sha=$(sha256sum "$RB" | cut -d' ' -f1)
wait_wake "$run3"
sm up3 resume "$run3" --upgrade
expect_rc 0 up3 "resume --upgrade of a compatible file"
expect_status "$run3" succeeded "run 3"
eq "$(tr '\n' ' ' <"$T/w3/effects.txt")" "one-v1 two-v3 " "the upgraded step two ran (two-v3); step one ran once"
eq "$(entry_field "$run3" 3 name)" two-upgraded "the journal records the upgraded step's name"
eq "$(run_field "$run3" source_sha256)" "$new_sha" "the run is now pinned to the upgraded source (sha256)"

say "4. divergence inside a parallel branch (the README's 'return step(...)' pattern)"
w=$T/w4
mkdir -p "$w"
rb4=$w/runbook.lua
cp "$RUNBOOKS/pinned_parallel.lua" "$rb4"
sm s4 run "$rb4" -p dir="$w" --detach
expect_rc 3 s4 "run --detach suspends inside branch 'tests'"
run4=$(newest_run)
eq "$(entry_field "$run4" 1.scan/1 state)" completed "branch scan completed"
eq "$(entry_field "$run4" 1.tests/1 state)" started "branch tests is in progress"
edit "$rb4" 's.replace("step(\"tests\"", "step(\"unit tests\"")'
line=$(grep -n 'step("unit tests"' "$rb4" | cut -d: -f1)
sm up4 resume "$run4" --upgrade
expect_rc 2 up4 "resume --upgrade that renames the in-progress branch step"
has "$T/up4.err" "1.tests/1" "the report names the branch key (1.tests/1)"
has "$T/up4.err" "step 'unit tests'" "the report says what the code asks for"
soft_has "$T/up4.err" "$rb4:$line" "the report gives the file:line of the diverging call in a branch ($rb4:$line), not '?'"
expect_status "$run4" suspended "after the refused upgrade the run"
sm r4 resume "$run4"
expect_rc 0 r4 "plain resume after the refused upgrade"
eq "$(cat "$w/effects.txt")" "passed,clean" "the pinned source finished both branches and the report step"
