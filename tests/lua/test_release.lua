-- summit.release's settings and misuse (no summit.lua here: the built-in
-- defaults, i.e. the seed's thresholds). The phases themselves run end to
-- end in tests/integration/test_deploy*.sh, test_hotfix.sh, test_verify.sh.
local release = require("summit.release")

local function raises(fn, pattern)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error matching " .. pattern)
  local text = tostring(type(err) == "table" and err.message or err)
  assert(text:find(pattern), "error '" .. text .. "' does not match '" .. pattern .. "'")
  return err
end

return runbook {
  name = "test-release", version = "0.1.0",
  run = function()
    -- the seed's thresholds are the defaults
    local s = release.settings({ version = "v4.0.5" })
    assert(s.strategy == "progressive", s.strategy)
    assert(s.canary_max_error_rate == 0.01 and s.canary_latency_increase == 0.10)
    assert(s.canary_min_success_rate == 99 and s.verify_max_error_rate == 0.005 and s.verify_max_p95 == 0.5)
    assert(s.canary_weight == 5 and s.canary_count * 5 + 2 == 32, "a 32-minute analysis")
    assert(table.concat(s.progressive_steps, ",") == "10,50,100")
    assert(table.concat(s.canary_steps, ",") == "5,25,100")
    assert(s.production_roles["platform-lead"] == 1 and s.production_roles["senior-engineer"] == 1)
    assert(s.image_ref == "registry/web:v4.0.5", s.image_ref)
    assert(next(s.skip) == nil and s.git == false)

    -- params win; the image template takes app and version
    s = release.settings({ version = "v1.2.3", app = "api", strategy = "blue-green", verify_count = 1,
                           skip = "checklist, prepare" })
    assert(s.image_ref == "registry/api:v1.2.3", s.image_ref)
    assert(s.strategy == "blue-green" and s.verify_count == 1)
    assert(s.skip.checklist and s.skip.prepare and not s.skip.staging)
    s = release.settings({ version = "v2.0.0", image = "ghcr.io/acme/{{app}}-server:{{version}}" })
    assert(s.image_ref == "ghcr.io/acme/web-server:v2.0.0", s.image_ref)
    -- the defaults table is not changed by a run's settings
    s.progressive_steps[1] = 99
    assert(release.DEFAULTS.progressive_steps[1] == 10)

    -- misuse names the argument and what is allowed
    raises(function() release.settings({ version = "v1.0.0", strategy = "yolo" }) end,
      "release.settings: bad argument 'strategy' %(one of blue%-green, progressive, canary, rolling, got 'yolo'%)")
    raises(function() release.settings({ version = "v1.0.0", skip = "stagin" }) end,
      "bad argument 'skip' %(unknown phase 'stagin'")
    raises(function() release.settings("v1") end, "bad argument 'params'")

    -- an environment summit.lua does not define
    local e = raises(function() release.env("production") end, "environment 'production' is not in")
    assert(e.code == "ECONFIG", e.code)
    assert(not release.has_command("smoke"))
    -- an optional command that is not configured is skipped, a required one raises
    local r = release.command("sbom", { "v1" }, { optional = true })
    assert(r.skipped == true)
    raises(function() release.command("smoke", { "staging" }) end, "commands.smoke is not configured")
  end,
}
