#!/usr/bin/env bash
# A run's result (what its run() returns) can be read back (issue 14):
# `summit result RUN` prints it as JSON, `summit status --json` has it as
# `result` and the run.finished event of --json carries it, secrets
# redacted. A resumed run returns what its replayed steps gave (an empty
# json.array stays []). A run without a result says why on stderr and
# exits as `summit run` does for its state (docs/cli.md).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
RB=$RUNBOOKS/result.lua
WANT='{"items":[],"n":3,"ok":true,"tok":"[secret:tok]"}'

# finished_result NAME: the result field of the run.finished event.
finished_result() {
  py 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "run.finished":
        print(json.dumps(e.get("result", "<none>"), separators=(",", ":"), sort_keys=True))' "$T/$1.out"
}

# status_result RUN: the result field of `summit status RUN --json`.
status_result() {
  "$SUMMIT" status "$1" --json | py 'import json,sys
d = json.load(sys.stdin)
print(json.dumps(d["result"], separators=(",", ":"), sort_keys=True) if "result" in d else "<none>")'
}

say "a succeeded run: result, status --json and run.finished agree"
sm ok run "$RB" -p tok=sekrit-value --json
expect_rc 0 ok "the run succeeds"
run=$(newest_run)
eq "$(finished_result ok)" "$WANT" "run.finished carries the result, the secret redacted"
sm res result "$run"
expect_rc 0 res "summit result of a succeeded run"
eq "$(cat "$T/res.out")" "$WANT" "summit result prints the result as JSON"
hasnt "$T/res.out" "sekrit-value" "the secret's value is not in the result"
eq "$(status_result "$run")" "$WANT" "status --json has the result"
sm resj result "$run" --json
expect_rc 0 resj "summit result --json"
eq "$(cat "$T/resj.out")" "$WANT" "--json prints the same JSON"

"$SUMMIT" status "$run" >"$T/status.txt"
has "$T/status.txt" "result   $WANT" "summit status shows the result"

say "a long result is cut in summit status, at a UTF-8 boundary"
sm long run "$RB" -p mode=long
expect_rc 0 long "the run succeeds"
"$SUMMIT" status "$(newest_run)" >"$T/status_long.txt"
has "$T/status_long.txt" "... (summit result RUN prints it whole)" "the result line is cut"
hasnt "$T/status_long.txt" $'\xef\xbf\xbd' "no character is split by the cut"
sm resl result "$(newest_run)"
eq "$(wc -c <"$T/resl.out")" 603 "summit result prints it whole (300 two-byte characters, quotes, newline)"

say "a run that returns nothing: null"
sm none run "$RB" -p mode=nothing
expect_rc 0 none "the run succeeds"
sm resn result "$(newest_run)"
expect_rc 0 resn "summit result of a run that returned nothing"
eq "$(cat "$T/resn.out")" "null" "it prints null"

say "a failed run has no result: exit 1 and why"
sm bad run "$RB" -p mode=fail --json
expect_rc 1 bad "the run fails"
run=$(newest_run)
eq "$(finished_result bad)" '"<none>"' "run.finished of a failed run has no result"
sm resf result "$run"
expect_rc 1 resf "summit result of a failed run"
eq "$(lines "$T/resf.out")" 0 "nothing on stdout"
has "$T/resf.err" "has no result: it is failed" "stderr says why"
eq "$(status_result "$run")" "<none>" "status --json has no result"

say "a suspended run: exit 3 until it is resumed to the end"
sm gate run "$RB" -p gate=true -p tok=sekrit-value --detach
expect_rc 3 gate "the run suspends at its gate"
run=$(newest_run)
sm ress result "$run"
expect_rc 3 ress "summit result of a suspended run"
has "$T/ress.err" "has no result: it is suspended" "stderr says it is suspended"
SUMMIT_USER=bob sm appr approve "$run" --gate go
expect_rc 0 appr "bob approves"
sm resume resume "$run" -p tok=sekrit-value --json
expect_rc 0 resume "the resumed run succeeds"
eq "$(finished_result resume)" "$WANT" "the replayed empty list is [] in the result"
sm resr result "$run"
expect_rc 0 resr "summit result after the resume"
eq "$(cat "$T/resr.out")" "$WANT" "the result after the resume"

say "a live run: exit 5; interrupted: exit 130"
bg_start live run "$RB" -p wait=true
pid=$BG_PID
wait_until 30 "the run is sleeping" grep -qF "sleep until" "$T/live.out"
run=$(newest_run)
sm resl result "$run"
expect_rc 5 resl "summit result of a run a live process holds"
has "$T/resl.err" "has no result: it is running (running now)" "stderr says it runs"
kill -INT "$pid"
bg_wait "$pid"
eq "$RC" 130 "the run is interrupted"
sm resi result "$run"
expect_rc 130 resi "summit result of an interrupted run"
has "$T/resi.err" "it is interrupted (resumable)" "stderr says it can be resumed"

say "an unknown run, no run: usage errors"
sm unk result nosuchrun
expect_rc 2 unk "an unknown run"
has "$T/unk.err" "no run nosuchrun" "the error names the run"
sm norun result
expect_rc 2 norun "no run given"
has "$T/norun.err" "summit result RUN" "the usage line"
