#!/usr/bin/env bash
# Issue 5 part 3 / the audit trail (docs/audit.md).
#
#  1. A full run (steps, an exec, a lock, audit.record, an http call with an
#     Authorization header, a caught failing step, a step that fails the
#     run), then a resume that succeeds: `summit audit verify` passes and
#     prints the head; the records of the run are, in order, run.started
#     ... run.finished(failed), run.resumed ... run.finished(succeeded);
#     one step.completed per completed step row of the journal; exec and
#     http outcomes are there, now/random are not; audit.record's record
#     is written once (not again by the resume's replay); actor = the
#     run's user.
#  2. Secrets: the token given to audit.record and sent as Authorization
#     never appear in the audit table nor in the audit entry's journal row.
#  3. export writes JSON Lines that parse, with the exact hashed text;
#     --run and --since filter; a bad --since is a usage error (exit 2).
#     show prints the run's timeline; an unknown run is exit 2.
#  4. contrib/audit-verify.py (python3 stdlib only) verifies the database
#     and the export without summit, and agrees on tampering below; so does
#     the by-hand check of docs/audit.md (sqlite3 + sha256sum).
#  5. Tampering (on copies made with sqlite3 .backup): after DROP TRIGGER,
#     one changed byte of one record -> verify exits 1 naming that seq,
#     its run and action; a deleted middle record -> exit 1 naming the
#     missing seq. The append-only triggers refuse UPDATE and DELETE.
#  6. --head: a head noted after the first run still verifies after more
#     runs; cutting the tail below it verifies as a chain (the limit) but
#     fails with --head.
#  7. summit cancel of a suspended run by another user: run.cancel_requested
#     and run.finished(cancelled) with that user as actor.
#  8. SIGKILL while a step runs, after audit.record: the resumed run does
#     not write the record twice and the chain verifies.
#  9. Misuse of audit.record raises at once naming the argument, at the
#     runbook's file:line.
# 10. Two runs appending at once (two processes): every record is there
#     once and the chain verifies.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v sqlite3 >/dev/null || die "sqlite3 (the CLI) is needed (make deps)"
command -v curl >/dev/null || die "curl is needed (make deps)"
VERIFY_PY=$HERE/../../contrib/audit-verify.py
[[ -f $VERIFY_PY ]] || die "no contrib/audit-verify.py"
DB=$SUMMIT_STATE_DIR/state.db
W=$T/wd
cd "$W"

start_http_server

SECRET=abc123secretXYZ
cat >audited.lua <<'EOF'
return runbook {
  name = "audited", version = "2.1",
  params = {
    url = { type = "string", required = true },
    secret = { type = "string", required = true },
    dir = { type = "string", required = true },
  },
  run = function(p)
    step("prepare", function() return 1 end)
    step("build", function() return exec({ "sh", "-c", "echo built" }).stdout end)
    lock("db-migrations", function()
      step("migrate", function() return "migrated" end)
    end)
    audit.record("checklist.ack", { item = "on-call notified", by = "alice",
                                    token = p.secret, note = "password=" .. p.secret })
    step("notify", function()
      return http.get(p.url .. "/echo-auth",
                      { headers = { Authorization = "Bearer " .. p.secret } }).status
    end)
    now()
    random(10)
    pcall(step, "optional", function() fail("not this time") end)
    step("gate", function() exec({ "test", "-e", p.dir .. "/go" }) end)
    step("finish", function() return 2 end)
  end,
}
EOF

say "1. a full run, resumed: the chain verifies"
sm run1 run audited.lua -p url="$URL" -p secret="$SECRET" -p dir="$W"
expect_rc 1 run1 "the run fails at the gate"
RUN=$(newest_run)
touch "$W/go"
sm resume1 resume "$RUN"
expect_rc 0 resume1 "the resume succeeds"
sm verify1 audit verify
expect_rc 0 verify1 "audit verify"
has "$T/verify1.out" "audit trail intact" "verify says the trail is intact"
HEAD1=$(sed -n 's/^head: seq [0-9]* hash \([0-9a-f]\{64\}\)$/\1/p' "$T/verify1.out")
[[ ${#HEAD1} -eq 64 ]] || die "verify printed no head hash: $(cat "$T/verify1.out")"
ok "verify prints the head hash"

sm export1 audit export --run "$RUN"
expect_rc 0 export1 "audit export --run"
actions=$(py 'import json,sys
print(" ".join(json.loads(l)["action"] for l in open(sys.argv[1])))' "$T/export1.out")
echo "  actions: $actions"
eq "$(echo "$actions" | cut -d' ' -f1)" run.started "the first record is run.started"
eq "$(echo "$actions" | awk '{print $NF}')" run.finished "the last record is run.finished"
py 'import json,sys
recs = [json.loads(l) for l in open(sys.argv[1])]
acts = [r["action"] for r in recs]
fin = [r["detail"]["status"] for r in recs if r["action"] == "run.finished"]
assert fin == ["failed", "succeeded"], fin
i = acts.index("run.resumed")
assert acts.index("run.finished") < i, acts
assert recs[i]["detail"]["from"] == "failed", recs[i]
assert acts.count("checklist.ack") == 1, acts
assert "lock.acquired" in acts and "lock.released" in acts, acts
assert acts.index("lock.acquired") < acts.index("lock.released")
assert "exec.completed" in acts and "http.completed" in acts, acts
assert not any(a.startswith(("now.", "random.", "sleep.", "audit.")) for a in acts), acts
gate = [(r["action"], r["detail"]["attempt"]) for r in recs if r["detail"].get("name") == "gate"]
assert gate == [("step.failed", 1), ("step.completed", 2)], gate
opt = [r for r in recs if r["detail"].get("name") == "optional"]
assert opt[0]["action"] == "step.failed" and opt[0]["detail"]["error"]["code"] == "EFAIL", opt
assert {r["actor"] for r in recs} == {"tester"}, {r["actor"] for r in recs}
seqs = [r["seq"] for r in recs]
assert seqs == sorted(seqs), seqs
' "$T/export1.out" || die "the run's records are not what was done (see actions above)"
ok "run.started, lock, exec, http, the failure, run.resumed and both run.finished are recorded in order"
ok "audit.record wrote once although the resume replayed it; no now/random records"
n_audit=$(audit_count "$RUN" step.completed)
n_journal=$("$SUMMIT" log "$RUN" --json | py 'import json,sys
print(sum(1 for l in sys.stdin for r in [json.loads(l)] if r["kind"] == "step" and r["state"] == "completed"))')
eq "$n_audit" "$n_journal" "one step.completed record per completed step in the journal ($n_journal)"

say "2. secrets never enter the audit trail"
sqlite3 "$DB" ".dump audit" >"$T/audit.dump"
has "$T/audit.dump" "checklist.ack" "the dump holds the audit table"
hasnt "$T/audit.dump" "$SECRET" "the token (audit.record and Authorization) is not in the audit table"
has "$T/audit.dump" '"token":"[redacted]"' "the token's key is kept, its value masked"
sqlite3 "$DB" "SELECT args FROM journal WHERE kind = 'audit'" >"$T/audit.args"
hasnt "$T/audit.args" "$SECRET" "nor in the audit entry's journal row"
curl -fsS "$URL/stats" | grep -qF "$SECRET" || die "the server did not receive the token"
ok "the server did receive the token (so the check above means something)"

say "3. export, filters, show"
sm export_all audit export
expect_rc 0 export_all "audit export"
has "$T/export_all.err" "head of the whole trail: seq" "export names the head on stderr"
py 'import json,sys,hashlib
prev = "0" * 64
for n, line in enumerate(open(sys.argv[1]), 1):
    r = json.loads(line)
    for k in ("seq", "ts", "actor", "run", "action", "detail", "prev", "hash", "record"):
        assert k in r, (n, k)
    assert r["seq"] == n and r["prev"] == prev, (n, r["seq"])
    assert json.loads(r["record"])["detail"] == r["detail"]
    prev = hashlib.sha256((prev + "\n" + r["record"]).encode()).hexdigest()
    assert prev == r["hash"], n
print(prev)' "$T/export_all.out" >"$T/py_head" || die "the export does not parse or chain"
eq "$(cat "$T/py_head")" "$HEAD1" "the export's JSON Lines parse and chain to the head verify printed"
sm other run audited.lua -p url="$URL" -p secret=x -p dir="$W"
expect_rc 0 other "a second run"
RUN2=$(newest_run)
sm exp_run audit export --run "$RUN"
eq "$(py 'import json,sys
print(sorted({json.loads(l)["run"] for l in open(sys.argv[1])}))' "$T/exp_run.out")" "['$RUN']" \
  "--run keeps only that run's records"
sm exp_future audit export --since 2099-01-01T00:00:00Z
expect_rc 0 exp_future "export --since a future time"
eq "$(lines "$T/exp_future.out")" 0 "nothing since 2099"
sm exp_hour audit export --since 1h
sm exp_all2 audit export
eq "$(lines "$T/exp_hour.out")" "$(lines "$T/exp_all2.out")" \
  "--since 1h (a duration ago) keeps everything written in this test"
sm exp_bad audit export --since yesterday
expect_rc 2 exp_bad "a bad --since"
has "$T/exp_bad.err" "--since 'yesterday'" "the error names the value"
sm show1 audit show "$RUN"
expect_rc 0 show1 "audit show"
has "$T/show1.out" "audit trail of run $RUN (audited 2.1" "show names the run"
for a in run.started step.completed exec.completed lock.acquired checklist.ack \
         http.completed step.failed run.resumed run.finished; do
  has "$T/show1.out" "$a" "the timeline shows $a"
done
has "$T/show1.out" 'name=gate' "the timeline names steps"
has "$T/show1.out" 'tester' "the timeline names the actor"
sm show_none audit show nosuchrun
expect_rc 2 show_none "audit show of an unknown run"

say "4. an independent verifier (python3, no summit)"
python3 "$VERIFY_PY" "$DB" >"$T/pyv.out" || die "audit-verify.py rejects the database: $(cat "$T/pyv.out")"
ok "audit-verify.py verifies the state database"
python3 "$VERIFY_PY" --head "$HEAD1" "$T/export_all.out" >"$T/pyv2.out" ||
  die "audit-verify.py rejects the export: $(cat "$T/pyv2.out")"
has "$T/pyv2.out" "intact" "audit-verify.py verifies the export and finds the head"
python3 "$VERIFY_PY" --partial "$T/exp_run.out" >"$T/pyv3.out" ||
  die "audit-verify.py --partial rejects a --run export: $(cat "$T/pyv3.out")"
ok "audit-verify.py --partial checks a filtered export record by record"

say "5. tampering"
sqlite3 "$DB" "UPDATE audit SET actor = 'mallory' WHERE seq = 2" 2>"$T/trig.err" &&
  die "the trigger let an UPDATE through"
has "$T/trig.err" "append-only" "UPDATE is refused by the schema"
sqlite3 "$DB" "DELETE FROM audit WHERE seq = 2" 2>"$T/trig2.err" &&
  die "the trigger let a DELETE through"
ok "DELETE is refused by the schema"

copy() {  # copy NAME: a consistent copy of the state database
  mkdir -p "$T/$1"
  sqlite3 "$DB" ".backup '$T/$1/state.db'"
}
ACK=$(sqlite3 "$DB" "SELECT seq FROM audit WHERE action = 'checklist.ack' AND run_id = '$RUN'")
copy byte
sqlite3 "$T/byte/state.db" "DROP TRIGGER audit_no_update;
  UPDATE audit SET record = replace(record, 'on-call', 'on-cal1') WHERE seq = $ACK"
eq "$(sqlite3 "$T/byte/state.db" "SELECT count(*) FROM audit WHERE record LIKE '%on-cal1%'")" 1 \
  "one byte of record $ACK changed"
SUMMIT_STATE_DIR=$T/byte sm tamper1 audit verify
expect_rc 1 tamper1 "verify of the changed record"
has "$T/tamper1.out" "BROKEN at record $ACK (run $RUN, checklist.ack" "verify names the record, its run and action"
has "$T/tamper1.out" "hash does not match its content" "verify says what is wrong"
has "$T/tamper1.out" "records 1 to $((ACK - 1)) verify" "verify says what still holds"
SUMMIT_STATE_DIR=$T/byte sm tamper1j audit verify --json
expect_rc 1 tamper1j "verify --json"
eq "$(py 'import json,sys; d = json.load(open(sys.argv[1])); print(d["ok"], d["bad"]["seq"], d["bad"]["action"])' "$T/tamper1j.out")" \
  "False $ACK checklist.ack" "verify --json names the bad record"
rc=0
python3 "$VERIFY_PY" "$T/byte/state.db" >"$T/pyt1.out" || rc=$?
eq "$rc" 1 "audit-verify.py rejects the changed record"
has "$T/pyt1.out" "record $ACK " "audit-verify.py names it"

# The by-hand check of docs/audit.md, verbatim but for the database path.
byhand() {
  sep=$(printf '\037')
  prev=0000000000000000000000000000000000000000000000000000000000000000
  n=0
  sqlite3 -batch -noheader -separator "$sep" "$1" \
    "SELECT seq, prev_hash, hash, record FROM audit ORDER BY seq" |
  while IFS=$sep read -r seq p h rec; do
    n=$((n + 1))
    [ "$seq" = "$n" ] || { echo "record $n is missing"; exit 1; }
    [ "$p" = "$prev" ] || { echo "record $seq: prev is not the hash of $((seq - 1))"; exit 1; }
    prev=$(printf '%s\n%s' "$p" "$rec" | sha256sum | cut -d' ' -f1)
    [ "$prev" = "$h" ] || { echo "record $seq: the hash does not match"; exit 1; }
  done && echo "chain intact"
}
eq "$(byhand "$DB")" "chain intact" "the by-hand check (sqlite3 + sha256sum) verifies the database"
eq "$(byhand "$T/byte/state.db" || true)" "record $ACK: the hash does not match" \
  "the by-hand check finds the changed record"

MID=$(( $(sqlite3 "$DB" "SELECT max(seq) FROM audit") / 2 ))
copy del
sqlite3 "$T/del/state.db" "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = $MID"
SUMMIT_STATE_DIR=$T/del sm tamper2 audit verify
expect_rc 1 tamper2 "verify after a middle record was deleted"
has "$T/tamper2.out" "BROKEN at record $MID: record $MID is missing" "verify names the missing record"
has "$T/tamper2.out" "the record after the gap: $((MID + 1))" "and the record after it"
rc=0
python3 "$VERIFY_PY" "$T/del/state.db" >"$T/pyt2.out" || rc=$?
eq "$rc" 1 "audit-verify.py rejects the gap"
has "$T/pyt2.out" "record $MID is missing" "audit-verify.py names the missing record"

say "6. a remembered head"
sm head_ok audit verify --head "$HEAD1"
expect_rc 0 head_ok "verify --head of a head noted before the second run"
H1SEQ=$(sqlite3 "$DB" "SELECT seq FROM audit WHERE hash = '$HEAD1'")
has "$T/head_ok.out" "the remembered head is record $H1SEQ" "verify finds the remembered head"
copy cut
sqlite3 "$T/cut/state.db" "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq >= $((H1SEQ - 2))"
SUMMIT_STATE_DIR=$T/cut sm cut_plain audit verify
expect_rc 0 cut_plain "a chain cut at its end still verifies by itself (the documented limit)"
SUMMIT_STATE_DIR=$T/cut sm cut_head audit verify --head "$HEAD1"
expect_rc 1 cut_head "verify --head after the tail was cut"
has "$T/cut_head.out" "the remembered head $HEAD1 is not in the chain" "verify says the head is gone"
rc=0
python3 "$VERIFY_PY" --head "$HEAD1" "$T/cut/state.db" >"$T/pyt3.out" || rc=$?
eq "$rc" 1 "audit-verify.py --head agrees"
sm head_bad audit verify --head 1234
expect_rc 2 head_bad "a malformed --head"

say "7. cancel by another user"
cat >waits.lua <<'EOF'
return runbook {
  name = "waits",
  run = function() step("one", function() return 1 end); sleep("1h") end,
}
EOF
sm waits run waits.lua --detach
expect_rc 3 waits "the run suspends"
RUN3=$(newest_run)
SUMMIT_USER=carol sm cancel cancel "$RUN3"
expect_rc 0 cancel "carol cancels it"
sm exp3 audit export --run "$RUN3"
eq "$(py 'import json,sys
print(" ".join("%s:%s" % (r["action"], r["actor"]) for r in map(json.loads, open(sys.argv[1]))))' "$T/exp3.out")" \
  "run.started:tester step.completed:tester run.suspended:tester run.cancel_requested:carol run.finished:carol" \
  "suspend, cancel request and the end are recorded, each with its actor"

say "8. SIGKILL after audit.record"
cat >crash.lua <<'EOF'
return runbook {
  name = "crash",
  params = { dir = { type = "string", required = true } },
  run = function(p)
    audit.record("before.crash", { n = 1 })
    step("wait", function()
      exec({ "sh", "-c", 'echo $$ > "$1/pids/child"; while [ ! -e "$1/go2" ]; do sleep 0.05; done', "sh", p.dir })
    end)
  end,
}
EOF
mkdir -p "$W/pids"
bg_start crash run crash.lua -p dir="$W"
wait_until 30 "the step's child to start" test -s "$W/pids/child"
kill -9 "$BG_PID"
bg_wait "$BG_PID"
eq "$RC" 137 "summit was SIGKILLed"
RUN4=$(newest_run)
touch "$W/go2"
sm crash_resume resume "$RUN4"
expect_rc 0 crash_resume "the killed run resumes and succeeds"
eq "$(audit_count "$RUN4" before.crash)" 1 \
  "the record is in the trail once"
sm verify_end audit verify
expect_rc 0 verify_end "the chain verifies after the crash and the resume"

say "9. misuse of audit.record"
for case in 'audit.record(42)|action' 'audit.record("")|action' \
            'audit.record("x", "text")|detail' 'audit.record("x", { f = print })|detail'; do
  code=${case%|*} arg=${case#*|}
  printf 'return runbook { name = "bad", run = function()\n  %s\nend }\n' "$code" >bad.lua
  sm bad run bad.lua
  expect_rc 1 bad "$code fails the run"
  has "$T/bad.out" "bad.lua:2: audit.record: bad argument '$arg'" "$code names '$arg' at bad.lua:2"
done

say "10. two runs appending at once"
cat >many.lua <<'EOF2'
return runbook {
  name = "many",
  params = { tag = { type = "string", required = true } },
  run = function(p)
    for i = 1, 40 do
      step("s" .. i, function() return exec({ "true" }).code end)
      audit.record("tick", { tag = p.tag, i = i })
    end
  end,
}
EOF2
# audit_total: how many records the whole trail has.
audit_total() { "$SUMMIT" audit export 2>/dev/null | wc -l; }
before=$(audit_total)
bg_start many_a run many.lua -p tag=a
PA=$BG_PID
bg_start many_b run many.lua -p tag=b
PB=$BG_PID
bg_wait "$PA"
eq "$RC" 0 "run a succeeded"
bg_wait "$PB"
eq "$RC" 0 "run b succeeded"
eq "$(audit_count "" tick)" 80 "both runs' records are there"
# They did overlap: in seq order the ticks of a and b alternate more than once.
switches=$("$SUMMIT" audit export 2>/dev/null | py 'import json,sys
for l in sys.stdin:
    r = json.loads(l)
    if r["action"] == "tick":
        print(r["detail"]["tag"])' | uniq | wc -l)
soft_eq "$([[ $switches -gt 2 ]] && echo yes || echo "no ($switches)")" yes "the two runs' records interleave (they ran at once)"
# 2 runs x (run.started + 40 x (exec, step, tick) + run.finished)
eq "$(( $(audit_total) - before ))" 244 "and nothing else, nothing twice"
sm verify_many audit verify
expect_rc 0 verify_many "the chain verifies after two runs appended at once"
python3 "$VERIFY_PY" "$DB" >/dev/null || die "audit-verify.py disagrees"
ok "audit-verify.py agrees"
