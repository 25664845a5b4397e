-- summit.fleet without clusters: the error budget as SSM's MaxErrors
-- (the budget is spent at the (max_errors + 1)th error), percentages,
-- the concurrency cap, the order, the per-target result, and misuse
-- raising at the caller's line (docs/stdlib/fleet.md).
local fleet = require("summit.fleet")

local function raises(fn, pattern)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error matching " .. pattern)
  local text = tostring(err)
  assert(text:find(pattern), "error '" .. text .. "' does not match '" .. pattern .. "'")
  assert(text:find("^test_fleet%.lua:%d+: "), "error not at the caller's line: " .. text)
end

local function statuses(r)
  local t = {}
  for i, rec in ipairs(r.targets) do t[i] = rec.name .. "=" .. rec.status end
  return table.concat(t, " ")
end

-- each fails for the names in bad; started records the order of starts.
local function each_of(bad, started, live)
  return function(t)
    started[#started + 1] = t.name
    live.now = live.now + 1
    live.max = math.max(live.max, live.now)
    sleep("20ms")
    live.now = live.now - 1
    if bad[t.name] then fail("target " .. t.name .. " is broken") end
    return t.name .. " done"
  end
end

local function budget()
  -- max_errors = 1 with two bad targets of five, one at a time: the first
  -- error is within the budget, the second spends it; nothing starts after.
  local started, live = {}, { now = 0, max = 0 }
  local ok, e = pcall(fleet.rollout, {
    name = "b1", targets = { "a", "b", "c", "d", "e" }, max_errors = 1,
    each = each_of({ b = true, c = true }, started, live),
  })
  assert(not ok and e.code == "EFLEET", "the fleet should stop: " .. tostring(e))
  assert(table.concat(started, ",") == "a,b,c", "started: " .. table.concat(started, ","))
  assert(statuses(e.fleet) == "a=succeeded b=failed c=failed d=not_started e=not_started",
    statuses(e.fleet))
  assert(e.fleet.targets[1].result == "a done")
  assert(e.fleet.targets[2].error.message:find("target b is broken"), e.fleet.targets[2].error.message)
  assert(e.message:find("2 targets failed %(b, c%), more than max_errors 1; 2 not started"), e.message)

  -- The same with max_errors = 2: within the budget, every target runs and
  -- the fleet returns (status completed_with_errors).
  started = {}
  local r = fleet.rollout{ name = "b2", targets = { "a", "b", "c", "d", "e" }, max_errors = 2,
                           each = each_of({ b = true, c = true }, started, live) }
  assert(r.status == "completed_with_errors" and r.failed == 2 and r.succeeded == 3, statuses(r))

  -- Default max_errors 0: the first error stops it.
  started = {}
  ok, e = pcall(fleet.rollout, { name = "b3", targets = { "a", "b", "c" },
                                 each = each_of({ a = true }, started, live) })
  assert(not ok and statuses(e.fleet) == "a=failed b=not_started c=not_started", tostring(e))

  -- The budget spent by the last target: nothing is left to stop, and the
  -- fleet still fails.
  started = {}
  ok, e = pcall(fleet.rollout, { name = "b5", targets = { "a", "b" },
                                 each = each_of({ b = true }, started, live) })
  assert(not ok and e.code == "EFLEET" and statuses(e.fleet) == "a=succeeded b=failed", tostring(e))
  assert(e.message:find("1 target failed %(b%), more than max_errors 0; 0 not started"), e.message)

  -- "40%" of 5 targets is 2 errors allowed.
  started = {}
  ok, e = pcall(fleet.rollout, { name = "b4", targets = { "a", "b", "c", "d", "e" }, max_errors = "40%",
                                 each = each_of({ a = true, b = true, c = true }, started, live) })
  assert(not ok and e.fleet.max_errors == 2 and statuses(e.fleet)
    == "a=failed b=failed c=failed d=not_started e=not_started", tostring(e))
end

local function concurrency()
  local started, live = {}, { now = 0, max = 0 }
  local r = fleet.rollout{ name = "c1", targets = { "a", "b", "c", "d", "e" }, max_concurrency = 2,
                           each = each_of({}, started, live) }
  assert(r.status == "succeeded" and r.succeeded == 5 and r.max_concurrency == 2, statuses(r))
  assert(live.max == 2, "at most 2 at once, saw " .. live.max)
  live.max = 0
  r = fleet.rollout{ name = "c2", targets = { "a", "b", "c", "d" }, max_concurrency = "100%",
                     each = each_of({}, started, live) }
  assert(live.max == 4 and r.max_concurrency == 4, "all at once, saw " .. live.max)
  -- Running targets finish when the budget is spent, none starts.
  live.max, started = 0, {}
  local ok, e = pcall(fleet.rollout, { name = "c3", targets = { "a", "b", "c", "d" }, max_concurrency = 2,
                                       each = each_of({ a = true }, started, live) })
  assert(not ok and statuses(e.fleet) == "a=failed b=succeeded c=not_started d=not_started",
    tostring(e) .. " " .. (e.fleet and statuses(e.fleet) or ""))
end

local function order()
  local started, live = {}, { now = 0, max = 0 }
  fleet.rollout{ name = "o1", targets = { "b", "c", "a" }, order = "name", each = each_of({}, started, live) }
  assert(table.concat(started, ",") == "a,b,c", table.concat(started, ","))
  started = {}
  fleet.rollout{ name = "o2", targets = { "b", "c", "a" }, order = "reverse", each = each_of({}, started, live) }
  assert(table.concat(started, ",") == "a,c,b", table.concat(started, ","))
  started = {}
  local r = fleet.rollout{ name = "o3", order = function(x, y) return x.wave < y.wave end,
    targets = { { name = "eu", wave = 2 }, { name = "canary", wave = 1 }, { name = "us", wave = 2 } },
    each = each_of({}, started, live) }
  assert(table.concat(started, ",") == "canary,eu,us", table.concat(started, ","))
  -- The result lists the targets in the order they were rolled.
  assert(statuses(r) == "canary=succeeded eu=succeeded us=succeeded", statuses(r))
end

local function misuse()
  local function each() end
  raises(function() fleet.rollout{ targets = {}, each = each } end, "fleet.rollout: bad argument 'targets'")
  raises(function() fleet.rollout{ targets = { "a b" }, each = each } end,
    "bad argument 'targets%[1%]%.name' %(a name of letters, digits, _ and %-")
  raises(function() fleet.rollout{ targets = { "a", "a" }, each = each } end, "two targets are named 'a'")
  raises(function() fleet.rollout{ targets = { "a" } } end, "bad argument 'each'")
  raises(function() fleet.rollout{ targets = { "a" }, each = each, max_errors = "ten" } end,
    "bad argument 'max_errors' %(a whole number or a percentage")
  raises(function() fleet.rollout{ targets = { "a" }, each = each, max_errors = -1 } end,
    "bad argument 'max_errors'")
  raises(function() fleet.rollout{ targets = { "a" }, each = each, max_concurrency = "120%" } end,
    "bad argument 'max_concurrency' %(a percentage from 0%% to 100%%")
  raises(function() fleet.rollout{ targets = { "a" }, each = each, on_budget = "retry" } end,
    "bad argument 'on_budget'")
  raises(function() fleet.rollout{ targets = { "a" }, each = each, order = "random" } end,
    "bad argument 'order'")
  raises(function() fleet.rollout{ targets = { "a" }, each = each, gate = "g" } end,
    "bad argument 'gate' %(only used with on_budget")
  raises(function() fleet.rollout{ targets = { "a" }, each = each, concurrency = 2 } end,
    "bad argument 'concurrency' %(unknown option")
end

return runbook {
  name = "test-fleet", version = "0.1.0",
  run = function()
    budget()
    concurrency()
    order()
    misuse()
    log.info("fleet: all checks passed")
  end,
}
