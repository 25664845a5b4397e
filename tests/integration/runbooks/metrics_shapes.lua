-- The metrics primitive against a Prometheus API (a real Prometheus
-- scraping the sim, or the sim's own API): every shape canary analysis
-- needs, errors and special values. Prints one "RESULT {json}" line for
-- the test to compare the two.
return runbook {
  name = "metrics-shapes",
  run = function()
    local out = {}
    -- instant query: one series per canary pod, with its labels
    local q = metrics.query('http_requests_total{app="web",track="canary",code="200"}')
    assert(#q == 2, "expected 2 canary series, got " .. #q)
    for _, s in ipairs(q) do
      assert(s.labels.namespace == "shop" and s.labels.pod:match("^web%-canary%-"), s.labels.pod)
      assert(type(s.value) == "number" and s.value > 0, tostring(s.value))
    end
    out.instant = #q

    -- range query: a series per track, points at the step
    local t = now()
    local r = metrics.range('sum by (track) (rate(http_requests_total{app="web"}[5s]))',
      { start = t - 2, stop = t, step = "1s" })
    assert(#r == 2, "expected 2 tracks, got " .. #r)
    for _, s in ipairs(r) do
      assert(#s.values >= 2, s.labels.track .. ": " .. #s.values .. " points")
      for _, p in ipairs(s.values) do
        assert(p[1] >= t - 2.001 and p[1] <= t + 0.001 and p[2] > 0, tostring(p[2]))
      end
    end
    out.range = #r

    -- the rate() ratio and histogram_quantile, through summit.lua templates
    out.error_rate_canary = metrics.get("error_rate", { app = "web", track = "canary" })
    out.error_rate_stable = metrics.get("error_rate", { app = "web", track = "stable" })
    out.p95_canary = metrics.get("p95", { app = "web", track = "canary" })
    out.p95_stable = metrics.get("p95", { app = "web", track = "stable" })
    out.success_canary = metrics.get("success_rate", { app = "web", track = "canary" })

    -- bad PromQL: the error carries Prometheus's errorType
    local ok, e = pcall(metrics.value, "sum(rate(http_requests_total[5m]")
    assert(not ok and e.code == "EPROMQL" and e.error_type == "bad_data", tostring(e))
    out.bad = e.error_type

    -- an empty vector is no data: nil
    assert(metrics.value('sum(rate(http_requests_total{app="nothing"}[1m]))') == nil)
    -- escaped template values are data, never syntax
    assert(metrics.get("error_rate", { app = 'web"} or vector(1) or {x="', track = "canary" }) == nil)

    -- special values: NaN (no traffic: 0/0), +Inf, -Inf, kept distinct
    local idle = metrics.get("error_rate", { app = "idle", track = "stable" })
    assert(idle ~= idle, "expected NaN, got " .. tostring(idle))
    local nan = metrics.value("0/0")
    assert(nan ~= nan)
    assert(metrics.value("1/0") == math.huge and metrics.value("-1/0") == -math.huge)

    -- several series are not one value
    ok, e = pcall(metrics.value, 'http_requests_total{app="web"}')
    assert(not ok and e.code == "EMETRICS", tostring(e))

    log.info("RESULT %s", json.encode(out))
  end,
}
