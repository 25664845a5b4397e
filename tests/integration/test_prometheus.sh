#!/usr/bin/env bash
# Issue 6 / the metrics primitive against a REAL Prometheus (Debian's
# prometheus, started here on a loopback port, scraping the simulated
# cluster's /metrics every second), and against the sim's own query API.
#
#  1. The sim's /metrics is valid exposition format (promtool check
#     metrics) and Prometheus scrapes it (target up).
#  2. runbooks/metrics_shapes.lua with --env prom (Prometheus) and --env
#     sim (the sim's /api/v1/query): an instant query, a range query, the
#     canary's error rate as a rate() ratio (the scenario says 0.03), a
#     success rate, P95 from histogram_quantile (canary slower than
#     stable: latency_factor 1.3), bad PromQL -> EPROMQL bad_data, an
#     empty vector -> nil, NaN/+Inf/-Inf distinct, an escaped template
#     value that finds nothing. Prometheus and the sim agree on the values.
#  3. The journal: one entry of kind "metrics" per query, named after the
#     template; NaN is stored as Prometheus's string "NaN".
#  4. Replay: runbooks/metrics_replay.lua is SIGKILLed after 4 queries;
#     the resume returns the recorded values (a growing counter comes back
#     unchanged, NaN and -Inf intact) and Prometheus's own request counter
#     shows that only the 2 queries after the kill were asked.
#  5. The sim answers an unsupported query with 400 bad_data naming the
#     supported shapes.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
for tool in prometheus promtool; do
  command -v $tool >/dev/null 2>&1 ||
    die "$tool is missing (make deps installs Debian's prometheus package)"
done
command -v curl >/dev/null || die "curl is needed (make deps)"


# prom_value QUERY: the first sample value of an instant query ("" if none).
prom_value() {
  curl -fsS "$PROM/api/v1/query" --data-urlencode "query=$1" | py 'import json,sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")'
}

# prom_handler_count HANDLER: Prometheus's own count of API requests to
# HANDLER (from its /metrics, which is not a query).
prom_handler_count() {
  curl -fsS "$PROM/metrics" | py 'import sys
total = 0
for line in sys.stdin:
    if line.startswith("prometheus_http_requests_total{") and ("handler=\"%s\"" % sys.argv[1]) in line:
        total += float(line.rsplit(" ", 1)[1])
print(int(total))' "$1"
}


# within A B TOL WHAT: |A - B| <= TOL.
within() {
  if ! py 'import sys; a, b, t = map(float, sys.argv[1:4]); sys.exit(0 if abs(a - b) <= t else 1)' "$1" "$2" "$3"; then
    die "$4: $1 is not within $3 of $2"
  fi
  ok "$4 ($1 ~ $2)"
}

# ---------------------------------------------------------------------
say "1. the sim's /metrics, scraped by a real Prometheus"
cat >"$T/scenario.lua" <<'EOF'
return {
  seed = 3,
  namespaces = { "shop" },
  deployments = {
    { name = "web", namespace = "shop", image = "registry/web:v1", replicas = 3,
      labels = { app = "web", track = "stable" } },
    { name = "web-canary", namespace = "shop", image = "registry/web:v2", replicas = 2,
      labels = { app = "web", track = "canary" } },
    { name = "idle", namespace = "shop", image = "registry/idle:v1", replicas = 1 },
  },
  metrics = {
    requests_per_second = 300, variation = 0,
    tracks = { canary = { error_rate = 0.03, latency_factor = 1.3 } },
    images = { ["registry/idle:*"] = { requests_per_second = 0 } },
  },
}
EOF
start_sim sim --memory --scenario "$T/scenario.lua" -v
SIM=$URL

curl -fsS "$SIM/metrics" >"$T/exposition.txt"
has "$T/exposition.txt" '# TYPE http_request_duration_seconds histogram' "histogram TYPE line"
has "$T/exposition.txt" 'le="+Inf"' "cumulative buckets end at +Inf"
has "$T/exposition.txt" 'track="canary"' "series carry the pod's track"
promtool check metrics <"$T/exposition.txt" >"$T/promtool.out" 2>&1 ||
  { cat "$T/promtool.out" >&2; die "promtool check metrics rejects the sim's /metrics"; }
ok "promtool check metrics accepts the exposition"

PROM_PORT=
for _ in 1 2 3; do
  port=$(free_port)
  cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: sim
    static_configs:
      - targets: ['${SIM#http://}']
EOF
  prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" \
    --web.listen-address="127.0.0.1:$port" --log.level=warn >"$T/prometheus.log" 2>&1 &
  pid=$!
  BG_PIDS+=("$pid")
  echo "$pid" >"$T/pids/prometheus"
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; then PROM_PORT=$port; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $PROM_PORT ]] && break
  kill -9 "$pid" 2>/dev/null || true
done
[[ -n $PROM_PORT ]] || { cat "$T/prometheus.log" >&2; die "prometheus did not start"; }
PROM=http://127.0.0.1:$PROM_PORT
ok "prometheus is ready on $PROM"

# Enough samples for rate() and a 2 s range: every series scraped 4 times.
deadline=$((SECONDS + 40))
until [[ $(prom_value 'min(count_over_time(http_requests_total[1m]))') =~ ^([4-9]|[1-9][0-9]+)$ ]]; do
  ((SECONDS < deadline)) || { cat "$T/prometheus.log" >&2; die "Prometheus did not scrape the sim 4 times"; }
  sleep 0.2
done
eq "$(prom_value 'up{job="sim"}')" 1 "the sim target is up"
eq "$(prom_value 'count(http_requests_total{app="web"})')" 10 "5 web pods x 2 codes scraped"

# ---------------------------------------------------------------------
say "2. the query shapes, against Prometheus and against the sim"
cd "$T/wd"
cat >summit.lua <<'EOF'
local sel = 'app="{{app}}",track="{{track}}"'
return {
  environments = {
    prom = { metrics = { url = os.getenv("PROM_URL") } },
    sim = { metrics = { url = os.getenv("SIM_URL") } },
  },
  metrics = {
    timeout = "10s",
    queries = {
      error_rate = 'sum(rate(http_requests_total{' .. sel .. ',code=~"5.."}[30s]))'
        .. ' / sum(rate(http_requests_total{' .. sel .. '}[30s]))',
      success_rate = 'sum(rate(http_requests_total{' .. sel .. ',code!~"5.."}[30s]))'
        .. ' / sum(rate(http_requests_total{' .. sel .. '}[30s])) * 100',
      p95 = 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{'
        .. sel .. '}[30s])))',
    },
  },
}
EOF
export PROM_URL=$PROM SIM_URL=$SIM

sm shapes_prom run "$RUNBOOKS/metrics_shapes.lua" --env prom
expect_rc 0 shapes_prom "every shape against Prometheus"
PROM_RUN=$(newest_run)
sm shapes_sim run "$RUNBOOKS/metrics_shapes.lua" --env sim
expect_rc 0 shapes_sim "every shape against the sim's query API"

for side in prom sim; do
  eq "$(result_field "shapes_$side" instant)" 2 "$side: an instant query gives the 2 canary series"
  eq "$(result_field "shapes_$side" range)" 2 "$side: a range query gives a series per track"
  eq "$(result_field "shapes_$side" bad)" bad_data "$side: bad PromQL is EPROMQL with error_type bad_data"
  within "$(result_field "shapes_$side" error_rate_canary)" 0.03 0.004 "$side: the canary's error rate is the scenario's 3%"
  within "$(result_field "shapes_$side" error_rate_stable)" 0.001 0.002 "$side: the stable error rate is the default 0.1%"
  within "$(result_field "shapes_$side" success_canary)" 97 0.4 "$side: the canary's success rate in percent"
  if ! py 'import sys; c, s = map(float, sys.argv[1:3]); sys.exit(0 if 0.05 < s < c < 0.5 else 1)' \
      "$(result_field "shapes_$side" p95_canary)" "$(result_field "shapes_$side" p95_stable)"; then
    die "$side: P95 canary $(result_field "shapes_$side" p95_canary) should exceed stable $(result_field "shapes_$side" p95_stable)"
  fi
  ok "$side: histogram_quantile P95 of the canary exceeds the stable one"
done
p95p=$(result_field shapes_prom p95_canary)
p95s=$(result_field shapes_sim p95_canary)
within "$p95p" "$p95s" "$(py 'import sys; print(0.05 * float(sys.argv[1]))' "$p95s")" \
  "Prometheus and the sim agree on the canary's P95"

# ---------------------------------------------------------------------
say "3. the journal: one metrics entry per query, NaN as a string"
"$SUMMIT" status "$PROM_RUN" --json >"$T/status.json"
py 'import json,sys
d = json.load(open(sys.argv[1]))
names = [e["name"] for e in d["entries"] if e["kind"] == "metrics"]
need = ["query", "range", "error_rate", "p95", "success_rate", "value"]
missing = [n for n in need if n not in names]
assert not missing, (missing, names)
assert all(e["state"] in ("completed", "failed") for e in d["entries"])
print(len(names))' "$T/status.json" >"$T/n_entries" || die "the metrics entries are not in the journal"
ok "metrics entries named query, range, value and after their templates ($(cat "$T/n_entries") entries)"
# (no command shows a journal row's result: state_sql)
state_sql "SELECT result FROM journal WHERE run_id = ? AND kind = 'metrics' AND state = 'completed'" \
  "$PROM_RUN" >"$T/metrics_results"
state_sql "SELECT error FROM journal WHERE run_id = ? AND kind = 'metrics' AND state = 'failed'" \
  "$PROM_RUN" >"$T/metrics_errors"
py 'import sys
rows = open(sys.argv[1]).read().splitlines()
assert any("\"NaN\"" in r for r in rows), rows
assert any("\"+Inf\"" in r for r in rows) and any("\"-Inf\"" in r for r in rows)
fail = open(sys.argv[2]).read().splitlines()
assert any("bad_data" in f for f in fail), fail' "$T/metrics_results" "$T/metrics_errors" ||
  die "NaN/Inf are not stored as Prometheus's strings"
ok "the journal keeps NaN, +Inf and -Inf as Prometheus's strings, and the bad_data failure"

# ---------------------------------------------------------------------
say "4. SIGKILL after 4 queries; the resume replays them without asking again"
rm -f marker
prev=$(newest_run)
bg_start replay run "$RUNBOOKS/metrics_replay.lua" --env prom -p marker="$T/wd/marker"
RP=$BG_PID
wait_until 30 "the replay runbook to reach its sleep" test -s marker
kill -9 "$RP"
bg_wait "$RP"
eq "$RC" 137 "summit was SIGKILLed"
wait_new_run "$prev"
RUN=$NEW_RUN
seen=$(cat marker)
q0=$(prom_handler_count /api/v1/query)
r0=$(prom_handler_count /api/v1/query_range)
sleep 0.5   # the counter grows meanwhile: a fresh query would see more
sm resume resume "$RUN"
expect_rc 0 resume "the resumed run succeeds"
q1=$(prom_handler_count /api/v1/query)
r1=$(prom_handler_count /api/v1/query_range)
eq "$((q1 - q0))" 2 "only the 2 instant queries after the kill reached Prometheus"
eq "$((r1 - r0))" 0 "the range query was not asked again"
eq "$(result_field resume total)" "$seen" "the counter read before the kill is replayed unchanged"
eq "$(result_field resume nan)" true "NaN replays as NaN"
eq "$(result_field resume ninf)" true "-Inf replays as -Inf"
eq "$(result_field resume grew)" true "the query after the kill saw a larger counter"
within "$(result_field resume error_rate)" 0.03 0.004 "the template query after the kill"
"$SUMMIT" log "$RUN" --json >"$T/replay_log.json"
py 'import json,sys
rows = [json.loads(l) for l in open(sys.argv[1])]
firsts = [r for r in rows if r["kind"] == "metrics" and r["key"] in ("1", "2", "3", "4")]
assert all(r["attempt"] == 1 for r in firsts), firsts
assert sum(1 for r in firsts if r["state"] == "completed") == 4, firsts' "$T/replay_log.json" ||
  die "the first 4 metrics entries should have completed once, at attempt 1"
ok "the journal holds the first 4 queries once (attempt 1), replayed"

# ---------------------------------------------------------------------
say "5. the sim refuses what it does not evaluate, as Prometheus would"
code=$(curl -s -o "$T/unsupported.json" -w '%{http_code}' "$SIM/api/v1/query" \
  --data-urlencode 'query=topk(3, rate(http_requests_total[1m]))')
eq "$code" 400 "an unsupported query is a 400"
has "$T/unsupported.json" '"errorType":"bad_data"' "with errorType bad_data"
has "$T/unsupported.json" 'supported shapes: ' "naming the supported shapes"
code=$(curl -s -o "$T/range.json" -w '%{http_code}' -G "$SIM/api/v1/query_range" \
  --data-urlencode 'query=sum(rate(http_requests_total[10s]))' --data start=1 --data end=20000 --data step=1)
eq "$code" 400 "a range over 11,000 points is refused"
has "$T/range.json" 'exceeded maximum resolution of 11,000 points' "with Prometheus's message"

# ---------------------------------------------------------------------
say "6. summit.lua: an environment on a simulated cluster, and bad settings"
mkdir -p "$T/insim"
cd "$T/insim"
cat >summit.lua <<'EOF'
return {
  clusters = { sim = { sim = true, scenario = {
    deployments = { { name = "api", namespace = "default", image = "registry/api:v1", replicas = 2 } },
    metrics = { requests_per_second = 100 } } } },
  environments = { staging = { cluster = "sim" } },
  metrics = { queries = { pods = 'count(http_requests_total{app="{{app}}",code="200"})' } },
}
EOF
cat >insim.lua <<'EOF'
return runbook { name = "insim", run = function()
  -- no metrics.url: the environment's simulated cluster answers (once its
  -- controller has the pods serving: give a loaded machine a few seconds)
  local n
  for _ = 1, 100 do
    n = metrics.get("pods", { app = "api" })
    if n == 2 then break end
    sleep("100ms")
  end
  assert(n == 2, "expected the 2 api pods, got " .. tostring(n))
  log.info("RESULT %s", json.encode({ pods = n }))
end }
EOF
sm insim run insim.lua --env staging
expect_rc 0 insim "metrics with no url on an environment whose cluster is a sim"
eq "$(result_field insim pods)" 2 "the in-process sim counted the environment's pods"
cat >summit.lua <<'EOF'
return {
  environments = { prod = { metrics = { url = "http://127.0.0.1:1" } } },
  metrics = {
    queries = {
      error_rate = 42,
    },
    cluster = "nowhere",
  },
}
EOF
sm badcfg run insim.lua --env prod
expect_rc 2 badcfg "a bad metrics configuration stops the run before it starts"
has "$T/badcfg.err" "summit.lua:5: metrics.queries.error_rate must be a PromQL string, not a number" \
  "the template that is not a string, with its line"
has "$T/badcfg.err" "metrics.cluster names 'nowhere', which is not in clusters" "an unknown metrics.cluster"

cd "$T/wd"
stop_sim sim
