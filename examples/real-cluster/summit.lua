-- summit.lua for a real Kubernetes cluster with Prometheus: a starting
-- point to copy to the root of your repository and edit. Every key is
-- explained in docs/configuration.md; docs/examples.md says what to change
-- first. summit checks this file whenever it loads it (`summit run`,
-- `resume`, `runbooks`): a typo in a key, a cluster name or the calendar
-- is an error naming the line, before anything runs.
--
-- The file is Lua in a small sandbox: os.getenv, string, table, math and
-- the usual basics, nothing else. Secrets come from the environment
-- (os.getenv) and are never written to the state database.
--
-- What it assumes about your cluster (change it if yours differs):
--   * one Deployment per application, its pods labelled `app: NAME`; the
--     canary's pods (summit.rollout) labelled `track: canary`, the stable
--     ones `track: stable`;
--   * Prometheus scrapes the application's /metrics with the pod labels
--     `app` and `track` copied onto the series (a PodMonitor with
--     `podTargetLabels: [app, track]`, or relabel_configs mapping
--     __meta_kubernetes_pod_label_app / _track), and the usual names:
--     http_requests_total{code} and http_request_duration_seconds_bucket;
--   * cAdvisor (the kubelet) for container_cpu_usage_seconds_total and
--     container_memory_working_set_bytes, which carry namespace, pod and
--     container but no app label: the templates join them with
--     kube-state-metrics' kube_pod_labels, which needs
--     `--metric-labels-allowlist=pods=[app,track]` on kube-state-metrics.

-- ---- metrics: PromQL templates -----------------------------------------------
-- {{namespace}}, {{app}} and {{track}} are filled in by the runbooks
-- (canary analysis: track="canary" against track="stable"). Values are
-- escaped for PromQL strings (docs/metrics.md#query-templates).
local sel = 'namespace="{{namespace}}",app="{{app}}",track="{{track}}"'
local window = "5m"   -- rate() window: at least 4 scrape intervals

local function rate(metric, extra)
  return 'sum(rate(' .. metric .. '{' .. sel .. (extra or '') .. '}[' .. window .. ']))'
end
local function latency(q)
  return 'histogram_quantile(' .. q .. ', sum by (le) (rate(http_request_duration_seconds_bucket{'
    .. sel .. '}[' .. window .. '])))'
end
-- cAdvisor series of the pods of one app and track, per pod: the join
-- with kube_pod_labels keeps the pods whose labels match.
local pods = 'max by (namespace, pod) (kube_pod_labels{namespace="{{namespace}}",'
  .. 'label_app="{{app}}",label_track="{{track}}"})'
local containers = 'namespace="{{namespace}}",container!="",container!="POD"'

local queries = {
  -- fraction of requests answered 5xx (0.01 = 1%)
  error_rate = rate('http_requests_total', ',code=~"5.."') .. ' / ' .. rate('http_requests_total'),
  -- percent of requests not answered 5xx (99 = 99%), as Flagger reports it
  success_rate = rate('http_requests_total', ',code!~"5.."') .. ' / '
    .. rate('http_requests_total') .. ' * 100',
  -- request latency quantiles, in seconds
  p50 = latency(0.50),
  p95 = latency(0.95),
  p99 = latency(0.99),
  -- requests per second (is there traffic at all?)
  rps = rate('http_requests_total'),
  -- mean CPU cores per pod
  cpu = 'avg(sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{' .. containers .. '}['
    .. window .. '])) * on (namespace, pod) group_left() ' .. pods .. ')',
  -- largest working set of a pod, in bytes
  memory = 'max(sum by (namespace, pod) (container_memory_working_set_bytes{' .. containers .. '})'
    .. ' * on (namespace, pod) group_left() ' .. pods .. ')',
}

-- Prometheus behind a bearer token (a service account token, Grafana
-- Cloud, ...): set PROMETHEUS_TOKEN in the environment of whoever runs
-- summit. The header is never stored or printed.
local prom_token = os.getenv("PROMETHEUS_TOKEN")
local prom_headers = prom_token and { Authorization = "Bearer " .. prom_token } or nil

return {
  -- ---- where runbooks are: `summit run deploy` finds runbooks/deploy.lua
  runbooks = { "runbooks" },

  -- ---- clusters: kubeconfig contexts (kubectl config get-contexts) --------
  -- Credentials stay in the kubeconfig: tokens, client certificates, exec
  -- plugins (gke-gcloud-auth-plugin, aws eks get-token, kubelogin) all
  -- work. `kubeconfig` may be left out: $KUBECONFIG, then ~/.kube/config.
  clusters = {
    staging    = { kubeconfig = "~/.kube/config", context = "acme-staging" },
    production = { kubeconfig = "~/.kube/config", context = "acme-production" },
    -- From a pod inside the cluster (a CI runner, `summit daemon`):
    -- incluster = { in_cluster = true },
    -- Try everything first on summit's simulated cluster:
    -- sim = { sim = true },
  },

  -- ---- environments: what --env NAME selects --------------------------------
  -- A gate named after an environment (approval.require{ gate =
  -- "production" }) takes its `approval` policy as a floor: a runbook can
  -- ask for more, never for less (docs/approvals.md).
  environments = {
    staging = {
      description = "pre-production, shared with QA",
      cluster = "staging", namespace = "shop-staging",
      app = "web", deployment = "web",
      url = "https://staging.shop.example.com",          -- health checks, smoke tests
      metrics = { url = "https://prometheus.staging.example.com" },
      windows = { allow = {} },                          -- any hour; freezes still apply
    },
    canary = {
      description = "the canary: a few pods of production taking 5% of traffic",
      cluster = "production", namespace = "shop",
      app = "web", deployment = "web", traffic = 5,
      url = "https://shop.example.com",
      approval = { count = 1, roles = { "platform-lead" }, timeout = "2h", on_timeout = "fail" },
    },
    production = {
      description = "what customers use",
      cluster = "production", namespace = "shop",
      app = "web", deployment = "web",
      url = "https://shop.example.com",
      -- a Platform Lead and a Senior Engineer, two different people, not
      -- the one who started the run, each signing with their SSH key
      -- (allowed_signers below); who started the run is known only from a
      -- signed start (summit run --sign KEY, docs/approvals.md#who-started-the-run),
      -- without one nobody's approval counts; unanswered after 4 hours the gate stays
      -- open and is reported overdue instead of failing the deploy
      approval = {
        count = 2, roles = { ["platform-lead"] = 1, ["senior-engineer"] = 1 },
        distinct = true, allow_self = false, signed = true,
        timeout = "4h", on_timeout = "pause",
      },
      -- production's own weekly windows (they replace the top-level ones);
      -- the company-wide freezes below still apply
      windows = {
        allow = { { days = { "tue", "wed", "thu" }, from = "10:00", to = "15:00",
                    name = "production hours" } },
      },
    },
  },

  -- ---- who approves: person -> roles ---------------------------------------
  -- The names are what `summit approve` reports ($SUMMIT_USER, else the
  -- login name) and, for signed gates, the principals of allowed_signers.
  approvers = {
    alice = { "platform-lead" },
    bob   = { "senior-engineer" },
    carol = { "senior-engineer", "sre" },
    dave  = { "platform-lead", "senior-engineer" },
    erin  = { "dba" },
    frank = { "security" },
  },

  -- SSH public keys of the approvers (the git allowed-signers format),
  -- relative to this file; reviewed like code. Used by gates with
  -- `signed = true` (production above). docs/approvals.md#signed-approvals
  allowed_signers = "allowed_signers",

  -- ---- metrics: the Prometheus server and the query templates -------------
  -- The environments above point at their own Prometheus (`metrics.url`);
  -- this one is for environments that give none.
  metrics = {
    url = "https://prometheus.example.com",
    headers = prom_headers,
    timeout = "15s",
    queries = queries,
  },

  -- ---- commands: the team's own scripts the runbooks call -----------------
  -- Each is an argv (no shell); the runbooks append arguments such as
  -- `--environment production` or the version. They run in summit's working
  -- directory. A runbook page (docs/runbooks/*.md) lists the names it uses.
  commands = {
    -- prepare the release (deploy, hotfix)
    test           = { "pnpm", "test" },
    verify         = { "pnpm", "verify" },
    security_scan  = { "make", "security-scan" },
    build          = { "pnpm", "build" },
    -- staging tests and post-deployment critical paths
    smoke          = { "make", "smoke" },
    integration    = { "make", "integration" },
    check_auth     = { "scripts/verify/check-auth.sh" },
    check_api      = { "scripts/verify/check-api.sh" },
    check_database = { "scripts/verify/check-database.sh" },
    check_graph    = { "scripts/verify/check-neo4j.sh" },
    -- finalize: SBOM, release notes, artifacts
    sbom           = { "npx", "tsx", "scripts/compliance/generate-sbom.ts" },
    release_notes  = { "scripts/release/release-notes.sh" },
    upload         = { "scripts/release/upload-artifacts.sh" },
    -- migrations (runbooks/migration.lua)
    backup_database       = { "scripts/dr/backup-database.sh" },
    restore_database      = { "scripts/dr/restore-database.sh" },
    verify_data_integrity = { "scripts/db/verify-data-integrity.sh" },
    -- examples/runbooks/backup_drill.lua
    db_backup  = { "scripts/dr/backup-database.sh", "--print-location" },
    db_restore = { "scripts/dr/restore-database.sh", "--into" },
    db_verify  = { "scripts/db/compare-databases.sh" },
    db_drop    = { "scripts/dr/drop-scratch-database.sh" },
    -- examples/runbooks/rotate_secret.lua
    issue_secret  = { "scripts/secrets/issue.sh" },
    verify_secret = { "scripts/secrets/verify.sh" },
  },

  -- ---- deployment windows and the freeze calendar -------------------------
  -- window.require refuses to start production outside `allow` or inside a
  -- `deny` period, unless an override gate with a justification is
  -- approved (audited as window.override). docs/stdlib/window.md
  windows = {
    timezone = "Europe/Berlin",
    allow = {
      { days = { "mon", "tue", "wed", "thu" }, from = "09:00", to = "16:00", name = "office hours" },
    },
    deny = {
      { from = "2026-11-26 18:00", to = "2026-11-30 06:00", reason = "Black Friday weekend", name = "black-friday" },
      { from = "2026-12-19", to = "2027-01-04", reason = "year-end freeze", name = "year-end" },
    },
  },

  -- ---- defaults of the shipped runbooks (docs/runbooks/deploy.md) --------
  -- The seed's thresholds are the runbooks' own defaults; set here only
  -- what your team does differently.
  defaults = {
    release = {
      app = "web",
      image = "registry.example.com/shop/{{app}}:{{version}}",
      strategy = "progressive",
      health_path = "/api/health",
      migration_status = { "npx", "tsx", "scripts/migration-status.ts" },
    },
  },
}
