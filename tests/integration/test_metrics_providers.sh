#!/usr/bin/env bash
# Issue 18 item 4: one `metrics` interface over several providers
# (docs/metrics.md#providers), against tests/integration/metrics_providers_server.py,
# which speaks each provider's wire format and checks its credentials:
#  1. web (a JSON endpoint + JSONPath), Datadog (GET /api/v1/query with
#     DD-API-KEY / DD-APPLICATION-KEY) and CloudWatch (GetMetricData,
#     JSON 1.0, SigV4-signed: the server recomputes the signature
#     independently) give their values through metrics.get / value / query
#     / range, each template selecting its provider.
#  2. A wrong Datadog key and a wrong AWS secret are refused by the server
#     (403; InvalidSignatureException for the signature): summit raises
#     EHTTP with the provider's message, not retryable.
#  3. A web-provider metric drives summit.canary's verdict: failed when the
#     endpoint reports a 5% error rate for the canary, successful at 0.2%.
#  4. The credentials never reach the journal, the audit, the events or
#     the run's log (they are secrets of the run).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

export DD_API_KEY=dd-api-key-5f3a9c DD_APP_KEY=dd-app-key-81b2e7
export AWS_ACCESS_KEY_ID=AKIDSUMMITTEST01 AWS_SECRET_ACCESS_KEY=aws-secret-key-7c41d0e9
export AWS_SESSION_TOKEN=aws-session-token-22a8f1 AWS_REGION=eu-west-1
python3 "$HERE/metrics_providers_server.py" "$T/port" >"$T/server.log" 2>&1 &
echo $! >"$T/pids/server"
BG_PIDS+=("$!")
wait_until 10 "the provider server to listen" test -s "$T/port"
export PROVIDER_URL=http://127.0.0.1:$(<"$T/port")
URL=$PROVIDER_URL

cd "$T/wd"
cp "$RUNBOOKS/metrics_providers.lua" .
cat >summit.lua <<'EOF2'
local url = os.getenv("PROVIDER_URL")
return {
  metrics = {
    url = "http://127.0.0.1:9",   -- Prometheus, the default: nothing listens
    providers = {
      status = { type = "web", url = url, json_path = "$.data.errorRate" },
      dd = { type = "datadog", url = url, api_key = os.getenv("DD_API_KEY"),
             app_key = os.getenv("DD_APP_KEY"), interval = "5m" },
      cw = { type = "cloudwatch", region = "eu-west-1", endpoint = url,
             access_key_id = os.getenv("AWS_ACCESS_KEY_ID"),
             secret_access_key = os.getenv("AWS_SECRET_ACCESS_KEY"),
             session_token = os.getenv("AWS_SESSION_TOKEN") },
      -- wrong credentials, for case bad-credentials
      dd_bad = { type = "datadog", url = url, api_key = "dd-wrong-key-0001",
                 app_key = os.getenv("DD_APP_KEY") },
      cw_bad = { type = "cloudwatch", region = "eu-west-1", endpoint = url,
                 access_key_id = os.getenv("AWS_ACCESS_KEY_ID"),
                 secret_access_key = "aws-wrong-secret-0001",
                 session_token = os.getenv("AWS_SESSION_TOKEN") },
    },
    queries = {
      web_error_rate = { provider = "status", query = { path = "/web/{{track}}" } },
      dd_errors = { provider = "dd", query = "sum:trace.http.request.errors{service:{{service}}}" },
      cw_5xx = { provider = "cw", query = { namespace = "AWS/ApplicationELB",
        metric = "HTTPCode_Target_5XX_Count", stat = "Sum", period = 60,
        dimensions = { LoadBalancer = "{{lb}}" } } },
    },
  },
}
EOF2

say "1. each provider gives its values"
sm values run metrics_providers.lua -p case=values --json
expect_rc 0 values "the values run"
RUN=$(newest_run)
"$SUMMIT" result "$RUN" --json >"$T/values.json"
eq "$(jq_py "$T/values.json" '[d["web"], d["web_direct"]]')" "[0.001, 0.001]" "web: the JSONPath's value, from a template and a direct query"
eq "$(jq_py "$T/values.json" 'd["dd"]')" "0.25" "datadog: the last non-null point of the series"
eq "$(jq_py "$T/values.json" '[d["dd_labels"]["service"], d["dd_labels"]["env"], d["dd_points"], d["dd_none"]]')" \
  '["web", "prod", 2, true]' "datadog: tags as labels, 2 points in the range, no series is no data"
eq "$(jq_py "$T/values.json" '[d["cw"], d["cw_label"], d["cw_expr"]]')" '[7, "HTTPCode_Target_5XX_Count", 3]' \
  "cloudwatch: the newest value of the result (a metric and an expression)"
eq "$(jq_py "$T/values.json" 'd["prom_default"]')" "True" "a query with no provider still asks Prometheus"
eq "$(srv_stat 'd["rejected"]')" "[]" "the server accepted every signature and key"
eq "$(srv_stat 'sorted(set(r["headers"].get("DD-API-KEY") for r in d["requests"]["datadog"]))')" \
  "[\"$DD_API_KEY\"]" "datadog got the API key header"
srv_stat 'd["requests"]["cloudwatch"][0]' >"$T/cw-req.json"
has "$T/cw-req.json" '"X-Amz-Security-Token": "aws-session-token-22a8f1"' "cloudwatch got the session token"
has "$T/cw-req.json" 'Credential=AKIDSUMMITTEST01/' "cloudwatch: a SigV4 Authorization header"
has "$T/cw-req.json" '\"MetricName\":\"HTTPCode_Target_5XX_Count\"' "the GetMetricData body names the metric"
has "$T/cw-req.json" '\"Value\":\"app/web/1\"' "the template's dimension value was filled in"

say "2. wrong credentials: refused by the provider, raised as EHTTP"
sm bad run metrics_providers.lua -p case=bad-credentials
expect_rc 0 bad "the bad-credentials run (errors caught)"
"$SUMMIT" result "$(newest_run)" --json >"$T/bad.json"
eq "$(jq_py "$T/bad.json" '[d["dd"]["code"], d["dd"]["status"], d["dd"]["retryable"]]')" '["EHTTP", 403, false]' \
  "datadog: 403, not retryable"
has "$T/bad.json" "Datadog answered 403: Forbidden: API key [secret:metrics datadog api_key] is not valid" \
  "datadog's message, the key it echoed redacted"
eq "$(jq_py "$T/bad.json" '[d["cw"]["code"], d["cw"]["status"]]')" '["EHTTP", 403]' "cloudwatch: 403"
has "$T/bad.json" "InvalidSignatureException: The request signature we calculated does not match" \
  "the server recomputed the signature and refused it"
has "$T/bad.json" "no provider 'nope' in metrics.providers" "an unknown provider is named"
eq "$(srv_stat 'sorted(d["rejected"])')" \
  '["cloudwatch: The request signature we calculated does not match the signature you provided.", "datadog: bad keys"]' \
  "the server rejected exactly those two"

say "3. a web-provider metric drives a canary verdict"
curl -fsS "$URL/control?web.canary=0.05" >/dev/null
sm canary-bad run metrics_providers.lua -p case=canary
expect_rc 0 canary-bad "the analysis run"
"$SUMMIT" result "$(newest_run)" --json >"$T/canary-bad.json"
eq "$(jq_py "$T/canary-bad.json" 'd["verdict"]')" failed "5% errors on the canary: failed"
has "$T/canary-bad.json" "value 0.05 > max 0.01" "the reason gives the web value and the bound"
curl -fsS "$URL/control?web.canary=0.002" >/dev/null
sm canary-good run metrics_providers.lua -p case=canary
expect_rc 0 canary-good "the analysis run"
RUN_GOOD=$(newest_run)
"$SUMMIT" result "$RUN_GOOD" --json >"$T/canary-good.json"
eq "$(jq_py "$T/canary-good.json" 'd["verdict"]')" successful "0.2% errors on the canary: successful"
"$SUMMIT" audit export --run "$RUN_GOOD" >"$T/audit-good.jsonl" 2>/dev/null
has "$T/audit-good.jsonl" '"canary.verdict"' "the verdict is in the audit"

say "4. the credentials are nowhere in what summit keeps"
for r in $("$SUMMIT" runs --json | py 'import json,sys
for l in sys.stdin: print(json.loads(l)["run"])'); do
  "$SUMMIT" log "$r" --json >>"$T/kept.txt"
  "$SUMMIT" status "$r" --json >>"$T/kept.txt"
  "$SUMMIT" audit export --run "$r" >>"$T/kept.txt" 2>/dev/null
done
cat "$SUMMIT_STATE_DIR"/logs/* "$T"/*.out >>"$T/kept.txt" 2>/dev/null || true
for secret in "$DD_API_KEY" "$DD_APP_KEY" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN" \
    dd-wrong-key-0001 aws-wrong-secret-0001; do
  hasnt "$T/kept.txt" "$secret" "no trace of a credential (${secret:0:6}...)"
done

say "5. a mistake in metrics.providers stops summit run, naming it and the line"
mkdir -p "$T/badcfg" && cd "$T/badcfg"
cp "$RUNBOOKS/metrics_providers.lua" .
cat >summit.lua <<'EOF2'
return {
  metrics = {
    providers = {
      dd = { type = "datadog", api_key = "dd-api-key-000000" },
    },
  },
}
EOF2
sm badcfg run metrics_providers.lua -p case=values
expect_rc 2 badcfg "a Datadog provider without app_key"
cat "$T/badcfg.out" "$T/badcfg.err" >"$T/badcfg.all"
has "$T/badcfg.all" "summit.lua:3: metrics.providers.dd.app_key is required (type datadog)" \
  "the error names the key, the provider and the line"
