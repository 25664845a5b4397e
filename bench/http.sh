#!/usr/bin/env bash
# bench: 1,000 HTTP GETs to a loopback server through summit's `parallel`,
# against the same 1,000 made by `curl --parallel` in the same run
# (DESIGN §10: "1,000 concurrent HTTP checks ... within 1.5x").
#
#   bash bench/http.sh [BUILD_DIR]          (default: build)
#
# The server is nginx (Debian nginx-light, in `make deps`), started on an
# ephemeral loopback port with a config in a temp dir, serving one small
# JSON file: a C server fast enough that the clients, not the server, are
# what is measured. Without nginx it falls back to tests/integration/
# http_server.py and says so (a Python server is then the bottleneck and
# the ratio means little).
#
# Knobs (environment): BENCH_HTTP_N (1000 requests), BENCH_HTTP_CONC (50:
# curl --parallel-max and the number of summit branches, each making
# N/CONC sequential GETs), BENCH_HTTP_REPEAT (5; the runs of curl and of
# each summit variant are interleaved, round after round, so a burst of
# other work on the machine lands on both; the best and the range are
# reported). Every command runs under `timeout`, so the bench stops by
# itself. Prints a table; never asserts. Not run by the tests.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_setup bench/http "${1:-build}"
N=${BENCH_HTTP_N:-1000}
CONC=${BENCH_HTTP_CONC:-50}
REPEAT=${BENCH_HTTP_REPEAT:-5}
LIMIT=120   # seconds, per measured command

command -v curl >/dev/null || die "curl not found (make deps)"
((N % CONC == 0)) || die "BENCH_HTTP_N ($N) must be a multiple of BENCH_HTTP_CONC ($CONC)"
PER=$((N / CONC))

WORK=$(mktemp -d "${TMPDIR:-/tmp}/summit-bench-http.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
unset SUMMIT_LUA_DIR NO_COLOR

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- the server --------------------------------------------------------
NGINX=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)
if [ -n "$NGINX" ]; then
  SERVER="nginx ($("$NGINX" -v 2>&1 | sed 's/.*nginx\///'), 2 workers)"
  chmod 755 "$WORK"   # nginx workers may run as another user
  mkdir -p "$WORK/www" "$WORK/ngx/tmp"
  echo '{"ok":true}' >"$WORK/www/ok.json"
  chmod -R a+rX "$WORK/www"
  PORT=$(free_port)
  cat >"$WORK/ngx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
master_process on;
pid $WORK/ngx/nginx.pid;
error_log $WORK/ngx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/ngx/tmp/body;
  proxy_temp_path $WORK/ngx/tmp/proxy;
  fastcgi_temp_path $WORK/ngx/tmp/fastcgi;
  uwsgi_temp_path $WORK/ngx/tmp/uwsgi;
  scgi_temp_path $WORK/ngx/tmp/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$PORT;
    root $WORK/www;
    default_type application/json;
  }
}
EOF
  "$NGINX" -p "$WORK/ngx" -e "$WORK/ngx/error.log" -c "$WORK/ngx/nginx.conf" \
    2>"$WORK/ngx/stderr" &
  SERVER_PID=$!
  URL=http://127.0.0.1:$PORT/ok.json
else
  SERVER="python3 http_server.py (nginx not installed: the server is likely the bottleneck)"
  command -v python3 >/dev/null || die "neither nginx nor python3 found (make deps)"
  python3 "$ROOT/tests/integration/http_server.py" "$WORK/port" &
  SERVER_PID=$!
  for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
  [ -s "$WORK/port" ] || die "the python test server did not start"
  URL=http://127.0.0.1:$(cat "$WORK/port")/ok
fi
for _ in $(seq 100); do
  curl -fs -o /dev/null "$URL" && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK"/ngx/stderr "$WORK"/ngx/error.log 2>/dev/null >&2; die "the server exited"; }
  sleep 0.05
done
curl -fs -o /dev/null "$URL" || die "the server does not answer on $URL"

# ---- the clients -------------------------------------------------------
for _ in $(seq "$N"); do
  printf 'url = "%s"\noutput = "/dev/null"\n' "$URL"
done >"$WORK/curl.cfg"

cat >"$WORK/http.lua" <<'EOF'
return runbook {
  name = "bench-http",
  params = {
    url = { type = "string", required = true },
    branches = { type = "integer", required = true },
    per = { type = "integer", required = true },
  },
  run = function(p)
    local fns = {}
    for i = 1, p.branches do
      fns[i] = function()
        local n = 0
        for _ = 1, p.per do
          if http.get(p.url).status == 200 then n = n + 1 end
        end
        return n
      end
    end
    local got, total = parallel(fns), 0
    for i = 1, p.branches do total = total + got[i] end
    if total ~= p.branches * p.per then
      fail(string.format("%d of %d requests answered 200", total, p.branches * p.per))
    end
  end,
}
EOF
cat >"$WORK/noop.lua" <<'EOF'
return runbook { name = "bench-noop", run = function() end }
EOF

ms_since() { awk "BEGIN {printf \"%.1f\", (${EPOCHREALTIME/./} - $1) / 1000}"; }

# curl_once: prints the elapsed ms of one curl --parallel run of N GETs.
curl_once() {
  local t0 codes
  t0=${EPOCHREALTIME/./}
  codes=$(timeout "$LIMIT" curl --parallel --parallel-max "$CONC" -s --no-progress-meter \
    -w '%{http_code}\n' -K "$WORK/curl.cfg" 2>"$WORK/curl.err") || die "curl failed: $(cat "$WORK/curl.err")"
  local t
  t=$(ms_since "$t0")
  local ok
  ok=$(grep -c "^200$" <<<"$codes" || true)
  [ "$ok" = "$N" ] || die "curl: $ok of $N requests answered 200"
  echo "$t"
}

# summit_once BRANCHES PER [ARGS...]: elapsed ms of one summit run (a new
# state dir each time).
summit_once() {
  local branches=$1 per=$2 t0 rc=0
  shift 2
  local state
  state=$(mktemp -d "$WORK/state.XXXXXX")
  t0=${EPOCHREALTIME/./}
  SUMMIT_STATE_DIR=$state timeout "$LIMIT" "$SUMMIT" run "$WORK/http.lua" -p url="$URL" \
    -p branches="$branches" -p per="$per" "$@" >/dev/null 2>"$WORK/summit.err" || rc=$?
  local t
  t=$(ms_since "$t0")
  [ "$rc" = 0 ] || die "summit run exited $rc: $(tail -5 "$WORK/summit.err")"
  rm -rf "$state"
  echo "$t"
}

noop_once() {
  local state t0 rc=0
  state=$(mktemp -d "$WORK/state.XXXXXX")
  t0=${EPOCHREALTIME/./}
  SUMMIT_STATE_DIR=$state timeout "$LIMIT" "$SUMMIT" run "$WORK/noop.lua" >/dev/null 2>&1 || rc=$?
  local t
  t=$(ms_since "$t0")
  [ "$rc" = 0 ] || die "summit run of an empty runbook exited $rc"
  rm -rf "$state"
  echo "$t"
}

best() { sort -g | head -1; }
range() { sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.0f-%.0f", lo, hi}'; }

echo "bench/http: $N GETs of a small JSON file, loopback; server: $SERVER"
echo "  $REPEAT interleaved rounds (curl, then each summit variant); summit: $SUMMIT"
curl_once >/dev/null   # warm up the server and the page cache
: >"$WORK/t.curl"; : >"$WORK/t.full"; : >"$WORK/t.proc"; : >"$WORK/t.wide"
: >"$WORK/t.noop"
for ((i = 0; i < REPEAT; i++)); do
  curl_once >>"$WORK/t.curl"
  summit_once "$CONC" "$PER" >>"$WORK/t.full"
  summit_once "$CONC" "$PER" --durability process >>"$WORK/t.proc"
  summit_once "$N" 1 >>"$WORK/t.wide"
  noop_once >>"$WORK/t.noop"
done
CURL=$(best <"$WORK/t.curl")
S_FULL=$(best <"$WORK/t.full")

row() { # row LABEL TIMES_FILE: the best, the range, per request, vs curl's best
  awk -v l="$1" -v t="$(best <"$2")" -v r="$(range <"$2")" -v c="$CURL" -v n="$N" \
    'BEGIN {printf "  %-50s %8.1f ms %11s  %7.3f ms/req  %6.2fx\n", l, t, r, t / n, t / c}'
}
printf '  %-50s %11s %11s  %14s  %7s\n' "" "best" "range" "per request" "vs curl"
row "curl --parallel --parallel-max $CONC -K (baseline)" "$WORK/t.curl"
row "summit: parallel of $CONC branches x $PER GETs" "$WORK/t.full"
row "summit: the same, --durability process" "$WORK/t.proc"
row "summit: parallel of $N branches x 1 GET" "$WORK/t.wide"
awk -v l="summit: an empty runbook (fixed cost of a run)" -v t="$(best <"$WORK/t.noop")" \
  -v r="$(range <"$WORK/t.noop")" -v c="$CURL" \
  'BEGIN {printf "  %-50s %8.1f ms %11s  %14s  %6.2fx\n", l, t, r, "-", t / c}'
R_HTTP=$(calc "$S_FULL / $CURL")
printf 'ratio summit/curl (%s x %s, durable, best of each): %.2f (goal: within 1.5) %s\n' \
  "$CONC" "$PER" "$R_HTTP" "$(verdict "$R_HTTP <= 1.5")"

# ---- a server with a small listen backlog ----------------------------------
# `python3 -m http.server` (listen backlog 5, a thread per connection): the
# fan-out of DESIGN §10 "also against a server with a small listen backlog".
# N branches x 1 GET in summit (capped per host, docs/api.md) against
# curl --parallel with its default --parallel-max (50). Knob:
# BENCH_HTTP_BACKLOG_NS ("200 1000").
command -v python3 >/dev/null || die "python3 not found (make deps)"
mkdir -p "$WORK/pywww"
echo '{"ok":true}' >"$WORK/pywww/ok.json"
PYPORT=$(free_port)
python3 -m http.server "$PYPORT" --bind 127.0.0.1 --directory "$WORK/pywww" \
  >"$WORK/pyserver.log" 2>&1 &
PY_PID=$!
trap 'kill "$PY_PID" 2>/dev/null || true; cleanup' EXIT
PYURL=http://127.0.0.1:$PYPORT/ok.json
for _ in $(seq 200); do curl -fs -o /dev/null "$PYURL" && break; sleep 0.05; done
curl -fs -o /dev/null "$PYURL" || die "python3 -m http.server does not answer on $PYURL"
echo
echo "bench/http: against python3 -m http.server (listen backlog 5), best of $REPEAT interleaved rounds"
printf '  %-58s %12s  %12s  %7s  %s\n' "" "summit" "curl" "ratio" "goal <= 1.5x"
for n in ${BENCH_HTTP_BACKLOG_NS:-200 1000}; do
  for _ in $(seq "$n"); do
    printf 'url = "%s"\noutput = "/dev/null"\n' "$PYURL"
  done >"$WORK/curl.cfg"
  N=$n CONC=50 URL=$PYURL
  # curl itself may lose requests to this server (dropped handshakes past
  # its timeout): its time is then reported with the count that got 200.
  : >"$WORK/b.curl"; : >"$WORK/b.summit"
  for ((i = 0; i < REPEAT; i++)); do
    t0=${EPOCHREALTIME/./}
    ok=$(timeout "$LIMIT" curl --parallel -s --no-progress-meter -w '%{http_code}\n' \
      -K "$WORK/curl.cfg" 2>/dev/null | grep -c '^200$' || true)
    ms_since "$t0" >>"$WORK/b.curl"
    echo >>"$WORK/b.curl"
    summit_once "$n" 1 >>"$WORK/b.summit"
  done
  C=$(best <"$WORK/b.curl"); S=$(best <"$WORK/b.summit")
  R=$(calc "$S / $C")
  awk -v l="$n GETs: $n branches vs curl --parallel ($ok/$n ok)" -v s="$S" -v c="$C" \
    -v v="$(verdict "$R <= 1.5")" \
    'BEGIN {printf "  %-58s %9.1f ms  %9.1f ms  %6.2fx  %s\n", l, s, c, s / c, v}'
done
