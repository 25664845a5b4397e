# shellcheck shell=bash
# Shared set-up of test_deploy*.sh, test_hotfix.sh and test_verify.sh,
# sourced after lib.sh: `summit sim serve` with the platform team's two
# namespaces (the real kubectl asserts the cluster through $T/kubeconfig),
# a summit.lua like examples/summit.lua but pointing at that server (its
# canary and production environments take ROUTE, e.g. a traffic router), and
# `drive`, which runs a runbook and answers its approval gates as named
# people, as an operator would (summit approve from another shell).
command -v kubectl >/dev/null || die "kubectl is needed (the real peer of this test)"
REPO=$(cd "$HERE/../.." && pwd)

cat >"$T/scenario.lua" <<'LUA'
return {
  rollout_seconds_per_pod = 2,
  bad_images = { "registry/web:*-broken" },
  namespaces = { "summit-staging", "summit-production" },
  deployments = {
    { name = "web", namespace = "summit-staging", image = "registry/web:v1.0.0", replicas = 3 },
    { name = "web", namespace = "summit-production", image = "registry/web:v1.0.0", replicas = 20 },
  },
  services = { { name = "web", namespace = "summit-production", selector = { app = "web" }, port = 80 } },
  configmaps = {
    { name = "feature-flags", namespace = "summit-production", data = { ["new-checkout"] = "100" } },
  },
  exec = { { match = { "migrate", "status" }, stdout = "migrations: up to date\n" } },
  logs = { ["registry/web:*"] = { "level=info msg=\"migration 42 already applied\"" } },
  metrics = { requests_per_second = 50, variation = 0,
              images = { ["registry/web:*-errors"] = { error_rate = 0.03 },
                         ["registry/web:*-slow"] = { latency_factor = 20 } } },
}
LUA
start_sim sim --memory --scenario "$T/scenario.lua" --time-scale 50 --kubeconfig "$T/kubeconfig"
export SIM_URL=$URL
W=$T/wd
mkdir -p "$W/bin"
# A shell-free command the runbooks call (smoke tests, scans, SBOM, ...):
# it records its name and arguments, and fails when $W/fail-NAME exists.
cat >"$W/bin/cmd.py" <<'PY'
import os, sys
name = sys.argv[1]
here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(here, "commands.log"), "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\n")
if os.path.exists(os.path.join(here, "fail-" + name)):
    print(name + ": FAILED", file=sys.stderr)
    sys.exit(3)
print(name + ": ok " + " ".join(sys.argv[2:]))
PY
write_config() {
  cat >"$W/summit.lua" <<LUA
local sel = 'namespace="{{namespace}}",app="{{app}}",track="{{track}}"'
local function q(p) return 'histogram_quantile(' .. p .. ', sum by (le) (rate('
  .. 'http_request_duration_seconds_bucket{' .. sel .. '}[1m])))' end
local function cmd(name) return { "python3", "$W/bin/cmd.py", name } end
return {
  runbooks = { "$REPO/runbooks" },
  environments = {
    staging = { cluster = "k", namespace = "summit-staging", app = "web", url = os.getenv("SIM_URL") },
    canary = { cluster = "k", namespace = "summit-production", app = "${CANARY_APP:-web}", deployment = "web",
               traffic = 5, ${ROUTE:-} },
    production = { cluster = "k", namespace = "summit-production", app = "web",
                   approval = { count = 2, distinct = true }, ${ROUTE:-} },
  },
  clusters = { k = { kubeconfig = "../kubeconfig" } },
  metrics = { url = os.getenv("SIM_URL"), queries = {
    error_rate = 'sum(rate(http_requests_total{' .. sel .. ',code=~"5.."}[1m]))'
      .. ' / sum(rate(http_requests_total{' .. sel .. '}[1m]))',
    success_rate = 'sum(rate(http_requests_total{' .. sel .. ',code!~"5.."}[1m]))'
      .. ' / sum(rate(http_requests_total{' .. sel .. '}[1m])) * 100',
    p50 = q(0.50), p95 = q(0.95), p99 = q(0.99),
    db_p95 = 'histogram_quantile(0.95, sum by (le) (rate(db_query_duration_seconds_bucket{'
      .. sel .. '}[1m])))',
    cpu = 'avg(rate(container_cpu_usage_seconds_total{' .. sel .. '}[1m]))',
    memory = 'max(container_memory_working_set_bytes{' .. sel .. '})',
    traffic = 'sum(rate(http_requests_total{' .. sel .. '}[1m])) * 100'
      .. ' / sum(rate(http_requests_total{namespace="{{namespace}}",app="{{app}}"}[1m]))',
  } },
  approvers = { alice = { "platform-lead" }, bob = { "senior-engineer" }, carol = { "sre" } },
  commands = {
    ci = cmd("ci"), test = cmd("test"), verify = cmd("verify"), security_scan = cmd("security_scan"),
    build = cmd("build"), smoke = cmd("smoke"), integration = cmd("integration"),
    check_auth = cmd("check_auth"), check_api = cmd("check_api"), check_database = cmd("check_database"),
    check_graph = cmd("check_graph"), sbom = cmd("sbom"), release_notes = cmd("release_notes"),
    upload = cmd("upload"), provenance = cmd("provenance"), ${COMMANDS_EXTRA:-}
  },
  windows = { deny = { ${DENY:-} } },
  ${NOTIFY_EXTRA:-}
  defaults = { release = {
    app = "web", image = "registry/web:{{version}}", health_path = "/healthz",
    migration_status = { "migrate", "status" }, flags = { ["new-checkout"] = 100 },
    git = ${GIT_DIR_LUA:-false}, ${RELEASE_EXTRA:-}
  } },
}
LUA
}
write_config
cd "$W"

# Fast timings: short sleeps and few rounds, real time (no --time-scale:
# it would divide the cluster's request timeouts too). The sim runs at 50x,
# so its [1m] rate windows are 1.2 real seconds.
FAST=(-p canary_count=2 -p canary_interval=1s -p canary_initial_delay=1s
      -p monitor_wait=1s -p verify_count=2 -p verify_interval=1s)

# GATES[gate]="user user": who approves which gate in `drive`, in order;
# "bob!" is an approval that must be refused, "alice~" a rejection.
declare -A GATES=()
# drive NAME ARGS...: `summit ARGS` in the background; every approval gate
# it opens is approved by the people GATES names (an unexpected gate fails
# the test); waits for it to end: RC, DRIVEN_RUN. Approvals are logged to
# $T/NAME.approvals.
drive() {
  local name=$1 prev g u
  shift
  prev=$(newest_run)
  bg_start "$name" "$@"
  local pid=$BG_PID deadline=$((SECONDS + 90))
  local -A answered=()
  DRIVEN_RUN=""
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || die "$name: still running after 90 s"
    if [[ -z $DRIVEN_RUN ]]; then
      DRIVEN_RUN=$(newest_run)
      [[ $DRIVEN_RUN == "$prev" ]] && DRIVEN_RUN=""
    fi
    if [[ -n $DRIVEN_RUN ]]; then
      for g in $("$SUMMIT" status "$DRIVEN_RUN" --json 2>/dev/null | py 'import json,sys
for w in json.load(sys.stdin).get("waits") or []:
    if w.get("gate"): print(w["gate"])' 2>/dev/null); do
        [[ -n ${answered[$g]:-} ]] && continue
        [[ -n ${GATES[$g]:-} ]] || { show "$name"; die "$name: unexpected gate '$g'"; }
        for u in ${GATES[$g]}; do
          local who=${u%[~!]}
          if [[ $u == *"~" ]]; then   # NAME~: NAME rejects the gate
            echo "SUMMIT_USER=$who summit reject RUN --gate $g" >>"$T/$name.approvals"
            SUMMIT_USER=$who "$SUMMIT" reject "$DRIVEN_RUN" --gate "$g" --comment "no ($who)" \
              >>"$T/$name.approvals" 2>&1 || { cat "$T/$name.approvals" >&2; die "reject $g as $who failed"; }
            continue
          fi
          echo "SUMMIT_USER=$who summit approve RUN --gate $g" >>"$T/$name.approvals"
          if [[ $u == *! ]]; then   # NAME!: this approval must be refused
            ! SUMMIT_USER=$who "$SUMMIT" approve "$DRIVEN_RUN" --gate "$g" >>"$T/$name.approvals" 2>&1 ||
              { cat "$T/$name.approvals" >&2; die "approve $g as $who was not refused"; }
            continue
          fi
          SUMMIT_USER=$u "$SUMMIT" approve "$DRIVEN_RUN" --gate "$g" --comment "ok ($u)" \
            >>"$T/$name.approvals" 2>&1 || { cat "$T/$name.approvals" >&2; die "approve $g as $u failed"; }
        done
        answered[$g]=1
      done
    fi
    sleep 0.1
  done
  bg_wait "$pid"
  [[ -n $DRIVEN_RUN ]] || DRIVEN_RUN=$(newest_run)
}

# audit_actions RUN: the actions of the run's audit records, one a line.
audit_actions() {
  "$SUMMIT" audit export --run "$1" 2>/dev/null | py 'import json,sys
for line in sys.stdin:
    line = line.strip()
    if line: print(json.loads(line).get("action", ""))'
}
