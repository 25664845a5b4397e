-- The metrics providers against tests/integration/metrics_providers_server.py
-- (tests/integration/test_metrics_providers.sh): p.case picks what to do.
local canary = require("summit.canary")

local function caught(fn)
  local ok, e = pcall(fn)
  if ok then return { ok = true } end
  return { code = e.code, message = e.message, status = e.status, retryable = e.retryable }
end

return runbook {
  name = "metrics_providers",
  params = { case = { required = true } },
  run = function(p)
    if p.case == "values" then
      local q = metrics.query("sum:trace.http.request.errors{service:web}.as_rate()", { provider = "dd" })
      local r = metrics.range("sum:trace.http.request.errors{service:web}", { provider = "dd", since = "10m" })
      local cw = metrics.query({ namespace = "AWS/ApplicationELB", metric = "HTTPCode_Target_5XX_Count",
                                 stat = "Sum", dimensions = { LoadBalancer = "app/web/1" } },
                               { provider = "cw" })
      return {
        web = metrics.get("web_error_rate", { track = "canary" }),
        web_direct = metrics.value({ path = "/web/stable", json_path = "{$.data.errorRate}" },
                                   { provider = "status" }),
        dd = metrics.get("dd_errors", { service = "web" }),
        dd_labels = q[1].labels,
        dd_points = #r[1].values,
        dd_none = metrics.value("sum:nothing{service:web}", { provider = "dd" }) == nil,
        cw = metrics.get("cw_5xx", { lb = "app/web/1" }),
        cw_label = cw[1].labels.label,
        cw_expr = metrics.value("SUM(METRICS())", { provider = "cw" }),
        prom_default = pcall(metrics.value, "up") == false,
      }
    elseif p.case == "canary" then
      local v = canary.analyze{
        name = "web", count = 2, interval = "1s",
        metrics = {
          { name = "error_rate", template = "web_error_rate", vars = { track = "canary" }, max = 0.01,
            baseline = { vars = { track = "stable" } }, max_increase = 1, margin = 0.001 },
          { name = "dd_errors", provider = "dd", query = "sum:trace.http.request.errors{service:web}",
            max = 100, dry_run = true },
        },
      }
      return { verdict = v.verdict, reason = v.reason }
    elseif p.case == "bad-credentials" then
      -- A client of its own, with summit.lua's providers (dd_bad, cw_bad:
      -- wrong credentials) under it.
      local c = metrics.client{ timeout = "5s" }
      return {
        dd = caught(function() return c:value("sum:x{service:web}", { provider = "dd_bad" }) end),
        cw = caught(function() return c:value("SUM(METRICS())", { provider = "cw_bad" }) end),
        unknown = caught(function() return metrics.value("x", { provider = "nope" }) end),
      }
    end
    fail("unknown case " .. p.case)
  end,
}
