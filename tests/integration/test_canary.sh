#!/usr/bin/env bash
# Issue 6 / canary analysis (require "summit.canary") against the simulated
# cluster's metrics: `summit sim serve` with two namespaces, each with a
# stable Deployment (3 pods) and a canary (2 pods, track=canary). In "bad"
# the canary image answers 3% of requests with 500 and is 20% slower; in
# "good" it behaves like stable. Everything runs at --time-scale 60, so
# the analysis' "1m" interval is one real second (the sim's [1m] windows
# shrink the same way).
#
#  A. Bad canary: verdict failed, decided by the critical error-rate metric
#     (failure_limit 1: at the second failed measurement), and every
#     measurement says why (value > max 0.01; P99 higher than baseline by
#     Mann-Whitney with the shift, interval and band). The verdict and the
#     measurements are in the audit trail.
#  B. Good canary: successful after all 5 rounds; the dry-run CPU metric
#     is measured and reported.
#  C. Durability: an analysis of 5 measurements (one instant query each)
#     is SIGKILLed in the sleep after the 3rd. The resume replays the 3
#     measurement steps (step.replayed, no new query), takes only the 2
#     missing ones: the sim saw exactly 2 more /api/v1/query requests.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
rb=$RUNBOOKS/canary_sim.lua

cat >"$T/scenario.lua" <<'EOF'
return {
  seed = 5,
  namespaces = { "bad", "good" },
  deployments = {
    { name = "web", namespace = "bad", image = "registry/web:v1", replicas = 3,
      labels = { app = "web", track = "stable" } },
    { name = "web-canary", namespace = "bad", image = "registry/web:v2-bad", replicas = 2,
      labels = { app = "web", track = "canary" } },
    { name = "web", namespace = "good", image = "registry/web:v1", replicas = 3,
      labels = { app = "web", track = "stable" } },
    { name = "web-canary", namespace = "good", image = "registry/web:v2", replicas = 2,
      labels = { app = "web", track = "canary" } },
  },
  metrics = {
    requests_per_second = 50, variation = 0.05,
    images = { ["registry/web:v2-bad"] = { error_rate = 0.03, latency_factor = 1.2 } },
  },
}
EOF
start_sim sim --memory --scenario "$T/scenario.lua" --time-scale 60 -v
export SIM_URL=$URL

cd "$T/wd"
cat >summit.lua <<'EOF'
local sel = 'namespace="{{namespace}}",app="{{app}}",track="{{track}}"'
return {
  metrics = {
    url = os.getenv("SIM_URL"),
    queries = {
      error_rate = 'sum(rate(http_requests_total{' .. sel .. ',code=~"5.."}[1m]))'
        .. ' / sum(rate(http_requests_total{' .. sel .. '}[1m]))',
      success_rate = 'sum(rate(http_requests_total{' .. sel .. ',code!~"5.."}[1m]))'
        .. ' / sum(rate(http_requests_total{' .. sel .. '}[1m])) * 100',
      p99 = 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{'
        .. sel .. '}[30s])))',
      cpu = 'avg(rate(container_cpu_usage_seconds_total{' .. sel .. '}[1m]))',
    },
  },
}
EOF


# queries: how many instant queries the sim has answered so far.
queries() { grep -c 'POST /api/v1/query ->' "$T/sim.err" || true; }

# The pods serve traffic once ready: wait for the canary's first rates.
has_rate() {
  curl -fsS "$URL/api/v1/query" \
    --data-urlencode 'query=sum(rate(http_requests_total{namespace="good",track="canary"}[1m]))' |
    py 'import json,sys
r = json.load(sys.stdin)["data"]["result"]
sys.exit(0 if r and float(r[0]["value"][1]) > 0 else 1)'
}
wait_until 30 "the canary pods to serve traffic" has_rate
# P99 is compared on the samples of the last 2 simulated minutes (2 real
# seconds): wait until the pods have served that long.
has_history() {
  local now
  now=$(date +%s.%N)
  curl -fsS "$URL/api/v1/query_range" \
    --data-urlencode 'query=sum(rate(http_requests_total{namespace="good",track="canary"}[30s]))' \
    --data-urlencode "start=$(py 'import sys; print(float(sys.argv[1]) - 2.5)' "$now")" \
    --data-urlencode "end=$now" --data-urlencode "step=0.1" |
    py 'import json,sys
r = json.load(sys.stdin)["data"]["result"]
sys.exit(0 if r and len(r[0]["values"]) >= 25 and float(r[0]["values"][0][1]) > 0 else 1)'
}
wait_until 30 "2.5 s of canary history" has_history

# ---------------------------------------------------------------------
say "A. a bad canary (3% errors, 20% slower): failed, with the reasons"
sm bad run "$rb" -p namespace=bad --time-scale 60
expect_rc 0 bad "the analysis ran (the runbook decides the reaction)"
BAD=$(newest_run)
eq "$(result_field bad verdict)" failed "verdict"
has "$T/bad.out" "critical metric 'error_rate' failed: 2 failed measurements, more than failure_limit 1" \
  "the reason names the deciding metric and the rule"
eq "$(result_field bad rounds)" 2 "decided at the 2nd measurement (failure_limit 1)"
eq "$(result_field bad outcomes.error_rate)" "failed,failed" "both error-rate measurements failed"
result_field bad failed_reason >"$T/bad_reason.txt"
has "$T/bad_reason.txt" "> max 0.01" "the measurement explains: value over the 1% bound"
has "$T/bad_reason.txt" "= baseline 0.00" "... and over the limit relative to production"
result_field bad failed_query >"$T/bad_query.txt"
has "$T/bad_query.txt" 'track="canary",code=~"5.."' "the measurement shows the rendered query"
eq "$(result_field bad p99)" failed "P99 (Mann-Whitney, 10% band) failed too"
eq "$(result_field bad cpu)" stopped "the dry-run metric was still running when the analysis ended"
eq "$(entry_field "$BAD" 2 name)" "canary web bad" "the analysis is one step"
eq "$(entry_field "$BAD" 2/2 name)" "measurement 1 of 5" "each measurement is a step of it"
eq "$(entry_field "$BAD" 2/2/2 kind)" metrics "the measurement's queries are metrics entries"
eq "$(entry_field "$BAD" 3 name)" react "the runbook reacts after the verdict"

"$SUMMIT" audit export --run "$BAD" >"$T/audit.jsonl" 2>"$T/audit.err"
py 'import json,sys
recs = [json.loads(l) for l in open(sys.argv[1])]
verdicts = [r for r in recs if r["action"] == "canary.verdict"]
assert len(verdicts) == 1, "one verdict record, got %d" % len(verdicts)
v = verdicts[0]["detail"]
assert v["verdict"] == "failed", v["verdict"]
assert len(v["measurements"]) == 8, len(v["measurements"])
rounds = [r for r in recs if r["action"] == "canary.measurement"]
assert len(rounds) == 2, "one record per measurement round, got %d" % len(rounds)
p99 = [m for m in rounds[0]["detail"]["measurements"] if m["metric"] == "p99"][0]
assert p99["outcome"] == "failed", p99["outcome"]
assert "canary is higher than baseline" in p99["reason"], p99["reason"]
st = p99["checks"][0]["stats"]
assert st["lower"] > st["band"][1] > 0, st
assert st["p"] < 0.02 and st["n_canary"] >= 10 and st["n_baseline"] >= 10, st
assert len(p99["values"]) == st["n_canary"] and len(p99["baseline_values"]) == st["n_baseline"]
for m in v["measurements"]:
    for k in ("metric", "query", "condition", "outcome", "at", "reason"):
        assert k in m, "measurement without %s: %r" % (k, m)
' "$T/audit.jsonl" || die "the audit trail does not hold the verdict and the measurements"
ok "the audit trail holds the verdict, one record per round, and the P99 statistics"

# ---------------------------------------------------------------------
say "B. a good canary: successful after 5 rounds"
sm good run "$rb" -p namespace=good --time-scale 60
expect_rc 0 good "the analysis ran"
eq "$(result_field good verdict)" successful "verdict"
eq "$(result_field good rounds)" 5 "all 5 rounds measured"
eq "$(result_field good n)" 20 "4 metrics x 5 rounds of measurements"
eq "$(result_field good outcomes.p99)" "successful,successful,successful,successful,successful" \
  "P99 within 10% of production in every round"
eq "$(result_field good cpu)" successful "the dry-run metric has its own verdict"
has "$T/good.out" "every metric successful (error_rate, p99, success_rate)" \
  "the reason lists the deciding metrics (not the dry-run one)"

# ---------------------------------------------------------------------
say "C. SIGKILL after 3 of 5 measurements; the resume takes only the 2 missing"
bg_run kill run "$rb" -p namespace=good -p shape=errors -p interval=3m --time-scale 60 --json
pid=$BG_PID
RUN=$NEW_RUN
# Keys: 2 the analysis, 2/1 the initial delay, 2/2 measurement 1, 2/3 a
# sleep, 2/4 measurement 2, 2/5, 2/6 measurement 3, 2/7 the sleep after it.
wait_until 60 "the 3rd measurement" journal_has "$RUN" 2/6 completed
wait_until 10 "the sleep after it" journal_has "$RUN" 2/7 started
kill -9 "$pid"
bg_wait "$pid"
eq "$RC" 137 "summit was SIGKILLed"
eq "$(entry_field "$RUN" 2/6 name)" "measurement 3 of 5" "key 2/6 is the 3rd measurement"
eq "$(entry_field "$RUN" 2/7 state)" started "killed in the sleep after it"
eq "$(entry_field "$RUN" 2/8 state)" "<no entry>" "the 4th measurement had not begun"
before=$(queries)

sm resume resume "$RUN" --json --time-scale 60
expect_rc 0 resume "the resume finishes the analysis"
after=$(queries)
eq "$((after - before))" 2 "the sim answered exactly 2 more queries"
py 'import json,sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
replayed = [(e["key"], e["name"]) for e in events if e["event"] == "step.replayed"]
for i in (1, 2, 3):
    assert ("2/%d" % (2 * i), "measurement %d of 5" % i) in replayed, replayed
' "$T/resume.out" || die "measurements 1-3 should be replayed (step.replayed)"
ok "measurements 1, 2 and 3 replayed (step.replayed 2/2, 2/4, 2/6)"
py 'import json,sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
names = [e["name"] for e in events if e["event"] == "step.started"]
assert "measurement 4 of 5" in names and "measurement 5 of 5" in names, names
for i in (1, 2, 3):
    assert "measurement %d of 5" % i not in names, names
' "$T/resume.out" || die "the resume should start only measurements 4 and 5"
ok "the resume started only measurements 4 and 5"
"$SUMMIT" log "$RUN" --json >"$T/log_after.jsonl"
py 'import json,sys
rows = [json.loads(l) for l in open(sys.argv[1])]
q = {}
for r in rows:
    if r["kind"] == "metrics":
        q.setdefault(r["key"], []).append((r["state"], r["attempt"]))
keys = sorted(q)
assert keys == ["2/10/2", "2/2/2", "2/4/2", "2/6/2", "2/8/2"], keys
for k, states in q.items():
    assert states == [("started", 1), ("completed", 1)], (k, states)
' "$T/log_after.jsonl" || die "the journal should hold 5 queries, each asked once"
ok "the journal holds 5 queries (one per measurement), each asked once"
expect_status "$RUN" succeeded "the resumed run"
eq "$(entry_field "$RUN" 2/10 name)" "measurement 5 of 5" "the 5th measurement is 2/10"
"$SUMMIT" audit export --run "$RUN" >"$T/audit2.jsonl"
eq "$(grep -c '"action":"canary.measurement"' "$T/audit2.jsonl")" 5 \
  "5 measurement records in the audit trail (none twice)"
eq "$(grep -c '"action":"canary.verdict"' "$T/audit2.jsonl")" 1 "one verdict record"

stop_sim sim
