-- summit.rollout and summit.flags without a cluster: the canary sizing
-- arithmetic, and every misuse raising at once, at the caller's line,
-- naming the function and the argument (docs/stdlib/rollout.md, flags.md).
local rollout = require("summit.rollout")
local flags = require("summit.flags")

-- Never called: misuse is caught before any request.
local fake = { get = function() error("the cluster was used") end }

local function raises(fn, pattern)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error matching " .. pattern)
  local text = tostring(err)
  assert(text:find(pattern), "error '" .. text .. "' does not match '" .. pattern .. "'")
  -- At the line of the call in this file, not inside the module.
  assert(text:find("^test_rollout_args%.lua:%d+: "), "error not at the caller's line: " .. text)
end

local function sizing_tests()
  local n = rollout._canary_replicas
  local cases = {
    { 20, 5, 1 }, { 6, 5, 1 }, { 20, 50, 10 }, { 20, 100, 20 }, { 20, 0, 0 },
    { 30, 10, 3 }, { 3, 33, 1 }, { 10, 25, 3 }, { 100, 1, 1 }, { 7, 99, 7 }, { 1, 0.5, 1 },
  }
  for _, c in ipairs(cases) do
    local got = n(c[1], c[2])
    assert(got == c[3], string.format("%g%% of %d: %d canary replicas, expected %d", c[2], c[1], got, c[3]))
  end
end

local function rollout_misuse()
  raises(function() rollout.canary("web") end, "rollout.canary: bad argument #1 %(a table of options")
  raises(function() rollout.canary{ name = "web", weight = 150, cluster = fake } end,
    "rollout.canary: bad argument 'weight' %(a percentage from 0 to 100 expected, got 150%)")
  raises(function() rollout.canary{ name = "web", cluster = fake } end, "bad argument 'weight'")
  -- No --env here, so cluster() would fail: the misuse is reported first.
  raises(function() rollout.canary{ name = "web", image = "x", weight = 101 } end, "bad argument 'weight'")
  raises(function() rollout.rolling{ name = "web", image = "x", timeout = "soon", cluster = fake } end,
    "rollout.rolling: bad argument 'timeout' %(a duration like \"10m\" expected, got soon%)")
  raises(function() rollout.canary{ name = "web", image = "", weight = 5, cluster = fake } end,
    "rollout.canary: bad argument 'image' %(a non%-empty string expected%)")
  raises(function() rollout.canary{ name = "web", weight = 5, total = 0, cluster = fake } end,
    "bad argument 'total'")
  raises(function() rollout.canary{ name = "web", weight = 5, cluster = 5 } end,
    "bad argument 'cluster' %(a client from cluster%(%) expected%)")
  raises(function() rollout.canary{ name = "web", weight = 5, cluster = fake, route = { ref = "svc/x" } } end,
    "bad argument 'route' %(an 'annotation' name or a 'patch' function expected%)")
  raises(function()
    rollout.canary{ name = "web", weight = 5, cluster = fake,
                    route = { ref = "svc/x", annotation = "a", type = "yaml" } }
  end, "bad argument 'route.type'")
  -- The built-in routers (summit.routers).
  local function routed(route) return function()
    rollout.canary{ name = "web", weight = 5, cluster = fake, route = route }
  end end
  raises(routed{ gateway = "ingress/web" },
    "bad argument 'route.gateway' %(a httproute expected, e.g. \"httproute/web\", got ingress/web%)")
  raises(routed{ istio = 5 }, "bad argument 'route.istio' %(a virtualservice expected")
  raises(routed{ gateway = "httproute/web", smi = "trafficsplit/web" },
    "bad argument 'route' %(one router expected, got both 'gateway' and 'smi'%)")
  raises(routed{ nginx = "ingress/web", stabel = "web-stable" },
    "bad argument 'route.stabel' %(unknown key")
  raises(routed{ smi = "trafficsplit/web", canary = "web-stable", stable = "web-stable" },
    "bad argument 'route.canary' %(the canary Service must differ")
  raises(routed{ istio = "vs/web", port = 0 }, "bad argument 'route.port' %(a port number expected%)")
  raises(function() rollout.abort{ name = "web", cluster = fake, route = { gateway = "" } } end,
    "rollout.abort: bad argument 'route.gateway'")
  raises(function() rollout.rolling{ name = "service/api", image = "x", cluster = fake } end,
    "rollout.rolling: bad argument 'name' %(a Deployment")
  raises(function() rollout.rolling{ name = "Web_1", image = "x", cluster = fake } end,
    "not a valid Kubernetes name: 'Web_1'")
  raises(function() rollout.rolling{ name = "web", cluster = fake } end, "rollout.rolling: bad argument 'image'")
  raises(function() rollout.blue_green{ name = "web", image = "x", colors = { "a", "a" }, cluster = fake } end,
    "rollout.blue_green: bad argument 'colors'")
  raises(function() rollout.blue_green{ name = "web", image = "x", replicas = 0, cluster = fake } end,
    "bad argument 'replicas'")
  raises(function() rollout.switch_back{ name = "web", service = "", cluster = fake } end,
    "rollout.switch_back: bad argument 'service'")
  raises(function() rollout.progressive{ name = "web", image = "x", steps = {}, cluster = fake } end,
    "rollout.progressive: bad argument 'steps' %(a list of weights")
  raises(function() rollout.progressive{ name = "web", image = "x", steps = { 10, 150 }, cluster = fake } end,
    "bad argument 'steps%[2%]'")
  raises(function() rollout.progressive{ name = "web", image = "x", steps = { 10 }, between = 3, cluster = fake } end,
    "bad argument 'between' %(a function expected%)")
  raises(function() rollout.undo{ name = "web", revision = "two", cluster = fake } end,
    "rollout.undo: bad argument 'revision'")
  raises(function() rollout.promote{ name = "web", image = 3, cluster = fake } end,
    "rollout.promote: bad argument 'image'")
  raises(function() rollout.abort{ name = "", cluster = fake } end, "rollout.abort: bad argument 'name'")
  raises(function() rollout.status{ name = "web", label = 1, cluster = fake } end,
    "rollout.status: bad argument 'label'")
end

local function flags_misuse()
  raises(function() flags.set("new-checkout", -1) end,
    "flags.set: bad argument 'percent' %(a percentage from 0 to 100 expected, got %-1%)")
  raises(function() flags.set("new checkout", 5) end, "flags.set: bad argument 'name' %(letters, digits")
  raises(function() flags.set("x", 5, 7) end, "flags.set: bad argument 'opts'")
  raises(function() flags.enable("") end, "flags.enable: bad argument 'name'")
  raises(function() flags.get("x", { configmap = "Bad_Name" }) end, "flags.get: bad argument 'configmap'")
  raises(function() flags.all({ namespace = 3 }) end, "flags.all: bad argument 'namespace'")
  raises(function() flags.disable("x", { cluster = "prod" }) end, "flags.disable: bad argument 'cluster'")
  raises(function() flags.rollout("x", {}) end, "flags.rollout: bad argument 'steps'")
  raises(function() flags.rollout("x", { 10, 10 }) end, "percentages must increase")
  raises(function() flags.rollout("x", { 10 }, { between = 1 }) end, "flags.rollout: bad argument 'between'")
end

return runbook {
  name = "test-rollout-args", version = "0.1.0",
  run = function()
    sizing_tests()
    rollout_misuse()
    flags_misuse()
    log.info("rollout and flags: all checks passed")
  end,
}
