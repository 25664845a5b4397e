#!/usr/bin/env bash
# The custom runbooks of examples/runbooks/ (issue 7, part 8) end to end
# against `summit sim serve`, the cluster checked with the real kubectl:
#  1. rotate_secret: a new versioned Secret, the deployment's volume and
#     annotation switched to it, the old Secret deleted after the grace
#     period; a rotation whose verification fails switches back and
#     deletes the new Secret (rolled_back); one killed (SIGKILL) in the
#     grace period resumes there, nothing redone, and retires the old one;
#  2. backup_drill: a real SQLite database backed up, restored into a
#     scratch copy, verified, the scratch copy dropped, the timings in the
#     audit trail and the ConfigMap backup-drills; a broken restore fails
#     the drill, drops the copy and records the failure;
#  3. flag_rollout: 10/50/100 with the metrics judged between steps, the
#     flag at 100 in the ConfigMap; on an app with 5% errors the rollout
#     stops at 10% and the flag goes back to its old value (rolled_back);
#  4. examples/real-cluster/summit.lua loads (schema and calendar checked),
#     its windows decide as documented, its query templates are valid
#     PromQL for promtool, and its production gate needs a signed
#     platform lead and a signed senior engineer.
# Every run's status is asserted, and the audit trail verifies.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v kubectl >/dev/null || die "kubectl is needed (the real peer of this test)"
EX=$HERE/../../examples/runbooks

cat >"$T/scenario.lua" <<'LUA'
return {
  rollout_seconds_per_pod = 2,
  namespaces = { "shop" },
  deployments = {
    { name = "web", namespace = "shop", image = "registry/web:v1", replicas = 2 },
    { name = "api", namespace = "shop", image = "registry/api:v1", replicas = 2 },
  },
  metrics = {
    requests_per_second = 50, variation = 0,
    images = { ["registry/api:*"] = { error_rate = 0.05 } },
  },
}
LUA
start_sim sim --memory --scenario "$T/scenario.lua" --time-scale 60 --kubeconfig "$T/kubeconfig"

W=$T/wd
# The commands a team would plug in, here small real ones: a SQLite
# backup tool (Python's sqlite3 backup API) and a credential checker.
cat >"$T/db.py" <<'PY'
import os, sqlite3, sys, time
cmd, args = sys.argv[1], sys.argv[2:]
def path(name): return os.path.join("dbs", name + ".sqlite")
def copy(src, dst, skip=None):
    s, d = sqlite3.connect(src), sqlite3.connect(dst)
    s.backup(d)
    if skip:                      # a restore that loses a table's rows
        d.execute("DELETE FROM " + skip); d.commit()
    s.close(); d.close()
if cmd == "backup":
    os.makedirs("backups", exist_ok=True)
    if not os.path.exists(path(args[0])): sys.exit("no database " + args[0])
    out = os.path.join("backups", "%s-%d.sqlite" % (args[0], time.time_ns()))
    copy(path(args[0]), out)
    print("backed up %s" % args[0]); print(out)
elif cmd == "restore":
    copy(args[0], path(args[1]), "orders" if os.path.exists("break-restore") else None)
    print("restored into " + args[1])
elif cmd == "verify":
    src, dst = sqlite3.connect(path(args[0])), sqlite3.connect(path(args[1]))
    if dst.execute("PRAGMA integrity_check").fetchone()[0] != "ok": sys.exit("integrity check failed")
    tables = [r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    total = 0
    for t in tables:
        a = src.execute("SELECT count(*) FROM " + t).fetchone()[0]
        b = dst.execute("SELECT count(*) FROM " + t).fetchone()[0]
        if a != b: sys.exit("table %s: %d rows in %s, %d in %s" % (t, a, args[0], b, args[1]))
        total += a
    print("%d tables, %d rows, integrity ok" % (len(tables), total))
elif cmd == "drop":
    if os.path.exists(path(args[0])): os.remove(path(args[0]))
PY
cat >"$T/verify_secret.py" <<'PY'
# The application's check of a new credential: here, that the Secret is
# there with a 32-hex-digit password and the pods run with it.
import base64, json, os, subprocess, sys
secret, new = sys.argv[1], sys.argv[2]
if os.path.exists("reject-credential"): sys.exit("login with the new credential refused")
kc = ["kubectl", "--kubeconfig", "../kubeconfig", "--cache-dir", "../kcache", "-n", "shop"]
s = json.loads(subprocess.check_output(kc + ["get", "secret", new, "-o", "json"]))
pw = base64.b64decode(s["data"]["password"]).decode()
if len(pw) != 32 or any(c not in "0123456789abcdef" for c in pw): sys.exit("bad password format")
d = json.loads(subprocess.check_output(kc + ["get", "deployment", "web", "-o", "json"]))
names = [v["secret"]["secretName"] for v in d["spec"]["template"]["spec"]["volumes"] if "secret" in v]
if new not in names: sys.exit("web does not mount " + new)
print("web logs in with " + new)
PY
cat >"$W/summit.lua" <<LUA
local sel = 'namespace="{{namespace}}",app="{{app}}",track="{{track}}"'
return {
  environments = { shop = { cluster = "k", namespace = "shop" } },
  modules = { "$EX/../lib" },   -- flag_rollout requires team.steps
  clusters = { k = { kubeconfig = "../kubeconfig" } },
  metrics = {
    url = "$URL",
    queries = {
      error_rate = 'sum(rate(http_requests_total{' .. sel .. ',code=~"5.."}[1m]))'
        .. ' / sum(rate(http_requests_total{' .. sel .. '}[1m]))',
      p95 = 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{'
        .. sel .. '}[1m])))',
    },
  },
  commands = {
    issue_secret = { "python3", "-c", "import json, secrets; print(json.dumps({'password': secrets.token_hex(16)}))" },
    verify_secret = { "python3", "../verify_secret.py" },
    db_backup = { "python3", "../db.py", "backup" },
    db_restore = { "python3", "../db.py", "restore" },
    db_verify = { "python3", "../db.py", "verify" },
    db_drop = { "python3", "../db.py", "drop" },
  },
}
LUA
cd "$W"

# actions RUN: the audit actions of a run, one per line.
actions() {
  "$SUMMIT" audit export --run "$1" 2>/dev/null | py 'import json,sys
for l in sys.stdin: print(json.loads(l)["action"])'
}
# audit_detail RUN ACTION: the detail of the run's last ACTION record, as JSON.
audit_detail() {
  "$SUMMIT" audit export --run "$1" 2>/dev/null | py 'import json,sys
d = None
for l in sys.stdin:
    r = json.loads(l)
    if r["action"] == sys.argv[1]: d = r["detail"]
print(json.dumps(d, sort_keys=True))' "$2"
}
# jget FILE PYEXPR: evaluates PYEXPR over the JSON in FILE (as d).
jget() { py 'import json,sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
audit_ok() {
  sm verify audit verify
  expect_rc 0 verify "$1: summit audit verify"
  has "$T/verify.out" "audit trail intact" "$1: the chain is intact"
}

say "validate: the examples are valid, versioned runbooks (luacheck: test_luacheck.sh)"
for f in flag_rollout backup_drill rotate_secret; do
  sm val validate "$EX/$f.lua"
  expect_rc 0 val "summit validate $f.lua"
  has "$T/val.out" "is valid" "$f.lua is valid"
  hasnt "$T/val.err" "warning" "$f.lua declares a version"
done

say "rotate_secret: a new Secret, the deployment switched to it, the old one retired"
k s1 -n shop create secret generic web-db-1 --from-literal=password=old-password
krc 0 s1 "the current Secret web-db-1"
k p1 -n shop patch deployment web --type json \
  -p '[{"op":"add","path":"/spec/template/spec/volumes","value":[{"name":"web-db","secret":{"secretName":"web-db-1"}}]}]'
krc 0 p1 "web mounts web-db-1"
k rs1 -n shop rollout status deployment/web --timeout=60s
krc 0 rs1 "web rolled out"
sm rot run "$EX/rotate_secret.lua" --env shop -p secret=web-db -p grace=10m --time-scale 600 --json
expect_rc 0 rot "the rotation"
run=$(newest_run)
expect_status "$run" succeeded "the rotation run"
k d1 -n shop get deployment web -o json
new=$(jget "$T/d1.out" '[v["secret"]["secretName"] for v in d["spec"]["template"]["spec"]["volumes"]][0]')
[[ $new =~ ^web-db-[0-9]{14}$ ]] || die "web should mount web-db-TIMESTAMP, mounts '$new'"
ok "web mounts the new Secret $new"
eq "$(jget "$T/d1.out" 'd["spec"]["template"]["metadata"]["annotations"]["summit.dev/secret-web-db"]')" "$new" \
  "the pod template's annotation names it"
eq "$(jget "$T/d1.out" 'd["status"]["updatedReplicas"] == d["status"]["readyReplicas"] == 2')" True \
  "both pods run the new template"
k sec -n shop get secret "$new" -o 'jsonpath={.data.password}'
krc 0 sec "the new Secret exists"
pw=$(base64 -d <"$T/sec.out")
[[ $pw =~ ^[0-9a-f]{32}$ ]] || die "the new password should be 32 hex digits, is '$pw'"
ok "it holds the issued password (32 hex digits)"
k sec -n shop get secret "$new" -o 'jsonpath={.metadata.labels.summit\.dev/rotation-of}'
eq "$(cat "$T/sec.out")" web-db "it is labelled as a rotation of web-db"
k old -n shop get secret web-db-1
krc 1 old "the old Secret web-db-1 is deleted"
has "$T/old.err" 'secrets "web-db-1" not found' "kubectl: not found"
actions "$run" >"$T/act.txt"
has "$T/act.txt" secret.rotated "audit: secret.rotated"
eq "$(audit_detail "$run" secret.rotated)" "{\"deployment\": \"web\", \"grace\": \"10m\", \"name\": \"web-db\", \"new\": \"$new\", \"old\": \"web-db-1\"}" \
  "audit: what was rotated, from and to"
has "$T/rot.out" '"name":"verify again"' "verified again after the grace period"
hasnt "$T/rot.out" "$pw" "the password is not in the run's output"
"$SUMMIT" audit export >"$T/audit.jsonl" 2>/dev/null
hasnt "$T/audit.jsonl" "$pw" "nor in the audit trail"
# docs/secrets.md: issued with secret_output, a Secret's data masked in
# the journal: neither the password nor its base64 is in the state.
pw64=$(printf %s "$pw" | base64)
hits=$(grep -rlaF -e "$pw" -e "$pw64" -- "$SUMMIT_STATE_DIR" || true)
eq "${hits:-none}" none "nor anywhere in the state directory (journal, logs)"
audit_ok rotation

say "rotate_secret: the new credential is refused, so everything goes back"
sleep 1   # a new second: the next version gets a new name
touch reject-credential
sm rot2 run "$EX/rotate_secret.lua" --env shop -p secret=web-db --time-scale 600 --json
expect_rc 1 rot2 "a rotation whose verification fails"
run2=$(newest_run)
expect_status "$run2" rolled_back "the failed rotation"
has "$T/rot2.out" "login with the new credential refused" "the check's reason is shown"
k d2 -n shop get deployment web -o json
eq "$(jget "$T/d2.out" '[v["secret"]["secretName"] for v in d["spec"]["template"]["spec"]["volumes"]][0]')" "$new" \
  "web mounts $new again"
eq "$(jget "$T/d2.out" 'd["spec"]["template"]["metadata"]["annotations"]["summit.dev/secret-web-db"]')" "$new" \
  "the annotation is back too"
k list -n shop get secrets -l summit.dev/rotation-of=web-db -o 'jsonpath={.items[*].metadata.name}'
eq "$(cat "$T/list.out")" "$new" "the Secret it created is deleted; $new is the only version"
k rs2 -n shop rollout status deployment/web --timeout=60s
krc 0 rs2 "web is rolled out on the old Secret"
actions "$run2" >"$T/act2.txt"
hasnt "$T/act2.txt" secret.rotated "no secret.rotated record"
has "$T/act2.txt" step.failed "audit: the failed verification"
rm reject-credential
audit_ok "failed rotation"

say "rotate_secret: SIGKILL in the grace period, then resume"
sleep 1
cur=$new
bg_run rot3 run "$EX/rotate_secret.lua" --env shop -p secret=web-db -p grace=1h --time-scale 600 --json
run7=$NEW_RUN
# sleep_started RUN: the run's grace-period sleep is in progress.
sleep_started() {
  "$SUMMIT" status "$1" --json | py 'import json,sys
d = json.load(sys.stdin)
sys.exit(0 if any(e["kind"] == "sleep" and e["state"] == "started" for e in d.get("entries", [])) else 1)'
}
wait_until 60 "the grace period" sleep_started "$run7"
kill -9 "$BG_PID"
bg_wait "$BG_PID"
eq "$RC" 137 "summit was killed in the grace period"
k mid -n shop get secrets -l summit.dev/rotation-of=web-db -o 'jsonpath={.items[*].metadata.name}'
read -r -a both <<<"$(cat "$T/mid.out")"
eq "${#both[@]}" 2 "both versions exist during the grace period"
k d3 -n shop get deployment web -o json
new3=$(jget "$T/d3.out" '[v["secret"]["secretName"] for v in d["spec"]["template"]["spec"]["volumes"]][0]')
[[ $new3 != "$cur" && " ${both[*]} " == *" $new3 "* && " ${both[*]} " == *" $cur "* ]] ||
  die "web should mount the new version (not $cur), mounts $new3; secrets: ${both[*]}"
ok "web already mounts $new3, $cur is kept"
sm rot3r resume "$run7" --time-scale 600 --json
expect_rc 0 rot3r "the resumed rotation"
expect_status "$run7" succeeded "the resumed run"
for name in "create secret/$new3" "switch deployment/web to $new3"; do
  n=$("$SUMMIT" log "$run7" --json | py 'import json,sys
print(sum(1 for l in sys.stdin for r in [json.loads(l)] if r["name"] == sys.argv[1] and r["state"] == "started"))' "$name")
  eq "$n" 1 "'$name' ran once"
done
k end -n shop get secrets -l summit.dev/rotation-of=web-db -o 'jsonpath={.items[*].metadata.name}'
eq "$(cat "$T/end.out")" "$new3" "after the grace period only $new3 is left"
k rs3 -n shop rollout status deployment/web --timeout=60s
krc 0 rs3 "web is rolled out on $new3"
audit_ok "resumed rotation"
new=$new3

say "backup_drill: back up, restore into a scratch copy, verify, drop it"
mkdir -p dbs
py 'import sqlite3
c = sqlite3.connect("dbs/orders.sqlite")
c.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
c.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
c.executemany("INSERT INTO orders (total) VALUES (?)", [(i * 1.5,) for i in range(1000)])
c.executemany("INSERT INTO customers (name) VALUES (?)", [("c%d" % i,) for i in range(200)])
c.commit()'
sm drill run "$EX/backup_drill.lua" --env shop -p database=orders --json
expect_rc 0 drill "the drill"
run3=$(newest_run)
expect_status "$run3" succeeded "the drill run"
[[ ! -e dbs/orders_drill.sqlite ]] || die "the scratch copy should be dropped"
ok "the scratch copy orders_drill is dropped"
n=$(find backups -name 'orders-*.sqlite' | wc -l)
eq "$n" 1 "one backup file was written"
detail=$(audit_detail "$run3" backup.drill)
echo "$detail" >"$T/drill.json"
eq "$(jget "$T/drill.json" 'd["ok"], d["database"], d["target"], d["verified"]')" \
  "(True, 'orders', 'orders_drill', '2 tables, 1200 rows, integrity ok')" "audit: backup.drill ok, with the verification"
eq "$(jget "$T/drill.json" 'all(isinstance(d[k], (int, float)) and d[k] >= 0 for k in ("backup_seconds", "restore_seconds", "verify_seconds", "total_seconds"))')" True \
  "audit: the timings of every phase"
eq "$(jget "$T/drill.json" 'd["backup"].startswith("backups/orders-")')" True "audit: where the backup is"
k cm -n shop get configmap backup-drills -o json
eq "$(jget "$T/cm.out" 'sorted(d["data"])')" \
  "['orders.backup', 'orders.backup-seconds', 'orders.last-success', 'orders.restore-seconds', 'orders.verify-seconds']" \
  "the ConfigMap backup-drills holds the last success and the timings"
eq "$(jget "$T/cm.out" 'd["data"]["orders.backup"]')" "$(jget "$T/drill.json" 'd["backup"]')" "the same backup as the audit"
audit_ok drill

say "backup_drill: a restore that loses rows fails the drill"
touch break-restore
sm drill2 run "$EX/backup_drill.lua" --env shop -p database=orders --json
expect_rc 1 drill2 "a drill whose restore is incomplete"
run4=$(newest_run)
expect_status "$run4" rolled_back "the failed drill"
has "$T/drill2.out" "table orders: 1000 rows in orders, 0 in orders_drill" "the verification says what is missing"
[[ ! -e dbs/orders_drill.sqlite ]] || die "the undo should drop the scratch copy"
ok "the undo dropped the scratch copy"
audit_detail "$run4" backup.drill >"$T/drill2.json"
eq "$(jget "$T/drill2.json" 'd["ok"], "0 in orders_drill" in d["error"]')" "(False, True)" "audit: backup.drill not ok, with the error"
k cm2 -n shop get configmap backup-drills -o json
eq "$(jget "$T/cm2.out" '"orders.last-failure" in d["data"] and "0 in orders_drill" in d["data"]["orders.last-error"]')" True \
  "the ConfigMap records the failure"
eq "$(jget "$T/cm2.out" 'd["data"]["orders.last-success"]')" "$(jget "$T/cm.out" 'd["data"]["orders.last-success"]')" \
  "the last success is kept"
rm break-restore
audit_ok "failed drill"

say "flag_rollout: 10/50/100 with metrics judged between steps"
sm flag run "$EX/flag_rollout.lua" --env shop -p flag=new-checkout -p watch=2m --time-scale 120 --json
expect_rc 0 flag "the flag rollout"
run5=$(newest_run)
expect_status "$run5" succeeded "the rollout run"
k f1 -n shop get configmap feature-flags -o 'jsonpath={.data.new-checkout}'
eq "$(cat "$T/f1.out")" 100 "new-checkout is at 100% in the ConfigMap"
for pct in 10 50 100; do
  has "$T/flag.out" "\"name\":\"metrics at $pct%\"" "the metrics were judged at $pct%"
done
actions "$run5" >"$T/act5.txt"
has "$T/act5.txt" flag.rollout "audit: flag.rollout"
eq "$(audit_detail "$run5" flag.rollout)" '{"configmap": "feature-flags", "flag": "new-checkout", "steps": [10, 50, 100], "to": 100}' \
  "audit: the flag, its steps and where it ended"
audit_ok "flag rollout"

say "flag_rollout: bad steps are refused before anything changes"
sm fs1 run "$EX/flag_rollout.lua" --env shop -p flag=x -p steps=ten
expect_rc 2 fs1 "steps that are not numbers"
has "$T/fs1.err" "steps" "the param is named"
sm fs2 run "$EX/flag_rollout.lua" --env shop -p flag=x -p steps=50,10
expect_rc 1 fs2 "decreasing steps"
has "$T/fs2.out" "steps: 10 must be more than 50 (percentages increase)" "the reason"
k fs -n shop get configmap feature-flags -o 'jsonpath={.data.x}'
eq "$(cat "$T/fs.out")" "" "flag x was never set"

say "flag_rollout: 5% errors stop it at 10%, and the flag goes back"
k f2 -n shop patch configmap feature-flags --type merge -p '{"data":{"new-search":"5"}}'
krc 0 f2 "new-search is at 5% before the run"
sm flag2 run "$EX/flag_rollout.lua" --env shop -p flag=new-search -p app=api -p watch=2m --time-scale 120 --json
expect_rc 1 flag2 "a rollout on an app with 5% errors"
run6=$(newest_run)
expect_status "$run6" rolled_back "the halted rollout"
has "$T/flag2.out" "flag new-search at 10%: error rate 0.05" "the reason names the flag, the step and the rate"
hasnt "$T/flag2.out" '"name":"flag new-search rollout 50%"' "50% was never reached"
k f3 -n shop get configmap feature-flags -o json
eq "$(jget "$T/f3.out" 'd["data"]["new-search"], d["data"]["new-checkout"]')" "('5', '100')" \
  "new-search is back at 5%, new-checkout untouched"
audit_detail "$run6" flag.rollout.halted >"$T/halt.json"
eq "$(jget "$T/halt.json" 'd["flag"], d["percent"], round(d["error_rate"], 2)')" "('new-search', 10, 0.05)" \
  "audit: flag.rollout.halted with the measured error rate"
actions "$run6" >"$T/act6.txt"
eq "$(grep -cx flag.rollout "$T/act6.txt" || true)" 0 "no flag.rollout record"
audit_ok "halted rollout"

say "examples/real-cluster/summit.lua: it loads, its schema and calendar are checked"
RC_DIR=$T/rc
mkdir -p "$RC_DIR/runbooks"
cp "$HERE/../../examples/real-cluster/summit.lua" "$HERE/../../examples/real-cluster/allowed_signers" "$RC_DIR/"
# A runbook that reads the configuration without touching a cluster: the
# query templates rendered, the windows judged at given instants, and the
# production gate with the environment's policy.
cat >"$RC_DIR/runbooks/rc_check.lua" <<'LUA'
local window = require("summit.window")
return runbook {
  name = "rc_check", version = "1.0.0",
  params = { at = { type = "string", default = "" }, gate = { type = "boolean", default = false } },
  run = function(p)
    local out = { queries = {}, windows = {} }
    for _, n in ipairs({ "error_rate", "success_rate", "p50", "p95", "p99", "rps", "cpu", "memory" }) do
      out.queries[n] = metrics.render(n, { namespace = "shop", app = "web", track = "canary" })
    end
    for spec in p.at:gmatch("[^,]+") do
      local e, t = spec:match("^(%w+)@(%d+)$")
      local ok = window.check(e, { at = tonumber(t) })
      out.windows[#out.windows + 1] = e .. "@" .. t .. "=" .. tostring(ok)
    end
    if p.gate then
      approval.require{ gate = "production", bind = { version = "v1.2.3" } }
    end
    print("RESULT " .. json.encode(out))
  end,
}
LUA
sm rcl runbooks --config "$RC_DIR/summit.lua"
expect_rc 0 rcl "summit runbooks --config examples/real-cluster/summit.lua"
has "$T/rcl.out" rc_check "it lists the runbooks beside it"
# Berlin times: Tue 2026-12-01 10:30 (production hours), Tue 16:30 (after
# them), Tue 2026-12-22 11:00 (year-end freeze), Sun 2026-11-22 03:00
# (staging: any hour), Fri 2026-11-27 12:00 (Black Friday, staging too).
at=""
for spec in "production 2026-12-01 10:30" "production 2026-12-01 16:30" "production 2026-12-22 11:00" \
            "staging 2026-11-22 03:00" "staging 2026-11-27 12:00" "canary 2026-12-03 09:30"; do
  read -r e d tm <<<"$spec"
  at+="$e@$(TZ=Europe/Berlin date -d "$d $tm" +%s),"
done
sm rc run rc_check --config "$RC_DIR/summit.lua" --env production -p "at=${at%,}" --json
expect_rc 0 rc "a runbook runs with it (--env production)"
py 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "log" and e["message"].startswith("RESULT "):
        json.dump(json.loads(e["message"][7:]), open(sys.argv[2], "w"))' "$T/rc.out" "$T/rc.json"
eq "$(jget "$T/rc.json" '[w.split("=")[1] for w in d["windows"]]')" \
  "['true', 'false', 'false', 'true', 'false', 'true']" \
  "windows: production hours open, after hours and the year-end freeze refused; staging any hour but Black Friday; canary office hours"
# Every template rendered is valid PromQL for Prometheus itself: promtool
# parses each as a recording rule.
py 'import json,sys
d = json.load(open(sys.argv[1]))
with open(sys.argv[2], "w") as f:
    f.write("groups:\n- name: summit\n  rules:\n")
    for n, q in sorted(d["queries"].items()):
        f.write("  - record: summit:%s\n    expr: %s\n" % (n, json.dumps(q)))' "$T/rc.json" "$T/rules.yml"
eq "$(jget "$T/rc.json" 'len(d["queries"])')" 8 "8 query templates rendered"
has "$T/rules.yml" 'http_request_duration_seconds_bucket{namespace=\"shop\",app=\"web\",track=\"canary\"}' \
  "the variables are filled in"
has "$T/rules.yml" 'label_app=\"web\"' "cAdvisor series joined on the pods' labels"
command -v promtool >/dev/null || die "promtool is missing (make deps installs Debian's prometheus package)"
promtool check rules "$T/rules.yml" >"$T/promtool.out" 2>&1 || { cat "$T/promtool.out" "$T/rules.yml"; die "promtool rejects a template"; }
has "$T/promtool.out" "SUCCESS: 8 rules found" "promtool parses all 8 templates"

say "examples/real-cluster: the production gate takes the environment's signed two-role policy"
ssh_keys "$T/keys" alice bob tester
# The gate forbids self-approval: the start is signed by its starter
# ($SUMMIT_USER=tester), so the gate knows who that is.
signer tester "$T/keys/tester" >>"$RC_DIR/allowed_signers"
sm g1 run rc_check --config "$RC_DIR/summit.lua" --env production -p gate=true --detach \
  --sign "$T/keys/tester"
expect_rc 3 g1 "the run waits at the production gate"
grun=$(newest_run)
has "$T/g1.out" "platform-lead" "the gate asks for a platform lead"
SUMMIT_USER=carol sm g2 approve "$grun" --gate production
expect_rc 1 g2 "an unsigned approval"
has "$T/g2.err" "signed" "is refused: production takes signed decisions only"
for who in alice bob; do
  signer "$who" "$T/keys/$who" >>"$RC_DIR/allowed_signers"
done
SUMMIT_USER=alice sm g3 approve "$grun" --gate production --sign "$T/keys/alice"
expect_rc 0 g3 "alice (platform-lead) approves, signed"
SUMMIT_USER=bob sm g5 approve "$grun" --gate production --sign "$T/keys/bob"
expect_rc 0 g5 "bob (senior-engineer) approves, signed"
sm g6 resume "$grun" --config "$RC_DIR/summit.lua"
expect_rc 0 g6 "the run goes on"
expect_status "$grun" succeeded "the gated run"
actions "$grun" >"$T/actg.txt"
eq "$(grep -c '^approval.given$' "$T/actg.txt" || true)" 2 "audit: two approvals given"
has "$T/actg.txt" approval.granted "audit: the gate granted"
audit_ok "real-cluster gate"

say "a typo in a copy of it is an error with its line"
sed 's/^  environments = {/  enviroments = {/' "$RC_DIR/summit.lua" >"$RC_DIR/typo.lua"
sm typo runbooks --config "$RC_DIR/typo.lua"
expect_rc 2 typo "a misspelt key"
has "$T/typo.err" "typo.lua:$(grep -n '^  enviroments = {' "$RC_DIR/typo.lua" | cut -d: -f1): unknown key 'enviroments'" \
  "the error names file, line and key"

cd "$T"
stop_sim sim
