-- Label and field selectors as the API server reads them from a query
-- string (k8s.io/apimachinery/pkg/labels, pkg/fields).
--
-- Labels: requirements joined by commas: `a=b`, `a==b`, `a!=b`,
-- `a in (x,y)`, `a notin (x,y)`, `a` (exists), `!a` (does not exist).
-- Fields: `path=value`, `path==value`, `path!=value` joined by commas,
-- where path is a dotted path into the object (metadata.name,
-- involvedObject.name, status.phase, ...).

local U = require("summit.sim.util")

local M = {}

-- Splits on commas that are not inside parentheses.
local function split_top(s)
  local parts, depth, start = {}, 0, 1
  for i = 1, #s do
    local c = s:sub(i, i)
    if c == "(" then
      depth = depth + 1
    elseif c == ")" then
      depth = depth - 1
    elseif c == "," and depth == 0 then
      parts[#parts + 1] = s:sub(start, i - 1)
      start = i + 1
    end
  end
  parts[#parts + 1] = s:sub(start)
  return parts
end

local KEY = "^[%w][%w%._/%-]*$"

-- parse_labels(text) -> requirements | nil, message
function M.parse_labels(text)
  local reqs = {}
  if text == nil or U.trim(text) == "" then return reqs end
  for _, part in ipairs(split_top(text)) do
    part = U.trim(part)
    local r
    local k, op, set = part:match("^(%S+)%s+(notin)%s*%((.*)%)$")
    if not k then k, op, set = part:match("^(%S+)%s+(in)%s*%((.*)%)$") end
    if k then
      local values = {}
      for _, v in ipairs(U.split(set, ",")) do values[U.trim(v)] = true end
      r = { key = k, op = op, values = values }
    else
      local a, o, b = part:match("^([^!=%s]+)%s*(!=)%s*(.-)$")
      if not a then a, o, b = part:match("^([^!=%s]+)%s*(==)%s*(.-)$") end
      if not a then a, o, b = part:match("^([^!=%s]+)%s*(=)%s*(.-)$") end
      if a then
        r = { key = a, op = o == "!=" and "!=" or "=", value = b }
      elseif part:match("^!%s*[^%s]+$") then
        r = { key = U.trim(part:sub(2)), op = "!exists" }
      elseif part:match(KEY) then
        r = { key = part, op = "exists" }
      end
    end
    if not r or not r.key:match(KEY) then
      return nil, string.format("unable to parse requirement: %q", part)
    end
    reqs[#reqs + 1] = r
  end
  return reqs
end

-- Does a labels map satisfy every requirement?
function M.match_labels(reqs, labels)
  labels = labels or {}
  for _, r in ipairs(reqs) do
    local v = labels[r.key]
    if r.op == "=" then
      if v ~= r.value then return false end
    elseif r.op == "!=" then
      if v == r.value then return false end
    elseif r.op == "in" then
      if v == nil or not r.values[v] then return false end
    elseif r.op == "notin" then
      if v ~= nil and r.values[v] then return false end
    elseif r.op == "exists" then
      if v == nil then return false end
    elseif r.op == "!exists" then
      if v ~= nil then return false end
    end
  end
  return true
end

-- parse_fields(text) -> requirements | nil, message
function M.parse_fields(text)
  local reqs = {}
  if text == nil or U.trim(text) == "" then return reqs end
  for _, part in ipairs(U.split(text, ",")) do
    part = U.trim(part)
    local k, op, v = part:match("^([^!=]+)(!=)(.*)$")
    if not k then k, op, v = part:match("^([^!=]+)(==)(.*)$") end
    if not k then k, op, v = part:match("^([^!=]+)(=)(.*)$") end
    if not k then
      return nil, string.format("invalid selector: '%s'; can't understand '%s'",
                                text, part)
    end
    reqs[#reqs + 1] = { path = U.trim(k), op = op == "!=" and "!=" or "=",
                        value = v }
  end
  return reqs
end

local function field_value(obj, path)
  local v = U.dig(obj, path)
  if v == nil then return "" end
  if type(v) == "table" then return nil end
  return tostring(v)
end

function M.match_fields(reqs, obj)
  for _, r in ipairs(reqs) do
    local v = field_value(obj, r.path)
    if r.op == "=" and v ~= r.value then return false end
    if r.op == "!=" and v == r.value then return false end
  end
  return true
end

-- Requirements of a metav1.LabelSelector (matchLabels, matchExpressions).
function M.from_label_selector(sel)
  local reqs = {}
  if type(sel) ~= "table" then return reqs end
  for _, k in ipairs(U.keys(sel.matchLabels or {})) do
    reqs[#reqs + 1] = { key = k, op = "=", value = sel.matchLabels[k] }
  end
  for _, e in ipairs(sel.matchExpressions or {}) do
    local op = ({ In = "in", NotIn = "notin", Exists = "exists",
                  DoesNotExist = "!exists" })[e.operator]
    if op then
      local values = {}
      for _, v in ipairs(e.values or {}) do values[v] = true end
      reqs[#reqs + 1] = { key = e.key, op = op, values = values }
    end
  end
  return reqs
end

-- The text form of a metav1.LabelSelector, as kubectl and Scale show it.
function M.label_selector_string(sel)
  local parts = {}
  if type(sel) ~= "table" then return "" end
  for _, k in ipairs(U.keys(sel.matchLabels or {})) do
    parts[#parts + 1] = k .. "=" .. sel.matchLabels[k]
  end
  for _, e in ipairs(sel.matchExpressions or {}) do
    local vals = {}
    for _, v in ipairs(e.values or {}) do vals[#vals + 1] = v end
    table.sort(vals)
    if e.operator == "In" then
      parts[#parts + 1] = e.key .. " in (" .. table.concat(vals, ",") .. ")"
    elseif e.operator == "NotIn" then
      parts[#parts + 1] = e.key .. " notin (" .. table.concat(vals, ",") .. ")"
    elseif e.operator == "Exists" then
      parts[#parts + 1] = e.key
    elseif e.operator == "DoesNotExist" then
      parts[#parts + 1] = "!" .. e.key
    end
  end
  return table.concat(parts, ",")
end

return M
