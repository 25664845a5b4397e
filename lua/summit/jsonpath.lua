-- A JSONPath subset for the web metrics provider (docs/metrics.md#web):
-- what Argo Rollouts' web metric `jsonPath` is used for. A path is `$`
-- followed by steps: `.name`, `['name']` / `["name"]`, `[N]` (negative:
-- from the end), `[*]` / `.*` (every element). Kubernetes-style braces
-- around it (`{$.data.ok}`, as Argo writes it) are accepted.
local M = {}

-- parse(path) -> list of steps { key = string | index = number | all = true },
-- or nil and why.
function M.parse(path)
  if type(path) ~= "string" then return nil, "a string expected" end
  local p = path:match("^%s*{(.*)}%s*$") or path
  p = p:match("^%s*(.-)%s*$")
  if p:sub(1, 1) ~= "$" then return nil, "must start with $" end
  local steps, i = {}, 2
  while i <= #p do
    local c = p:sub(i, i)
    if c == "." then
      local name = p:match("^[%w_%-]+", i + 1)
      if p:sub(i + 1, i + 1) == "*" then
        steps[#steps + 1] = { all = true }; i = i + 2
      elseif name then
        steps[#steps + 1] = { key = name }; i = i + 1 + #name
      else
        return nil, "a name expected after '.' at " .. i
      end
    elseif c == "[" then
      local inner, close = p:match("^%[%s*(.-)%s*()%]", i)
      if not inner then return nil, "unclosed '[' at " .. i end
      local q = inner:match("^'(.*)'$") or inner:match('^"(.*)"$')
      if inner == "*" then
        steps[#steps + 1] = { all = true }
      elseif q then
        steps[#steps + 1] = { key = q }
      elseif inner:match("^%-?%d+$") then
        steps[#steps + 1] = { index = tonumber(inner) }
      else
        return nil, "unsupported selector [" .. inner .. "] (names, numbers and * are)"
      end
      i = close + 1
    else
      return nil, "unexpected '" .. c .. "' at " .. i
    end
  end
  return steps
end

-- eval(steps, doc) -> list of the values the path selects (JSON null
-- and missing keys select nothing).
function M.eval(steps, doc)
  local cur = { doc }
  for _, s in ipairs(steps) do
    local nxt = {}
    for _, v in ipairs(cur) do
      if type(v) == "table" then
        if s.all then
          if #v > 0 then
            for _, x in ipairs(v) do nxt[#nxt + 1] = x end
          else
            local keys = {}
            for k in pairs(v) do keys[#keys + 1] = k end
            table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
            for _, k in ipairs(keys) do nxt[#nxt + 1] = v[k] end
          end
        elseif s.index then
          local n = s.index < 0 and #v + s.index + 1 or s.index + 1
          if v[n] ~= nil then nxt[#nxt + 1] = v[n] end
        elseif v[s.key] ~= nil then
          nxt[#nxt + 1] = v[s.key]
        end
      end
    end
    cur = nxt
  end
  return cur
end

return M
