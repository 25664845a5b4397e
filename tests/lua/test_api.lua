-- The runbook API (DESIGN §6): each assertion here can fail.
local function raises(fn, pattern)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error matching " .. pattern)
  local text = tostring(err)
  assert(text:find(pattern), "error '" .. text .. "' does not match '" .. pattern .. "'")
  return err
end

return runbook {
  name = "test-api", version = "0.1.0",
  params = { greeting = { type = "string", default = "hi" } },
  run = function(p)
    assert(p.greeting == "hi")

    -- step: both forms, several results, results replay as JSON values
    local a, b = step("two results", function() return 1, { x = "y" } end)
    assert(a == 1 and b.x == "y")
    local c = step{ "table form", function() return "ok" end, idempotent = true }
    assert(c == "ok")
    local n1, n2 = step("nil in the middle", function() return nil, 2 end)
    assert(n1 == nil and n2 == 2)

    -- a step returning a function fails and says so
    local e = raises(function() step("bad result", function() return function() end end) end,
      "JSON%-serialisable")
    assert(e.code == "EBADRESULT", e.code)
    assert(tostring(e):find("a function"), tostring(e))

    -- fail() gives an EFAIL error with the runbook line
    e = raises(function() step("fails", function() fail("no good") end) end, "no good")
    assert(e.code == "EFAIL" and e.where:find("test_api.lua:%d+"), tostring(e.where))

    -- parallel: list and named, results under the same keys
    local r = parallel{ function() return 1 end, function() return 2 end }
    assert(r[1] == 1 and r[2] == 2)
    local named = parallel{ x = function() sleep("20ms"); return "X" end, y = function() return "Y" end }
    assert(named.x == "X" and named.y == "Y")
    -- the first failure cancels the other branches and is raised
    local t0 = now()
    e = raises(function()
      parallel{ slow = function() sleep("10s") end, bad = function() fail("branch broke") end }
    end, "branch broke")
    assert(now() - t0 < 5, "the sleeping branch was not cancelled")

    -- time and randomness are journaled values
    local t = now()
    assert(type(t) == "number" and t > 1.7e9)
    assert(math.floor(os.time()) >= math.floor(t))
    local x = random(1, 6)
    assert(x >= 1 and x <= 6 and x == math.floor(x))
    local u = math.random()
    assert(u >= 0 and u < 1)
    raises(function() random("a") end, "bad argument 'm'")

    -- durations
    raises(function() sleep("5 parsecs") end, "invalid duration")
    -- the message names sleep and its argument, not "bad argument #1 to '?'"
    local e = raises(function() sleep("5 parsecs") end, "sleep: bad argument 'd' %(invalid duration")
    assert(not tostring(e):find("'?'", 1, true), tostring(e))
    raises(function() exec({ "true" }, { timeout = "soon" }) end, "exec: bad argument 'timeout' %(invalid duration")
    sleep(0)

    -- json
    assert(json.decode(json.encode({ a = { 1, 2 } })).a[2] == 2)
    raises(function() json.encode({ f = print }) end, "a function at %.f")
    raises(function() json.decode("{bad") end, "invalid JSON")
    -- json.array: an empty list encodes as [], not {}; [] decodes marked
    assert(json.encode({}) == "{}")
    assert(json.encode(json.array()) == "[]")
    assert(json.encode({ items = json.array({}) }) == '{"items":[]}')
    local marked = json.array({ 1, 2 })
    assert(json.is_array(marked) and json.encode(marked) == "[1,2]")
    assert(not json.is_array({}) and not json.is_array("x"))
    assert(json.encode(json.decode('{"a":[],"b":{}}')) == '{"a":[],"b":{}}')
    raises(function() json.array("x") end, "table expected")
    -- the mark is data: a runbook may replace it with a metatable of its own
    local decoded = json.decode("[]")
    assert(json.is_array(decoded) and getmetatable(decoded) == nil)
    setmetatable(decoded, { __index = function() return 7 end })
    assert(decoded.x == 7 and not json.is_array(decoded))
    -- a step's empty list replays as []
    local listed = step("empty list", function() return json.array() end)
    assert(json.encode(listed) == "[]", json.encode(listed))

    -- exec: argv only, exit codes, input, env, cwd, timeout
    local out = exec({ "sh", "-c", "printf '%s' \"$FOO\"; cat; pwd" },
                     { env = { FOO = "bar" }, input = "-in-", cwd = "/" })
    assert(out.code == 0 and out.stdout == "bar-in-/\n", out.stdout)
    e = raises(function() exec({ "sh", "-c", "echo oops >&2; exit 3" }) end, "exited with code 3")
    assert(e.code == "EEXIT" and e.exit_code == 3 and e.stderr == "oops\n")
    local soft = exec({ "false" }, { check = false })
    assert(soft.code == 1)
    e = raises(function() exec({ "sleep", "30" }, { timeout = "200ms" }) end, "timed out")
    assert(e.code == "ETIMEDOUT")
    e = raises(function() exec({ "/nonexistent/cmd" }) end, "cannot run")
    assert(e.code == "ENOENT", e.code)
    raises(function() exec("ls -l") end, "bad argument 'argv'")

    -- the sandbox: unknown globals are errors that name them
    raises(function() return undefined_thing end, "unknown global 'undefined_thing'")
    raises(function() newglobal = 1 end, "undeclared global 'newglobal'")
    assert(os.execute == nil and rawget(_G, "io") == nil and rawget(_G, "loadfile") == nil)
    raises(function() return io end, "unknown global .io.")
    raises(function() require("summit.engine") end, "not available to runbooks")
    assert(require("summit.json") == json or require("summit.json").encode)

    -- step argument checks name the argument
    raises(function() step(42, function() end) end, "bad argument 'name'")
    raises(function() step("x") end, "bad argument 'fn'")

    log.info("all API assertions passed")
    return "done"
  end,
}
