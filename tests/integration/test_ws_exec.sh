#!/usr/bin/env bash
# Issue 4 / exec over Kubernetes' WebSocket exec protocol (v5.channel.k8s.io,
# v4.channel.k8s.io) against `summit sim serve`:
#
#  1. The real kubectl: `kubectl exec deploy/web -- migrate status` prints
#     the scenario's scripted stdout and exits 0; a command scripted to fail
#     prints its stderr and kubectl exits with its code (3); an unscripted
#     one exits 127.
#  2. A hand-made v4 upgrade (python, raw socket): 101 with the right
#     Sec-WebSocket-Accept and subprotocol, stdout on channel 1, the Status
#     JSON on channel 3, a close frame 1000. A request without the upgrade
#     still gets a 400 Status.
#  3. summit's own cluster client with cluster{ server = URL } (so not the
#     in-process sim path): code, stdout, stderr, EEXIT when check ~= false.
#  4. SIGTERM: the sim exits 0 (ASan: nothing leaked).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v kubectl >/dev/null || die "kubectl is needed (the real peer of this test)"

cat >"$T/scenario.json" <<'JSON'
{
  "rollout_seconds_per_pod": 1,
  "exec": [
    { "match": ["migrate", "status"], "stdout": "migrations up to date\n3 applied\n" },
    { "match": ["migrate", "up"], "stdout": "applying 0004\n",
      "stderr": "error: relation exists\n", "exit_code": 3 }
  ]
}
JSON

say "1. kubectl exec over WebSocket"
start_sim sim --state "$T/sim-state.json" --scenario "$T/scenario.json" \
  --time-scale 100 --kubeconfig "$T/kubeconfig"
k create create deployment web --image=registry/web:v1 --replicas=1
krc 0 create "kubectl create deployment"
k status rollout status deployment/web --timeout=40s
krc 0 status "rollout status"
k ex1 exec deploy/web -- migrate status
krc 0 ex1 "kubectl exec deploy/web -- migrate status"
eq "$(cat "$T/ex1.out")" "$(printf 'migrations up to date\n3 applied')" "kubectl prints the scripted stdout"
k ex2 exec deploy/web -- migrate up
krc 3 ex2 "a scripted failure: kubectl exits with the command's code"
has "$T/ex2.out" "applying 0004" "its stdout"
has "$T/ex2.err" "error: relation exists" "its stderr"
k ex3 exec deploy/web -c web -- nosuch --flag
krc 127 ex3 "an unscripted command"
has "$T/ex3.err" "nosuch: command not found" "command not found on stderr"

say "2. the protocol by hand (v4), and no upgrade"
POD=$(kubectl --kubeconfig "$T/kubeconfig" --cache-dir "$T/kcache" get pods -o name | head -1)
POD=${POD#pod/}
python3 - "$URL" "$POD" >"$T/raw.out" <<'PY'
import base64, hashlib, json, socket, sys
from urllib.parse import urlparse
u = urlparse(sys.argv[1])
s = socket.create_connection((u.hostname, u.port), timeout=10)
key = base64.b64encode(b"0123456789abcdef").decode()
s.sendall(("GET /api/v1/namespaces/default/pods/%s/exec?command=migrate&command=status"
           "&stdout=true&stderr=true HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
           "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Protocol: v4.channel.k8s.io, channel.k8s.io\r\n\r\n"
           % (sys.argv[2], key)).encode())
buf = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    buf += d
head, _, rest = buf.partition(b"\r\n\r\n")
lines = head.decode().split("\r\n")
print(lines[0])
hdr = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
print("accept", hdr.get("sec-websocket-accept") == want)
print("protocol", hdr.get("sec-websocket-protocol"))
while rest:
    b0, b1 = rest[0], rest[1]
    assert b1 & 0x80 == 0, "server frames are unmasked"
    n, i = b1 & 0x7f, 2
    if n == 126:
        n, i = int.from_bytes(rest[2:4], "big"), 4
    payload, rest = rest[i:i + n], rest[i + n:]
    if b0 & 0x0f == 2:
        print("channel", payload[0], json.dumps(payload[1:].decode()))
    elif b0 & 0x0f == 8:
        print("close", int.from_bytes(payload[:2], "big"))
PY
has "$T/raw.out" "HTTP/1.1 101 Switching Protocols" "101 Switching Protocols"
has "$T/raw.out" "accept True" "Sec-WebSocket-Accept is right"
has "$T/raw.out" "protocol v4.channel.k8s.io" "v4 chosen when v5 is not offered"
has "$T/raw.out" 'channel 1 "migrations up to date\n3 applied\n"' "stdout on channel 1"
has "$T/raw.out" 'channel 3 "{\"metadata\":{},\"status\":\"Success\"}"' "Success Status on channel 3"
has "$T/raw.out" "close 1000" "a close frame 1000"
CODE=$(curl -sS -o "$T/noup.out" -w '%{http_code}' -XPOST "$URL/api/v1/namespaces/default/pods/$POD/exec?command=ls")
eq "$CODE" 400 "exec without the upgrade: 400"

say "3. summit's cluster client over the real protocol (cluster{ server = URL })"
W=$T/wd
cat >"$W/wsexec.lua" <<'LUA'
return runbook {
  name = "ws-exec",
  params = { server = { type = "string", required = true } },
  run = function(p)
    local k = cluster{ server = p.server, namespace = "default" }
    local ok = step("status", function() return k:exec("deployment/web", { "migrate", "status" }) end)
    assert(ok.code == 0, "code " .. tostring(ok.code))
    assert(ok.stdout == "migrations up to date\n3 applied\n", "stdout: " .. ok.stdout)
    assert(ok.stderr == "", "stderr: " .. ok.stderr)
    local soft = step("up soft", function()
      return k:exec("deployment/web", { "migrate", "up" }, { check = false })
    end)
    assert(soft.code == 3 and soft.stdout == "applying 0004\n" and
           soft.stderr == "error: relation exists\n", "soft failure")
    local okp, err = pcall(function()
      return step("up", function() return k:exec("deployment/web", { "migrate", "up" }) end)
    end)
    assert(not okp and err.code == "EEXIT", "EEXIT expected, got " .. tostring(err and err.code))
    log.info("raised %s exit %s", err.code, tostring((err.details or {}).exit_code or err.exit_code))
    local okn, nerr = pcall(function()
      return step("missing", function() return k:exec("pod/nope", { "migrate", "status" }) end)
    end)
    assert(not okn and nerr.code == "ENOTFOUND", "ENOTFOUND expected, got " .. tostring(nerr and nerr.code))
    return { code = ok.code, stdout = ok.stdout, soft = soft.code }
  end,
}
LUA
cd "$W"
sm client run wsexec.lua -p server="$URL" --json
expect_rc 0 client "the cluster client's exec runbook"
has "$T/client.out" '"status":"succeeded"' "the run succeeded (codes, stdout, stderr, EEXIT, NotFound checked)"
has "$T/client.out" "raised EEXIT" "EEXIT on a non-zero exit"
cd - >/dev/null

say "4. SIGTERM"
stop_sim sim

say "5. exec over https: TLS verification, CA file and a token through libcurl"
python3 "$HERE/wss_server.py" "$T/wss.port" "$T/wss.log" "$HERE/tls/cert.pem" "$HERE/tls/key.pem" &
echo $! >"$T/pids/wss"
wait_until 10 "the TLS exec server" test -s "$T/wss.port"
WSS=https://127.0.0.1:$(<"$T/wss.port")
mkdir -p "$T/tlsw"
cat >"$T/tlsw/tls.lua" <<LUA
return runbook { name = "wss", run = function()
  local k = cluster{ server = "$WSS", ca_file = "$HERE/tls/cert.pem", token = "wss-token-9", namespace = "default" }
  local r = step("exec", function() return k:exec("pod/x", { "echo", "hi" }) end)
  log.info("tls exec code %d stdout %s", r.code, r.stdout)
  local ok, e = pcall(function()
    return cluster{ server = "$WSS", namespace = "default" }:exec("pod/x", { "echo" })
  end)
  log.info("without the CA: %s", tostring(e and e.code))
end }
LUA
sm tlsx run "$T/tlsw/tls.lua"
kill "$(<"$T/pids/wss")" 2>/dev/null || true
wait "$(<"$T/pids/wss")" 2>/dev/null || true
expect_rc 0 tlsx "exec over https"
has "$T/tlsx.out" "tls exec code 0 stdout hello over tls" "stdout arrived over TLS on channel 1, code from the Status"
has "$T/tlsx.out" "without the CA: ETLS" "without the CA the certificate is refused"
has "$T/wss.log" "/exec auth=Bearer wss-token-9" "the upgrade request carried the token"
# (The token is written in this runbook's source, which the run pins; the
# journal's rows must not repeat it.)
run=$(newest_run)
"$SUMMIT" log "$run" --json >"$T/tlsx.log"
"$SUMMIT" status "$run" --json >"$T/tlsx.status"
hasnt "$T/tlsx.log" "wss-token-9" "the token is not in the journal's rows"
hasnt "$T/tlsx.status" "wss-token-9" "nor in the run's entries"

echo
echo "test_ws_exec: all $N_CHECKS checks passed"
