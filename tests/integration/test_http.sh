#!/usr/bin/env bash
# Issue 3 / http against a real local server (tests/integration/http_server.py).
#
#  1. 100 parallel branches each GET /count?delay=2, with summit.lua's
#     http.max_per_host = 0 (no cap): one run, status
#     succeeded, the server saw 100 hits with (nearly) all 100 in flight at
#     once, every branch got a distinct count, the journal holds 100
#     completed http entries, and summit had one thread the whole time.
#  2. /hang with timeout = "500ms" in a step with retries = 2: ETIMEDOUT
#     after 3 attempts (journal: attempts 1, 2, 3 of the step, all failed),
#     the server was asked 3 times, run failed, exit 1, well before 60 s.
#  3. /flaky (500, 500, 200) with check = true and retries = 3, backoff
#     initial 100ms: the run succeeds; the journal shows attempts 1 and 2
#     failed with EHTTP and attempt 3 completed; the retry delays follow
#     the backoff. Without check a 500 is a result, not an error.
#  4. Size cap: /big (5 MiB, length announced) with max_response = 1 MiB
#     -> ETOOLARGE, but fine with a cap of 8 MiB; /slow-big (chunked, no
#     length, 8 MiB over ~6 s) with a 1 MiB cap -> ETOOLARGE long before
#     the body ends.
#  5. /badjson: EBADJSON with a clear message, the step fails, exit 1,
#     status failed, resumable; after the route is fixed, `summit resume`
#     succeeds without re-running the step before it.
#  6. Redaction: a token from summit.lua (env.vars, read from $API_TOKEN)
#     sent as Authorization, X-Api-Key and ?access_token=, and a password
#     in URL userinfo, never appear in state.db / -wal / -shm (also copied
#     mid-run), the logs directory, the --json output, stderr, status or
#     log output; but the server did receive them.
#  7. A step timeout around a 60 s request aborts it (ETIMEDOUT); `summit
#     cancel` of a run waiting on a request aborts the transfer: exit 4
#     within 5 s, the request's entry failed with ECANCELED.
#  8. TLS against an HTTPS server with the self-signed pair in tls/:
#     verification fails by default (ETLS); insecure = true, ca_file and
#     ca (PEM) make it pass. A 302 is a result unless follow_redirects.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v python3 >/dev/null || die "python3 is needed for the test HTTP server (make deps)"
command -v curl >/dev/null || die "curl is needed to read the test server's counters (make deps)"

# start_server: start_http_server (lib.sh), and it answers.
start_server() {
  start_http_server
  curl -fsS "$URL/ok" >/dev/null || die "the test HTTP server does not answer on $URL"
}

# error_code RUN: the code of the run's error.
error_code() {
  run_field "$1" error | py 'import json,sys
t = sys.stdin.read().strip()
print(json.loads(t).get("code", "") if t else "")'
}

start_server
W=$T/wd
cd "$W"

# ---------------------------------------------------------------------
say "1. 100 concurrent requests from parallel branches, on one thread"
cat >"$W/par.lua" <<'EOF'
return runbook {
  name = "http-parallel",
  params = { url = { type = "string", required = true } },
  run = function(p)
    local branches = {}
    for i = 1, 100 do
      branches[i] = function()
        return http.get(p.url .. "/count?delay=2").json.count
      end
    end
    local counts = parallel(branches)
    local seen, distinct, sum = {}, 0, 0
    for i = 1, 100 do
      local c = counts[i]
      if c and not seen[c] then seen[c], distinct = true, distinct + 1 end
      sum = sum + (c or 0)
    end
    log.info("results=%d distinct=%d sum=%d", #counts, distinct, sum)
  end,
}
EOF
# Connections per host are capped (6 by default, docs/api.md); this case
# lifts the cap to see all 100 requests in flight at once.
cat >"$W/uncapped.lua" <<'EOF'
return { http = { max_per_host = 0 } }
EOF
prev=$(newest_run)
bg_start par run "$W/par.lua" --config "$W/uncapped.lua" -p url="$URL" --json
par_pid=$BG_PID
max_threads=0
samples=0
while [[ ! -e $T/par.rc ]] && [[ -r /proc/$par_pid/status ]]; do
  th=$(awk '/^Threads:/ {print $2}' "/proc/$par_pid/status" 2>/dev/null || true)
  if [[ -n $th ]]; then
    samples=$((samples + 1))
    ((th > max_threads)) && max_threads=$th
  fi
  sleep 0.1
done
bg_wait "$par_pid"
expect_rc 0 par "summit run of 100 parallel GETs"
wait_new_run "$prev"
run_par=$NEW_RUN
expect_status "$run_par" succeeded "the parallel run"
eq "$(srv_stat 'd["hits"].get("/count", 0)')" 100 "the server saw 100 hits on /count"
maxin=$(srv_stat 'd["max_inflight"]')
((maxin >= 90)) || die "the requests did not overlap: at most $maxin were in flight at once on the server (want >= 90 of 100)"
ok "the requests ran concurrently: $maxin in flight at once on the server"
has "$T/par.out" "results=100 distinct=100 sum=5050" "every branch got its own answer (counts 1..100)"
n_http=$("$SUMMIT" log "$run_par" --json | py 'import json,sys
print(len({r["key"] for r in map(json.loads, sys.stdin) if r["kind"] == "http" and r["state"] == "completed"}))')
eq "$n_http" 100 "the journal holds 100 completed http entries with distinct keys"
((samples >= 3)) || die "could not sample /proc/$par_pid/status while the run was going ($samples samples)"
eq "$max_threads" 1 "summit ran on one thread ($samples samples of /proc/PID/status)"

# ---------------------------------------------------------------------
say "2. a hanging server: the timeout fires, the step retries, then fails with ETIMEDOUT"
cat >"$W/hang.lua" <<'EOF'
return runbook {
  name = "http-hang",
  params = { url = { type = "string", required = true } },
  run = function(p)
    step{ "call hang", retries = 2, backoff = { initial = "100ms" }, function()
      return http.get(p.url .. "/hang", { timeout = "500ms" }).status
    end }
  end,
}
EOF
t0=$SECONDS
sm hang run "$W/hang.lua" -p url="$URL" --json
elapsed=$((SECONDS - t0))
expect_rc 1 hang "a run whose step times out on every attempt"
run_hang=$(newest_run)
expect_status "$run_hang" failed "the timed-out run"
eq "$(error_code "$run_hang")" ETIMEDOUT "the run's error code"
eq "$(attempts "$run_hang" 1 started)" "1,2,3" "the journal shows attempts 1, 2, 3 of the step started"
eq "$(attempts "$run_hang" 1 failed)" "1,2,3" "and all three failed"
n_failed=$(grep -c '"event":"step.failed".*ETIMEDOUT' "$T/hang.out" || true)
eq "$n_failed" 3 "three step.failed events with ETIMEDOUT in the --json output"
eq "$(srv_stat 'd["hits"].get("/hang", 0)')" 3 "the server was asked 3 times"
((elapsed < 30)) || die "the run took ${elapsed}s: the 500ms timeout did not cut the 60 s hang"
ok "the run ended after ${elapsed}s, not after the server's 60 s"

# ---------------------------------------------------------------------
say "3. 500 twice then 200: retries with backoff succeed; the journal shows three attempts"
cat >"$W/flaky.lua" <<'EOF'
return runbook {
  name = "http-flaky",
  params = { url = { type = "string", required = true } },
  run = function(p)
    local hit = step{ "flaky call", retries = 3, backoff = { initial = "100ms" }, function()
      return http.get(p.url .. "/flaky?id=A", { check = true }).json.hit
    end }
    local status = step("unchecked call", function()
      return http.get(p.url .. "/flaky?id=B").status
    end)
    log.info("flaky hit=%s unchecked status=%s", tostring(hit), tostring(status))
  end,
}
EOF
sm flaky run "$W/flaky.lua" -p url="$URL" --json
expect_rc 0 flaky "a run whose step fails twice with 500 then succeeds"
run_flaky=$(newest_run)
expect_status "$run_flaky" succeeded "the flaky run"
eq "$(attempts "$run_flaky" 1 started)" "1,2,3" "the journal shows attempts 1, 2, 3 of the step"
eq "$(attempts "$run_flaky" 1 failed)" "1,2" "attempts 1 and 2 failed"
eq "$(attempts "$run_flaky" 1 completed)" "3" "attempt 3 completed"
codes=$("$SUMMIT" log "$run_flaky" --json | py 'import json,sys
print(",".join((r.get("error") or {}).get("code", "?") for r in map(json.loads, sys.stdin)
               if r["key"] == "1" and r["state"] == "failed"))')
eq "$codes" "EHTTP,EHTTP" "the failed attempts are EHTTP (a 500 with check = true)"
eq "$(srv_stat 'd["flaky"].get("A", 0)')" 3 "the server was asked 3 times for id A"
has "$T/flaky.out" "flaky hit=3 unchecked status=500" "the step returned the third answer; without check a 500 is a result"
eq "$(srv_stat 'd["flaky"].get("B", 0)')" 1 "the unchecked call was made once (no retry of a result)"
delays=$(py 'import json,sys
print(",".join(str(json.loads(l)["delay_ms"]) for l in open(sys.argv[1])
               if json.loads(l)["event"] == "step.retrying"))' "$T/flaky.out")
py 'import sys
d = [int(x) for x in sys.argv[1].split(",") if x]
# initial 100 ms, doubled, jitter within +-20%
ok = len(d) == 2 and 80 <= d[0] <= 120 and 160 <= d[1] <= 240
sys.exit(0 if ok else 1)' "$delays" || die "step.retrying delays are '$delays'; want 2 delays, ~100 ms then ~200 ms (exponential, +-20% jitter)"
ok "the retry delays follow the backoff: $delays ms"
gap=$("$SUMMIT" log "$run_flaky" --json | py 'import json,sys
from datetime import datetime
rows = [json.loads(l) for l in sys.stdin]
def ms(r): return datetime.strptime(r["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() * 1000
fail1 = next(r for r in rows if r["key"] == "1" and r["state"] == "failed" and r["attempt"] == 1)
http2 = next(r for r in rows if r["kind"] == "http" and r["key"] != "1/1" and r["key"].startswith("1") and r["state"] == "started")
print(int(ms(http2) - ms(fail1)))')
((gap >= 75)) || die "the second attempt's request started ${gap} ms after the first failure; the backoff (>= 80 ms) was not waited"
ok "the second attempt waited out its backoff (${gap} ms after the first failure)"

# ---------------------------------------------------------------------
say "4. response size cap: a big body and a slow body beyond it"
cat >"$W/big.lua" <<'EOF'
return runbook {
  name = "http-big",
  params = { url = { type = "string", required = true } },
  run = function(p)
    local function try(what, path, cap)
      local ok, r = pcall(http.get, p.url .. path, { max_response = cap, timeout = "30s" })
      if ok then
        log.info("%s: ok %d bytes", what, #r.body)
      else
        log.info("%s: %s", what, tostring(r))
      end
    end
    step("big capped", function() try("big capped", "/big", 1048576) end)
    step("big allowed", function() try("big allowed", "/big", 8 * 1048576) end)
    step("slow big", function()
      local t0 = now()
      try("slow big", "/slow-big", 1048576)
      log.info("slow big took %d ms", math.floor((now() - t0) * 1000))
    end)
  end,
}
EOF
sm big run "$W/big.lua" -p url="$URL" --json
expect_rc 0 big "the size-cap runbook (errors caught with pcall)"
has "$T/big.out" "big capped: ETOOLARGE" "5 MiB with max_response = 1 MiB fails with ETOOLARGE"
has "$T/big.out" "big allowed: ok 5242880 bytes" "the same body under an 8 MiB cap arrives whole"
has "$T/big.out" "slow big: ETOOLARGE" "a slow chunked body beyond the cap fails with ETOOLARGE"
slow_ms=$(sed -n 's/.*slow big took \([0-9]*\) ms.*/\1/p' "$T/big.out" | head -n 1)
[[ -n $slow_ms ]] || die "no 'slow big took' line in the output"
((slow_ms < 5000)) || die "the slow body was cut after ${slow_ms} ms; the server needs ~6.4 s to send it all, the cap should stop it after ~1 MiB (~0.8 s)"
ok "the slow transfer was aborted at the cap after ${slow_ms} ms, not read to its end"
run_big=$(newest_run)
big_err=$("$SUMMIT" log "$run_big" --json | py 'import json,sys
print(",".join((r.get("error") or {}).get("code", "") for r in map(json.loads, sys.stdin)
               if r["kind"] == "http" and r["state"] == "failed"))')
eq "$big_err" "ETOOLARGE,ETOOLARGE" "the journal records both capped requests as failed with ETOOLARGE"

# ---------------------------------------------------------------------
say "5. malformed JSON: a clear error, the step fails, the run is resumable"
cat >"$W/badjson.lua" <<'EOF'
return runbook {
  name = "http-badjson",
  params = { url = { type = "string", required = true } },
  run = function(p)
    step("ping", function() return http.get(p.url .. "/ok").json.ok end)
    local v = step("fetch", function() return http.get(p.url .. "/badjson").json end)
    log.info("fixed=%s", tostring(v.fixed))
  end,
}
EOF
ok_hits0=$(srv_stat 'd["hits"].get("/ok", 0)')
sm bj run "$W/badjson.lua" -p url="$URL" --json
expect_rc 1 bj "a run that gets malformed JSON"
run_bj=$(newest_run)
expect_status "$run_bj" failed "the malformed-JSON run"
eq "$(error_code "$run_bj")" EBADJSON "the run's error code"
has "$T/bj.out" "not valid JSON" "the error says the body is not valid JSON"
has "$T/bj.out" "{not json" "the error shows the start of the body"
has "$T/bj.out" "/badjson" "the error names the URL"
has "$T/bj.out" "summit resume $run_bj" "the run says how to resume it"
eq "$(entry_field "$run_bj" 2 state)" failed "the fetch step is failed in the journal"
curl -fsS "$URL/control?badjson=good" >/dev/null
sm bj2 resume "$run_bj" --json
expect_rc 0 bj2 "summit resume after the server was fixed"
expect_status "$run_bj" succeeded "the resumed run"
has "$T/bj2.out" "fixed=true" "the resumed step decoded the good JSON"
eq "$(entry_field "$run_bj" 2 attempt)" 2 "the fetch step completed at attempt 2"
eq "$(($(srv_stat 'd["hits"].get("/ok", 0)') - ok_hits0))" 1 "the step before it was not re-run (one /ok hit in all)"

# ---------------------------------------------------------------------
say "6. redaction: tokens and URL passwords reach the server, never the state, logs or output"
TOKEN="tok-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
PASSWORD="pw$(od -An -tx1 -N10 /dev/urandom | tr -d ' \n')"
BASIC=$(printf 'deploy:%s' "$PASSWORD" | base64 -w0)
red=$W/red
mkdir -p "$red/sub"
cat >"$red/summit.lua" <<'EOF'
return {
  environments = {
    test = { vars = { token = os.getenv("API_TOKEN"), password = os.getenv("API_PASSWORD") } },
  },
}
EOF
cat >"$red/redact.lua" <<'EOF'
return runbook {
  name = "http-redact",
  params = {
    url = { type = "string", required = true },
    hostport = { type = "string", required = true },
    dir = { type = "string", required = true },
  },
  run = function(p)
    local auth = { Authorization = "Bearer " .. env.vars.token, ["X-Api-Key"] = env.vars.token }
    step("auth call", function()
      local r = http.get(p.url .. "/echo-auth", { headers = auth })
      log.info("auth call status %d", r.status)
      return r
    end)
    step("query token", function()
      return http.get(p.url .. "/echo-auth?env=test&access_token=" .. env.vars.token).status
    end)
    step("userinfo call", function()
      return http.get("http://deploy:" .. env.vars.password .. "@" .. p.hostport .. "/echo-auth").status
    end)
    step("userinfo error", function()
      local ok, e = pcall(http.get, "http://deploy:" .. env.vars.password .. "@127.0.0.1:1/x",
        { timeout = "5s" })
      log.info("userinfo error: %s", tostring(e))
      return { ok = ok, code = e.code, message = e.message }
    end)
    step("auth error", function()
      local ok, e = pcall(http.request, { method = "POST", url = p.url .. "/flaky?id=R",
        headers = auth, json = { deploy = "web" }, check = true })
      log.info("auth error: %s", tostring(e))
      return { ok = ok, code = e.code, message = e.message }
    end)
    step("hold", function()
      exec({ "sh", "-c", 'touch "$1"; while ! test -e "$2"; do sleep 0.05; done', "sh",
             p.dir .. "/holding", p.dir .. "/go" })
    end)
  end,
}
EOF
cd "$red/sub"   # summit.lua is found upward
export API_TOKEN=$TOKEN API_PASSWORD=$PASSWORD
bg_start red run "$red/redact.lua" --env test --json -p url="$URL" -p hostport="$HOSTPORT" -p dir="$red"
red_pid=$BG_PID
wait_until 30 "the redaction run to reach its last step" test -e "$red/holding"
mkdir -p "$T/live"
for f in state.db state.db-wal state.db-shm; do
  [[ -e $SUMMIT_STATE_DIR/$f ]] && cp "$SUMMIT_STATE_DIR/$f" "$T/live/$f"
done
[[ -e $T/live/state.db-wal ]] || echo "  (note: no state.db-wal while the run was live)"
touch "$red/go"
bg_wait "$red_pid"
unset API_TOKEN API_PASSWORD
cd "$W"
expect_rc 0 red "the redaction run"
run_red=$(newest_run)
has "$T/red.out" "auth call status 200" "the authorised call went through"
has "$T/red.out" "userinfo error: ECONNREFUSED" "the userinfo error was logged"
has "$T/red.out" "[redacted]" "the logged error shows the credentials masked"
has "$T/red.out" "auth error: EHTTP" "the failing authorised call was logged"
"$SUMMIT" status "$run_red" --json >"$T/red-status.json"
"$SUMMIT" log "$run_red" --json >"$T/red-log.jsonl"
"$SUMMIT" log "$run_red" >"$T/red-log.txt"
"$SUMMIT" runs --json >"$T/red-runs.jsonl"
files=("$T/red.out" "$T/red.err" "$T/red-status.json" "$T/red-log.jsonl" "$T/red-log.txt" "$T/red-runs.jsonl")
for f in state.db state.db-wal state.db-shm; do
  [[ -e $SUMMIT_STATE_DIR/$f ]] && files+=("$SUMMIT_STATE_DIR/$f")
  [[ -e $T/live/$f ]] && files+=("$T/live/$f")
done
[[ -d $SUMMIT_STATE_DIR/logs ]] || die "no logs directory in $SUMMIT_STATE_DIR"
while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$SUMMIT_STATE_DIR/logs" -type f -print0)
leaks=()
for f in "${files[@]}"; do
  for secret in "$TOKEN" "$PASSWORD" "$BASIC"; do
    if grep -aqF -- "$secret" "$f"; then
      leaks+=("${f#"$T"/}: $(grep -aoF -- "$secret" "$f" | wc -l) x $([[ $secret == "$TOKEN" ]] && echo token || { [[ $secret == "$PASSWORD" ]] && echo password || echo basic-auth; })")
    fi
  done
done
if ((${#leaks[@]} > 0)); then
  printf '  leaked: %s\n' "${leaks[@]}" >&2
  die "secrets found in ${#leaks[@]} place(s) (see above)"
fi
ok "neither the token, the password nor its basic-auth form is in ${#files[@]} files (db, wal, shm, live copies, logs, outputs)"
eq "$(srv_stat "\"Bearer $TOKEN\" in d[\"auth\"]")" True "the server received the bearer token"
eq "$(srv_stat "\"$TOKEN\" in d[\"api_key\"]")" True "the server received the X-Api-Key"
eq "$(srv_stat "\"Basic $BASIC\" in d[\"auth\"]")" True "the server received the URL's credentials (as basic auth)"
eq "$(srv_stat "\"env=test&access_token=$TOKEN\" in d[\"queries\"]")" True "the server received the token in the query string"

# ---------------------------------------------------------------------
say "7. a step timeout and a cancel abort an in-flight transfer"
cat >"$W/hangstep.lua" <<'EOF'
return runbook {
  name = "http-abort",
  params = {
    url = { type = "string", required = true },
    step_timeout = { type = "string", default = "" },
  },
  run = function(p)
    step{ "wait for hang", timeout = p.step_timeout ~= "" and p.step_timeout or nil, function()
      return http.get(p.url .. "/hang", { timeout = "60s" }).status
    end }
  end,
}
EOF
t0=$SECONDS
sm ab1 run "$W/hangstep.lua" -p url="$URL" -p step_timeout=400ms
elapsed=$((SECONDS - t0))
expect_rc 1 ab1 "a step timeout around a 60 s request"
run_ab1=$(newest_run)
eq "$(error_code "$run_ab1")" ETIMEDOUT "the run's error code"
((elapsed < 20)) || die "the run took ${elapsed}s: the step timeout did not abort the transfer"
ok "the transfer was aborted by the step timeout (run took ${elapsed}s)"
hang0=$(srv_stat 'd["hits"].get("/hang", 0)')
bg_run ab2 run "$W/hangstep.lua" -p url="$URL"
ab2_pid=$BG_PID
run_ab2=$NEW_RUN
hang_seen() { (($(srv_stat 'd["hits"].get("/hang", 0)') > hang0)); }
wait_until 30 "the request to reach the server" hang_seen
t0=$(now_ms)
sm ab2c cancel "$run_ab2"
expect_rc 0 ab2c "summit cancel of a run waiting on a request"
deadline=$((SECONDS + 30))
until [[ -e $T/ab2.rc ]]; do
  ((SECONDS < deadline)) || die "the cancelled run did not exit within 30 s"
  sleep 0.02
done
elapsed_ms=$(($(now_ms) - t0))
bg_wait "$ab2_pid"
eq "$RC" 4 "the cancelled run's exit code"
((elapsed_ms < 5000)) || die "the run exited ${elapsed_ms} ms after the cancel (want < 5 s)"
ok "it exited ${elapsed_ms} ms after the cancel"
expect_status "$run_ab2" cancelled "the cancelled run"
eq "$(entry_field "$run_ab2" 1/1 state)" failed "the request's journal entry is failed"
ab2_code=$("$SUMMIT" status "$run_ab2" --json | py 'import json,sys
d = json.load(sys.stdin)
print(next((e.get("error") or {}).get("code") for e in d["entries"] if e["key"] == "1/1"))')
eq "$ab2_code" ECANCELED "with ECANCELED"

# ---------------------------------------------------------------------
say "8. TLS verification is on by default; redirects are followed only when asked"
rm -f "$T/tls-port"
python3 "$HERE/http_server.py" "$T/tls-port" "$HERE/tls/cert.pem" "$HERE/tls/key.pem" >"$T/tls-server.log" 2>&1 &
TLS_PID=$!
BG_PIDS+=("$TLS_PID")
echo "$TLS_PID" >"$T/pids/https_server"
wait_until 10 "the test HTTPS server to listen" test -s "$T/tls-port"
SURL=https://127.0.0.1:$(<"$T/tls-port")
cat >"$W/tls.lua" <<'EOF'
return runbook {
  name = "http-tls-redirects",
  params = {
    url = { type = "string", required = true },
    surl = { type = "string", required = true },
    ca_file = { type = "string", required = true },
    ca_pem = { type = "string", required = true },
  },
  run = function(p)
    local function try(what, path_or_url, o)
      local ok, r = pcall(http.get, path_or_url, o)
      log.info("%s -> %s", what, ok and ("status " .. r.status) or tostring(r))
    end
    step("tls", function()
      try("tls default", p.surl .. "/ok")
      try("tls insecure", p.surl .. "/ok", { insecure = true })
      try("tls ca_file", p.surl .. "/ok", { ca_file = p.ca_file })
      try("tls ca blob", p.surl .. "/ok", { ca = p.ca_pem })
    end)
    step("redirects", function()
      try("redirect default", p.url .. "/redirect")
      try("redirect followed", p.url .. "/redirect", { follow_redirects = true })
    end)
  end,
}
EOF
sm tls run "$W/tls.lua" -p url="$URL" -p surl="$SURL" -p ca_file="$HERE/tls/cert.pem" \
  -p ca_pem="$(cat "$HERE/tls/cert.pem")" --json
expect_rc 0 tls "the TLS / redirect runbook"
has "$T/tls.out" "tls default -> ETLS" "a self-signed certificate fails verification by default (ETLS)"
has "$T/tls.out" "tls insecure -> status 200" "insecure = true skips verification"
has "$T/tls.out" "tls ca_file -> status 200" "ca_file trusts the test CA"
has "$T/tls.out" "tls ca blob -> status 200" "ca (a PEM string) trusts the test CA"
has "$T/tls.out" "redirect default -> status 302" "a redirect is a result, not followed, by default"
has "$T/tls.out" "redirect followed -> status 200" "follow_redirects = true follows it"

