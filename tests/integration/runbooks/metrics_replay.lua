-- Metrics entries replay: the first three queries run, the run is
-- SIGKILLed during the sleep, and a resume must return the recorded
-- values (a growing counter, NaN, -Inf, a range) without asking again.
return runbook {
  name = "metrics-replay",
  params = { marker = { type = "string", required = true } },
  run = function(p)
    local total = metrics.value('sum(http_requests_total{app="web"})')
    local nan = metrics.value("0/0")
    local ninf = metrics.value("-1/0")
    local r = metrics.range('sum(rate(http_requests_total{app="web"}[5s]))', { since = "2s", step = "1s" })
    exec({ "sh", "-c", 'printf "%s" "$1" > "$2"', "sh", string.format("%.17g", total), p.marker })
    sleep("3s")
    local after = metrics.value('sum(http_requests_total{app="web"})')
    local er = metrics.get("error_rate", { app = "web", track = "canary" })
    log.info("RESULT %s", json.encode({
      total = string.format("%.17g", total), nan = nan ~= nan, ninf = ninf == -math.huge,
      points = #r[1].values, grew = after > total, error_rate = er,
    }))
  end,
}
