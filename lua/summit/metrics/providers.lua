-- The metrics providers summit.lua may declare (metrics.providers,
-- docs/metrics.md#providers): each type's module and the keys its
-- settings take, checked when summit.lua is loaded (summit.config) and
-- by metrics.client. Free of the engine, so the check needs no run.
local M = {}

-- type -> the module that asks it (nil: Prometheus, in summit.metrics).
M.MODULES = {
  prometheus = false,
  web = "summit.metrics.web",
  datadog = "summit.metrics.datadog",
  cloudwatch = "summit.metrics.cloudwatch",
}

-- type -> key -> the Lua type of its value (true: checked by its module).
M.KEYS = {
  prometheus = { type = "string", url = "string", headers = "table", timeout = "string",
                 cluster = "string" },
  web = { type = "string", url = "string", headers = "table", method = "string",
          json_path = "string", timeout = "string" },
  datadog = { type = "string", url = "string", api_key = "string", app_key = "string",
              interval = "string", timeout = "string" },
  cloudwatch = { type = "string", region = "string", endpoint = "string", access_key_id = "string",
                 secret_access_key = "string", session_token = "string", period = "number",
                 interval = "string", timeout = "string" },
}

M.REQUIRED = {
  datadog = { "api_key", "app_key" },
  cloudwatch = { "region", "access_key_id", "secret_access_key" },
}

local function known(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = tostring(k) end
  table.sort(ks)
  return table.concat(ks, ", ")
end

-- check(where, providers) -> list of problems (texts), sorted.
function M.check(where, providers)
  local probs = {}
  for name, p in pairs(providers) do
    local at = where .. "." .. tostring(name)
    if type(name) ~= "string" or not name:match("^[%w_-]+$") then
      probs[#probs + 1] = at .. ": a provider name is letters, digits, _ and -"
    elseif type(p) ~= "table" then
      probs[#probs + 1] = at .. " must be a table { type = \"web\", ... }"
    elseif not M.KEYS[p.type] then
      probs[#probs + 1] = string.format("%s.type must be one of %s, not %s", at, known(M.KEYS),
        tostring(p.type))
    else
      local keys = M.KEYS[p.type]
      for k, v in pairs(p) do
        local want = keys[k]
        if not want then
          probs[#probs + 1] = string.format("%s: unknown key '%s' for type %s (known: %s)", at,
            tostring(k), p.type, known(keys))
        elseif want ~= true and type(v) ~= want then
          probs[#probs + 1] = string.format("%s.%s must be a %s, not a %s", at, k, want, type(v))
        end
      end
      for _, k in ipairs(M.REQUIRED[p.type] or {}) do
        if p[k] == nil then probs[#probs + 1] = string.format("%s.%s is required (type %s)", at, k, p.type) end
      end
    end
  end
  table.sort(probs)
  return probs
end

return M
