-- A canary at a weight (replica ratio), then promote, abort or nothing.
local rollout = require("summit.rollout")

return runbook {
  name = "rollout_canary",
  params = {
    image = { default = "registry/web:v2" },
    weight = { type = "number", default = 5 },
    after = { enum = { "none", "promote", "abort", "fail" }, default = "none" },
    route = { enum = { "none", "annotation", "ingress" }, default = "none" },
  },
  run = function(p)
    -- The route hook: the weight as an annotation (here on a ConfigMap;
    -- for ingress-nginx, the canary Ingress's canary-weight, an Ingress
    -- this test never creates). The built-in routers: rollout_router.lua.
    local route
    if p.route == "annotation" then
      route = { ref = "configmap/web-route", annotation = "example.com/canary-weight" }
    elseif p.route == "ingress" then
      route = { ref = "ingress/web-canary", annotation = "nginx.ingress.kubernetes.io/canary-weight" }
    end
    local r = rollout.canary{ name = "deployment/web", image = p.image, weight = p.weight,
                              route = route, timeout = "2m" }
    if p.after == "promote" then
      r.promoted = rollout.promote{ name = "web", route = route }
    elseif p.after == "abort" then
      r.aborted = rollout.abort{ name = "web", route = route }
    elseif p.after == "fail" then
      step("analysis", function() fail("canary error rate 3% > 1%") end)
    else
      print("RESULT " .. json.encode(rollout.status{ name = "web" }))
    end
    return r
  end,
}
