#!/usr/bin/env bash
# summit serve, the read-only slice (docs/serve.md): tokens (stored hashed,
# expiry, revocation), every route's shape against the CLI's --json,
# pagination, Server-Sent Events with Last-Event-ID resume, 401s, hostile
# input, and SIGTERM while a client streams. Real processes, curl as the
# client. Runs on PostgreSQL too (SUMMIT_TEST_STORE=postgresql).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

WD=$T/wd
mkdir -p "$WD/pids"

# start_serve: summit serve on an ephemeral port; sets SERVE_PID and URL.
start_serve() {
  bg_start serve serve --listen 127.0.0.1:0
  SERVE_PID=$BG_PID
  echo "$SERVE_PID" >"$T/pids/serve"
  wait_until 30 "summit serve to listen" grep -q "listening on" "$T/serve.err"
  URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$T/serve.err")
}

# get NAME PATH [CURL ARGS...]: GET with the viewer token; body -> $T/NAME,
# status -> $CODE.
get() {
  local name=$1 path=$2
  shift 2
  CODE=$(curl -s -o "$T/$name" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$@" "$URL$path")
}

say "tokens: created once, stored hashed"
sm tok_bad token create x --role admin
expect_rc 2 tok_bad "an unknown role"
has "$T/tok_bad.err" "viewer or operator" "the error names the roles"
sm tokd token create --user alice --roles viewer,operator --expires 1d
expect_rc 0 tokd "token create --user --roles (DESIGN §12's form)"
sm tokdl token list --json
py 'import json,sys
rows = [json.loads(l) for l in open(sys.argv[1])]
a = [r for r in rows if r["user"] == "alice"][0]
assert a["roles"] == ["viewer", "operator"] and a["name"] == "alice", a' "$T/tokdl.out" ||
  die "token list --json: $(cat "$T/tokdl.out")"
ok "list shows alice's user and roles"
sm tokd2 token create --user bob --roles "operator,,viewer"
expect_rc 2 tokd2 "an empty role in --roles"
sm tokd3 token create --user bob --role viewer --roles operator
expect_rc 2 tokd3 "--role and --roles together"
sm tokd4 token create bob --user carol
expect_rc 2 tokd4 "two names"
sm tok token create ci --role viewer
expect_rc 0 tok "token create"
TOKEN=$(<"$T/tok.out")
[[ $TOKEN =~ ^summit_[0-9a-f]{64}$ ]] || die "token looks like '$TOKEN'"
ok "a 256-bit token is printed"
sm tok2 token create ci --role operator
expect_rc 1 tok2 "a taken name"
sm tok_op token create ops --role operator --expires 30d
OPTOKEN=$(<"$T/tok_op.out")
sm tok_short token create short --role viewer --expires 1s
SHORT=$(<"$T/tok_short.out")
sm tok_rev token create gone --role viewer
REVOKED=$(<"$T/tok_rev.out")
sm revoke token revoke gone
expect_rc 0 revoke "token revoke"
sm revoke2 token revoke gone
expect_rc 2 revoke2 "revoking twice"
sm list token list --json
expect_rc 0 list "token list"
eq "$(jq -r 'select(.name=="gone") | .state' "$T/list.out")" revoked "the revoked one is listed so"
eq "$(jq -r 'select(.name=="ops") | .role' "$T/list.out")" operator "roles are kept"
hasnt "$T/list.out" "$TOKEN" "token list shows no token"
if [[ ${SUMMIT_TEST_STORE:-} != postgresql ]]; then
  dump=$(py 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
print("\n".join("|".join(map(str, r)) for r in c.execute("SELECT * FROM tokens")))' "$SUMMIT_STATE_DIR/state.db")
else
  dump=$(pg_sql "SELECT * FROM tokens")
fi
[[ $dump == *"$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)"* ]] || die "the token's SHA-256 is not stored: $dump"
for t in "$TOKEN" "$OPTOKEN" "$REVOKED" "${TOKEN#summit_}"; do
  [[ $dump != *"$t"* ]] || die "the tokens table holds a token in plain text"
done
ok "the table holds hashes, no token"

say "runs to serve"
sm r1 run "$RUNBOOKS/params.lua" -p n=1 -p label=one --json
sm r2 run "$RUNBOOKS/params.lua" -p n=2 -p label="<script>alert(1)</script>" --json
sm r3 run "$RUNBOOKS/params.lua" -p n=3 -p label=three --json
"$SUMMIT" runs --json >"$T/runs.jsonl"
eq "$(wc -l <"$T/runs.jsonl")" 3 "three runs"

start_serve

say "no auth for /healthz and /metrics; a 401 for /api without a valid token"
eq "$(curl -s "$URL/healthz")" ok "/healthz"
for tok in "" "Bearer" "Bearer nope" "Bearer $REVOKED" "Basic $TOKEN" "Bearer ${TOKEN}x"; do
  CODE=$(curl -s -o "$T/e401" -w '%{http_code}' ${tok:+-H "Authorization: $tok"} "$URL/api/v1/runs")
  eq "$CODE" 401 "401 for '${tok:0:14}...'"
  eq "$(jq -r .error.code "$T/e401")" EAUTH "with a JSON error body"
done
sleep 1.2   # the 1 s token expires
CODE=$(curl -s -o "$T/e401" -w '%{http_code}' -H "Authorization: Bearer $SHORT" "$URL/api/v1/runs")
eq "$CODE" 401 "an expired token"
has "$T/e401" "expired" "says it expired"
curl -s -D "$T/h401" -o /dev/null "$URL/api/v1/runs"
has "$T/h401" "WWW-Authenticate: Bearer" "401 names the scheme"

say "GET /api/v1/runs is summit runs --json"
get runs /api/v1/runs -D "$T/runs.h"
eq "$CODE" 200 "runs"
has "$T/runs.h" "X-Content-Type-Options: nosniff" "nosniff"
has "$T/runs.h" "Cache-Control: no-store" "no-store"
has "$T/runs.h" "Content-Type: application/json" "JSON"
eq "$(jq -cS '.runs[]' "$T/runs")" "$(jq -cS . "$T/runs.jsonl")" "the same objects, newest first"
eq "$(jq -r .next "$T/runs")" null "one page"
hasnt "$T/runs" "<script>" "a hostile param comes back escaped"

say "pagination and filters"
get p1 "/api/v1/runs?limit=2"
eq "$(jq '.runs|length' "$T/p1")" 2 "limit=2"
NEXT=$(jq -r .next "$T/p1")
eq "$NEXT" "$(jq -r .run "$T/runs.jsonl" | sed -n 2p)" "next is the page's last run"
get p2 "/api/v1/runs?limit=2&before=$NEXT"
eq "$(jq -r '.runs[].run' "$T/p2")" "$(jq -r .run "$T/runs.jsonl" | sed -n 3p)" "the next page: the rest"
eq "$(jq -r .next "$T/p2")" null "and no further page"
get p3 "/api/v1/runs?limit=2&before=$NEXT&status=running"
eq "$CODE" 200 "a cursor is a position: its run need not match the filter"
eq "$(jq '.runs|length' "$T/p3")" 0 "(no running run after it)"
get f1 "/api/v1/runs?status=succeeded&runbook=params"
eq "$(jq '.runs|length' "$T/f1")" 3 "status and runbook filters"
get f2 "/api/v1/runs?runbook=nope"
eq "$(jq '.runs|length' "$T/f2")" 0 "an unknown runbook: none"
for q in "limit=0" "limit=x" "limit=501" "bogus=1" "status=%ZZ" "before=nosuchrun"; do
  get bad "/api/v1/runs?$q"
  eq "$CODE" 400 "400 for ?$q"
  eq "$(jq -r .error.code "$T/bad")" EINPUT "EINPUT for ?$q"
done

say "GET /api/v1/runs/ID is summit status --json"
ID2=$(jq -r .run "$T/runs.jsonl" | sed -n 2p)
get run "/api/v1/runs/$ID2"
eq "$CODE" 200 "a run"
"$SUMMIT" status "$ID2" --json >"$T/status.json"
eq "$(jq -cS . "$T/run")" "$(jq -cS . "$T/status.json")" "the same object"
hasnt "$T/run" "<script>" "hostile text stays escaped"
eq "$(jq -r .params.label "$T/run")" "<script>alert(1)</script>" "and decodes to what was given"

say "hostile ids and paths"
get h1 "/api/v1/runs/%3Cscript%3Ex%22%5C"
eq "$CODE" 404 "an unknown run id"
hasnt "$T/h1" "<script>" "its id escaped"
eq "$(jq -r .error.message "$T/h1")" 'no run <script>x"\' "and intact"
get h2 "/api/v1/nope"
eq "$CODE" 404 "an unknown API path"
eq "$(jq -r .error.code "$T/h2")" ENOTFOUND "a JSON 404"
CODE=$(curl -s -o "$T/h3" -w '%{http_code}' "$URL/<script>")
eq "$CODE" 404 "an unknown page"
hasnt "$T/h3" "<script>" "escaped"
head -c 9000000 /dev/zero >"$T/big"
CODE=$(curl -s -D "$T/big.h" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" --data-binary @"$T/big" "$URL/api/v1/runs")
eq "$CODE" 413 "a huge body"
has "$T/big.h" "X-Content-Type-Options: nosniff" "the HTTP layer's own answers are nosniff too"
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H "X-Big: $(head -c 90000 /dev/zero | tr '\0' a)" "$URL/api/v1/runs")
eq "$CODE" 431 "huge headers"
exec 3<>"/dev/tcp/127.0.0.1/${URL##*:}"
printf 'NOT HTTP AT ALL\r\n\r\n' >&3
read -r line <&3 || true
exec 3<&- 3>&-
[[ $line == "HTTP/1.1 400"* ]] || die "a malformed request: got '$line'"
ok "a malformed request gets 400"
CODE=$(curl -s -o "$T/m" -w '%{http_code}' -X DELETE -H "Authorization: Bearer $OPTOKEN" "$URL/api/v1/runs/$ID2")
eq "$CODE" 405 "a write is refused (read-only slice)"

say "GET /api/v1/audit/verify and /metrics"
get verify /api/v1/audit/verify
"$SUMMIT" audit verify --json >"$T/verify.json"
eq "$(jq -cS 'del(.intact)' "$T/verify")" "$(jq -cS . "$T/verify.json")" "verify is audit verify --json"
eq "$(jq -r .intact "$T/verify")" true "and says intact"
curl -s -D "$T/metrics.h" -o "$T/metrics" "$URL/metrics"
has "$T/metrics.h" "text/plain; version=0.0.4" "the exposition content type"
has "$T/metrics" 'summit_runs{status="succeeded"} 3' "runs by status"
has "$T/metrics" "summit_audit_head_seq $(jq -r .head_seq "$T/verify.json")" "the audit head"
has "$T/metrics" "summit_gates_waiting 0" "open gates"
if command -v promtool >/dev/null; then
  promtool check metrics <"$T/metrics" >"$T/promtool.out" 2>&1 || { cat "$T/promtool.out"; die "promtool rejects /metrics"; }
  ok "promtool check metrics passes"
fi

say "SSE: a run started while a client listens; resume with Last-Event-ID"
bg_run slow run "$RUNBOOKS/slow.lua" -p dir="$WD"
RUN_PID=$BG_PID
SID=$NEW_RUN
curl -sN -H "Authorization: Bearer $TOKEN" "$URL/api/v1/runs/$SID/events" >"$T/ev1" &
CURL1=$!
echo $CURL1 >"$T/pids/curl1"
wait_until 30 "the slow step's exec to start" test -s "$WD/pids/slow"
wait_until 30 "the client to see the slow exec start" grep -q '"key":"2/1","state":"started"' "$T/ev1"
kill "$CURL1"
wait "$CURL1" 2>/dev/null || true
has "$T/ev1" "retry: 1000" "a retry hint"
LAST=$(sed -n 's/^id: //p' "$T/ev1" | tail -1)
kill "$(cat "$WD/pids/slow")"   # the slow step fails; the run ends
bg_wait "$RUN_PID"
curl -sN --max-time 30 -H "Authorization: Bearer $TOKEN" -H "Last-Event-ID: $LAST" "$URL/api/v1/runs/$SID/events" >"$T/ev2"
has "$T/ev2" "event: end" "the stream ends with the run"
has "$T/ev2" '"status":"failed"' "naming its status"
cat "$T/ev1" "$T/ev2" | sed -n 's/^id: //p' >"$T/ids"
eq "$(sort -n "$T/ids" | uniq -d)" "" "no event twice"
eq "$(sort -n -c "$T/ids" && echo sorted)" sorted "ids increase"
cat "$T/ev1" "$T/ev2" | sed -n 's/^data: //p' | jq -c 'select(.key) | [.key,.state]' >"$T/seen"
"$SUMMIT" log "$SID" --json | jq -c '[.key,.state]' >"$T/want"
eq "$(cat "$T/seen")" "$(cat "$T/want")" "every journal row once, in order: no gap"
get full "/api/v1/runs/$SID/events" --max-time 30 -N
eq "$(sed -n 's/^data: //p' "$T/full" | jq -c 'select(.key) | [.key,.state]')" "$(cat "$T/want")" "from the start without Last-Event-ID"
get ev404 "/api/v1/runs/nosuch/events"
eq "$CODE" 404 "events of an unknown run"
get evbad "/api/v1/runs/$SID/events" -H "Last-Event-ID: x<y"
eq "$CODE" 400 "a malformed Last-Event-ID"

# http_on_fd4 PATH: a keep-alive GET on the raw connection of fd 4; the
# status line -> $STATUS_LINE (the body is read and dropped).
http_on_fd4() {
  printf 'GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n' "$1" "$TOKEN" >&4
  local line len=0
  IFS= read -r -t 10 STATUS_LINE <&4
  while IFS= read -r -t 10 line <&4 && [[ $line != $'\r' ]]; do
    [[ $line =~ ^Content-Length:\ ([0-9]+) ]] && len=${BASH_REMATCH[1]}
  done
  ((len == 0)) || read -r -t 10 -N "$len" line <&4
}

say "SIGTERM while a client streams: the stream ends, summit serve exits 0"
exec 4<>"/dev/tcp/127.0.0.1/${URL##*:}"
http_on_fd4 /healthz
[[ $STATUS_LINE == "HTTP/1.1 200"* ]] || die "keep-alive request: '$STATUS_LINE'"
rm -f "$WD/pids/slow"
bg_run slow2 run "$RUNBOOKS/slow.lua" -p dir="$WD"
RUN2=$BG_PID
SID2=$NEW_RUN
curl -sN -H "Authorization: Bearer $TOKEN" "$URL/api/v1/runs/$SID2/events" >"$T/ev3" &
CURL3=$!
echo $CURL3 >"$T/pids/curl3"
wait_until 30 "the client to follow" grep -q '^id: ' "$T/ev3"
kill -TERM "$SERVE_PID"
wait_until 30 "the stream to end" sh -c "! kill -0 $CURL3 2>/dev/null"
has "$T/ev3" "event: shutdown" "the client is told"
CRC=0
curl -s -o /dev/null "$URL/healthz" || CRC=$?
eq "$CRC" 7 "after the signal new connections are refused"
http_on_fd4 /api/v1/runs
[[ $STATUS_LINE == "HTTP/1.1 503"* ]] || die "a request on an open connection after the signal: '$STATUS_LINE'"
ok "a request on an open connection gets 503"
exec 4<&- 4>&-
bg_wait "$SERVE_PID"
expect_rc 0 serve "summit serve after SIGTERM"
touch "$WD/release"
kill "$(cat "$WD/pids/slow")" 2>/dev/null || true
bg_wait "$RUN2"
ok "the run was not the server's: it went on without it"

say "a non-loopback address needs --plain-http"
sm open serve --listen 0.0.0.0:0
expect_rc 2 open "--listen 0.0.0.0 without --plain-http"
has "$T/open.err" "--plain-http" "the error says what to do"
sm tls serve --tls-cert x
expect_rc 2 tls "--tls-cert (no TLS yet)"

echo
echo "PASS: test_serve ($N_CHECKS checks)"
