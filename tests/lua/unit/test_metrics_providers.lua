-- The parts of the metrics providers that need no server: the JSONPath
-- subset of the web provider (lua/summit/jsonpath.lua) and the checks of
-- metrics.providers in summit.lua (lua/summit/metrics/providers.lua).
-- A plain LuaJIT script: `luajit tests/lua/unit/test_metrics_providers.lua SOURCE_DIR`.
local root = arg[1] or "."
package.path = root .. "/lua/?.lua;" .. package.path
local jp = require("summit.jsonpath")
local providers = require("summit.metrics.providers")

local failures = 0
local function check(ok, what)
  if not ok then
    failures = failures + 1
    io.stderr:write("FAIL: " .. what .. "\n")
  end
end

local function sel(path, doc)
  local steps, why = jp.parse(path)
  if not steps then return "error: " .. why end
  local out = {}
  for i, v in ipairs(jp.eval(steps, doc)) do out[i] = tostring(v) end
  return table.concat(out, ",")
end

local doc = { data = { errorRate = 0.03, ok = true, ["rate-5m"] = 2,
                       items = { { v = 1 }, { v = 2 }, { v = 3 } } } }
check(sel("$.data.errorRate", doc) == "0.03", "a dotted path")
check(sel("{$.data.ok}", doc) == "true", "Argo's braces")
check(sel("$['data']['rate-5m']", doc) == "2", "bracket names")
check(sel('$["data"].items[1].v', doc) == "2", "an index from 0")
check(sel("$.data.items[-1].v", doc) == "3", "a negative index: from the end")
check(sel("$.data.items[*].v", doc) == "1,2,3", "[*]: every element")
check(sel("$.data.items.*.v", doc) == "1,2,3", ".*: every element")
check(sel("$.data.missing", doc) == "", "a missing key selects nothing")
check(sel("$.data.items[9]", doc) == "", "an index past the end selects nothing")
check(sel("$", 5) == "5", "$ alone: the document")
check(sel("data.x", doc):find("must start with %$") ~= nil, "a path must start with $")
check(sel("$.data[?(@.v)]", doc):find("unsupported selector") ~= nil, "filters are refused by name")
check(sel("$.data[0", doc):find("unclosed") ~= nil, "an unclosed bracket")

local function probs(t) return table.concat(providers.check("metrics.providers", t), " | ") end
check(probs({ a = { type = "web", url = "http://x" } }) == "", "a valid web provider")
check(probs({ a = { type = "graphite" } }):find("metrics.providers.a.type must be one of cloudwatch, datadog, "
  .. "prometheus, web, not graphite", 1, true) ~= nil, "an unknown type, named")
check(probs({ dd = { type = "datadog", api_key = "k" } }):find("metrics.providers.dd.app_key is required",
  1, true) ~= nil, "a missing credential, named")
check(probs({ cw = { type = "cloudwatch", region = "eu-west-1", access_key_id = "a",
  secret_access_key = "b", bucket = "x" } }):find("unknown key 'bucket' for type cloudwatch", 1, true) ~= nil,
  "an unknown key, named with the type")
check(probs({ w = { type = "web", headers = "x" } }):find("metrics.providers.w.headers must be a table",
  1, true) ~= nil, "a key of the wrong type")
check(probs({ ["a b"] = { type = "web" } }):find("letters, digits", 1, true) ~= nil, "a bad provider name")

if failures > 0 then
  io.stderr:write(failures .. " check(s) failed\n")
  os.exit(1)
end
print("test_metrics_providers: all checks passed")
