-- metrics (docs/metrics.md): templates and their escaping, NaN/Inf through
-- the journal, errors and misuse. The Prometheus API here is the one of
-- an in-process simulated cluster (cluster{ sim = true }); the real
-- Prometheus is tests/integration/test_prometheus.sh.
local function raises(fn, pattern)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error matching " .. pattern)
  local text = tostring(err)
  assert(text:find(pattern), "error '" .. text .. "' does not match '" .. pattern .. "'")
  return err
end

local function close(a, b, tol, what)
  assert(math.abs(a - b) <= tol, string.format("%s: %s is not within %s of %s", what,
    tostring(a), tostring(tol), tostring(b)))
end

return runbook {
  name = "test-metrics", version = "0.1.0",
  run = function()
    -- ---- templates: {{name}} filled in, escaped for "..." label values
    assert(metrics.expand('up{job="{{job}}"}', { job = "api" }) == 'up{job="api"}')
    assert(metrics.expand('{{ a }}-{{b}}', { a = "x", b = 2 }) == "x-2")
    assert(metrics.expand("q{{n}}", { n = 0.25 }) == "q0.25")
    -- backslash, double quote and newline cannot end the string early
    local nasty = 'we"b\\x\ny'
    local q = metrics.expand('m{app="{{app}}"}', { app = nasty })
    assert(q == 'm{app="we\\"b\\\\x\\ny"}', q)
    assert(metrics.escape('a"b') == 'a\\"b' and metrics.escape("a\\b") == "a\\\\b")
    assert(metrics.escape("a\nb") == "a\\nb" and metrics.escape("plain-text_1.2") == "plain-text_1.2")
    -- a text without placeholders is left alone, braces of PromQL too
    assert(metrics.expand('sum(m{a="b"})') == 'sum(m{a="b"})')
    -- a missing variable names itself
    local e = raises(function() metrics.expand('m{app="{{app}}",t="{{track}}"}', { app = "web" }) end,
      "no value was given for 'track'")
    assert(e.code == "ETEMPLATE" and e.variable == "track", e.code)
    e = raises(function() metrics.expand("{{ not a name }}", {}) end, "is not a variable")
    assert(e.code == "ETEMPLATE")
    e = raises(function() metrics.expand("{{x}}", { x = { 1 } }) end, "must be a string or a number")
    -- named templates: of a client here (summit.lua's metrics.queries
    -- otherwise); the error names the template and the variable
    local c = metrics.client{ queries = {
      error_rate = 'sum(rate(http_requests_total{app="{{app}}",track="{{track}}",code=~"5.."}[{{w}}]))'
        .. ' / sum(rate(http_requests_total{app="{{app}}",track="{{track}}"}[{{w}}]))',
    } }
    assert(c:render("error_rate", { app = "web", track = "canary", w = "1m" }):find(
      'http_requests_total{app="web",track="canary",code=~"5.."}[1m]', 1, true))
    e = raises(function() c:render("error_rate", { app = "web", w = "1m" }) end,
      "query template 'error_rate' uses {{track}}, but no value was given for 'track'")
    assert(e.template == "error_rate" and e.variable == "track")
    e = raises(function() c:render("p99", {}) end, "no query template 'p99' in metrics.queries %(known: error_rate%)")
    assert(e.code == "ETEMPLATE")
    raises(function() metrics.render("error_rate", {}) end, "known: none")

    -- ---- misuse raises at once, naming the argument and the line
    raises(function() metrics.value(42) end, "test_metrics.lua:%d+: metrics.value: bad argument 'promql'")
    raises(function() metrics.query("up", "now") end, "bad argument 'opts'")
    raises(function() metrics.query("up", { time = "yesterday" }) end, "bad argument 'time'")
    raises(function() metrics.range("up", { step = "1m" }) end, "bad argument 'start'")
    raises(function() metrics.range("up", { start = 10, stop = 5 }) end, "bad argument 'stop'")
    raises(function() metrics.range("up", { start = 10, step = "soon" }) end, "bad argument 'step'")
    raises(function() metrics.client{ uri = "x" } end, "bad argument 'uri'")

    -- ---- no Prometheus configured: an error, not a silent nil
    e = raises(function() metrics.value("1") end, "no Prometheus configured")
    assert(e.code == "ENOMETRICS")

    -- ---- the simulated cluster's Prometheus API
    local k = cluster{ sim = true, name = "mt", scenario = {
      seed = 7,
      deployments = {
        { name = "web", namespace = "shop", image = "registry/web:v1", replicas = 2,
          labels = { app = "web", track = "stable" } },
        { name = "web-canary", namespace = "shop", image = "registry/web:v2", replicas = 1,
          labels = { app = "web", track = "canary" } },
        { name = "idle", namespace = "shop", image = "registry/idle:v1", replicas = 1 },
      },
      metrics = { requests_per_second = 500, variation = 0,
                  tracks = { canary = { error_rate = 0.25 } },
                  images = { ["registry/idle:*"] = { requests_per_second = 0 } } },
    } }
    local m = metrics.client{ cluster = k, queries = c.spec.queries }
    -- Traffic starts when the pods become ready (whole seconds): wait
    -- until there is some.
    local total
    for _ = 1, 60 do
      total = m:value('sum(http_requests_total{app="web",track="canary"})')
      if total and total > 200 then break end
      sleep("100ms")
    end
    assert(total and total > 200, "no canary traffic: " .. tostring(total))

    -- Prometheus's spellings of special values become Lua's numbers
    local nan = m:value("0/0")
    assert(type(nan) == "number" and nan ~= nan, "0/0 should be NaN: " .. tostring(nan))
    assert(m:value("1/0") == math.huge)
    assert(m:value("-1/0") == -math.huge)
    assert(m:value("2 * 21") == 42)
    assert(metrics.number("NaN") ~= metrics.number("NaN") and metrics.number("+Inf") == math.huge
      and metrics.number("-Inf") == -math.huge and metrics.number("0.25") == 0.25)
    -- NaN inside a vector: the error ratio of a deployment with no traffic
    local idle = m:get("error_rate", { app = "idle", track = "stable", w = "1m" })
    assert(idle ~= idle, "0 errors / 0 requests should be NaN: " .. tostring(idle))
    local rows = m:query('sum by (app) (rate(http_requests_total{code="500"}[1m])) '
      .. '/ sum by (app) (rate(http_requests_total[1m]))')
    assert(#rows == 2, #rows)
    local by = {}
    for _, r in ipairs(rows) do by[r.labels.app] = r.value end
    assert(by.idle ~= by.idle and by.web > 0 and by.web < 0.25, tostring(by.web))
    -- what replays is what the journal holds: the values above already
    -- came back from it (a first run returns the stored results too), and
    -- a step can still not return NaN
    e = raises(function() step("nan result", function() return m:value("0/0") end) end,
      "JSON%-serialisable")

    -- no data is nil; several series are an error for value()
    assert(m:value('sum(rate(http_requests_total{app="nothing"}[1m]))') == nil)
    e = raises(function() m:value('http_requests_total{app="web"}') end, "series")
    assert(e.code == "EMETRICS" and e.series >= 6, tostring(e.series))
    -- an escaped value is data, not syntax: a quote finds nothing
    assert(m:get("error_rate", { app = 'web"}', track = "canary", w = "1m" }) == nil)
    -- the canary's error rate is what the scenario says (variation = 0)
    close(m:get("error_rate", { app = "web", track = "canary", w = "1m" }), 0.25, 0.02, "canary error rate")
    close(m:get("error_rate", { app = "web", track = "stable", w = "1m" }), 0.001, 0.002, "stable error rate")
    -- instant vectors carry their labels; bare selectors their name
    local series = m:query('http_requests_total{track="canary",code="200"}')
    assert(#series == 1 and series[1].labels.__name__ == "http_requests_total")
    assert(series[1].labels.pod:match("^web%-canary%-") and series[1].labels.namespace == "shop")
    -- range queries: series with {t, v} points at the step
    local t = now()
    local r = m:range('sum by (track) (rate(http_requests_total{app="web"}[1m]))',
      { start = t - 0.2, stop = t, step = "100ms" })
    assert(#r == 2, #r)
    for _, s in ipairs(r) do
      assert(#s.values == 3, #s.values)
      close(s.values[3][1] - s.values[1][1], 0.2, 1e-6, "range timestamps")
      assert(type(s.values[3][2]) == "number")
    end
    -- results are plain lists: a step can return them and gets the same
    local kept = step("keep a vector", function()
      return m:query('sum by (app) (rate(http_requests_total{app="web"}[1m]))')
    end)
    assert(#kept == 1 and kept[1].labels.app == "web" and kept[1].value > 0, #kept)
    -- histogram_quantile over the latency histogram
    local p50 = m:value('histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{app="web"}[1m])))')
    assert(p50 > 0.025 and p50 < 0.1, tostring(p50))

    -- a query the sim does not evaluate: Prometheus's bad_data
    e = raises(function() m:value('topk(1, http_requests_total)') end, "not supported by the simulated cluster")
    assert(e.code == "EPROMQL" and e.error_type == "bad_data" and e.retryable == false, tostring(e))
    e = raises(function() m:value('sum(rate(http_requests_total[5m]') end, "bad_data")
    assert(e.query == 'sum(rate(http_requests_total[5m]')
    -- a failed query is recorded: pcall sees the same error on a replay
    assert(e.key, "the error names its journal entry")
  end,
}
