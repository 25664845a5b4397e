-- Bad connections and bad servers: each case must fail clearly.
return runbook {
  name = "cluster-bad",
  params = { case = { type = "string", required = true }, arg = { type = "string", default = "" } },
  run = function(p)
    local k
    if p.case == "not-yaml" then k = cluster{ kubeconfig = p.arg }
    elseif p.case == "no-context" then k = cluster{ kubeconfig = p.arg, context = "nope" }
    else k = cluster{ server = p.arg, namespace = "default" } end
    local ok, err = pcall(function()
      return step("call", function() return k:rollout_status("deployment/web", { timeout = "20s" }) end)
    end)
    local outcome = ok and { ok = true } or { ok = false, code = err.code, message = err.message }
    log.info("outcome %s", json.encode(outcome))
    return outcome
  end,
}
