-- The three PATCH flavours of the Kubernetes API, on decoded documents
-- (json.null for null, marked arrays; see util.lua):
--
--   json(doc, ops)            RFC 6902 JSON patch (application/json-patch+json)
--   merge(doc, patch)         RFC 7386 merge patch (application/merge-patch+json)
--   strategic(doc, patch, kind)
--                             strategic merge patch (application/strategic-
--                             merge-patch+json): a merge patch in which lists
--                             of objects with a merge key merge element by
--                             element, with the $patch, $setElementOrder,
--                             $deleteFromPrimitiveList and $retainKeys
--                             directives.
--
-- Each returns the new document (doc itself is not modified) or nil and a
-- message. Nulls left in the result are for the caller to strip.

local U = require("summit.sim.util")

local null, copy, is_array = U.null, U.copy, U.is_array

local M = {}

-- ---- RFC 6902 --------------------------------------------------------------

-- "/a/b~1c/0" -> {"a", "b/c", "0"}
local function pointer(path)
  if path == "" then return {} end
  if path:sub(1, 1) ~= "/" then return nil end
  local parts = U.split(path:sub(2), "/")
  for i, p in ipairs(parts) do
    parts[i] = p:gsub("~1", "/"):gsub("~0", "~")
  end
  return parts
end

local function is_list(t) return type(t) == "table" and is_array(t) end

-- The Lua index of token tok in array arr (for "add", "-" or #arr is allowed).
local function index_of(arr, tok, adding)
  if adding and tok == "-" then return #arr + 1 end
  if not tok:match("^%d+$") or (tok:match("^0%d") ) then return nil end
  local i = tonumber(tok) + 1
  local max = adding and #arr + 1 or #arr
  if i < 1 or i > max then return nil end
  return i
end

-- The container of the last token, and that token.
local function parent_of(doc, parts)
  local cur = doc
  for i = 1, #parts - 1 do
    local tok = parts[i]
    if is_list(cur) then
      local idx = index_of(cur, tok, false)
      if not idx then return nil end
      cur = cur[idx]
    elseif type(cur) == "table" then
      cur = cur[tok]
    else
      return nil
    end
    if type(cur) ~= "table" then return nil end
  end
  return cur, parts[#parts]
end

local function get_at(doc, parts)
  if #parts == 0 then return doc end
  local parent, tok = parent_of(doc, parts)
  if not parent then return nil end
  if is_list(parent) then
    local idx = index_of(parent, tok, false)
    return idx and parent[idx]
  end
  return parent[tok]
end

function M.json(doc, ops)
  if not is_list(ops) then
    return nil, "the body of a JSON patch must be a list of operations"
  end
  doc = copy(doc)
  for n, op in ipairs(ops) do
    if type(op) ~= "table" or type(op.op) ~= "string" or type(op.path) ~= "string" then
      return nil, string.format("operation %d: needs op and path", n)
    end
    local parts = pointer(op.path)
    if not parts then
      return nil, string.format("operation %d: bad path %q", n, op.path)
    end
    local function fail(why)
      return nil, string.format("%s operation does not apply: %s", op.op, why)
    end
    local function add(parts_, value)
      if #parts_ == 0 then
        doc = value
        return true
      end
      local parent, tok = parent_of(doc, parts_)
      if not parent then return false, "doc is missing path: " .. op.path end
      if is_list(parent) then
        local idx = index_of(parent, tok, true)
        if not idx then return false, "index out of range: " .. op.path end
        table.insert(parent, idx, value)
      else
        parent[tok] = value
      end
      return true
    end
    local function remove(parts_)
      if #parts_ == 0 then return false, "cannot remove the whole document" end
      local parent, tok = parent_of(doc, parts_)
      if not parent then return false, "doc is missing path: " .. op.path end
      local old
      if is_list(parent) then
        local idx = index_of(parent, tok, false)
        if not idx then return false, "index out of range: " .. op.path end
        old = table.remove(parent, idx)
      else
        old = parent[tok]
        if old == nil then
          return false, "doc is missing key: " .. op.path
        end
        parent[tok] = nil
      end
      return true, old
    end
    local kind = op.op
    if kind == "add" then
      if op.value == nil then return fail("missing value") end
      local ok, why = add(parts, copy(op.value))
      if not ok then return fail(why) end
    elseif kind == "remove" then
      local ok, why = remove(parts)
      if not ok then return fail(why) end
    elseif kind == "replace" then
      if op.value == nil then return fail("missing value") end
      if #parts == 0 then
        doc = copy(op.value)
      else
        if get_at(doc, parts) == nil then
          return fail("doc is missing key: " .. op.path)
        end
        local ok, why = remove(parts)
        if not ok then return fail(why) end
        ok, why = add(parts, copy(op.value))
        if not ok then return fail(why) end
      end
    elseif kind == "move" or kind == "copy" then
      local from = type(op.from) == "string" and pointer(op.from)
      if not from then return fail("bad from") end
      local v = get_at(doc, from)
      if v == nil then return fail("doc is missing from path: " .. op.from) end
      if kind == "move" then
        local ok, why = remove(from)
        if not ok then return fail(why) end
      else
        v = copy(v)
      end
      local ok, why = add(parts, v)
      if not ok then return fail(why) end
    elseif kind == "test" then
      local v = get_at(doc, parts)
      if v == nil or not U.equal(v, op.value) then
        return nil, string.format("testing value %s failed", op.path)
      end
    else
      return nil, string.format("unexpected kind: %s", kind)
    end
  end
  return doc
end

-- ---- RFC 7386 ----------------------------------------------------------------

local function is_map(t) return type(t) == "table" and not is_array(t) end

local function merge(target, patch)
  if not is_map(patch) then return copy(patch) end
  if not is_map(target) then target = {} end
  for k, v in pairs(patch) do
    if v == null then
      target[k] = nil
    else
      target[k] = merge(target[k], v)
    end
  end
  return target
end

function M.merge(doc, patch)
  if not is_map(patch) then
    if patch == null then return nil, "a merge patch cannot be null" end
    return copy(patch)
  end
  return merge(copy(doc), patch)
end

-- ---- strategic merge ------------------------------------------------------------

-- patchMergeKey of the list fields Kubernetes merges element by element
-- (k8s.io/api core/v1 and apps/v1 types.go). Lists not named here are
-- replaced whole, as atomic lists are (args, command, tolerations, ...).
local MERGE_KEYS = {
  containers = "name", initContainers = "name", ephemeralContainers = "name",
  env = "name", volumes = "name", volumeMounts = "mountPath",
  volumeDevices = "devicePath", imagePullSecrets = "name",
  hostAliases = "ip", conditions = "type", ownerReferences = "uid",
  resourceClaims = "name", topologySpreadConstraints = "topologyKey",
  -- ports: containerPort in a container, port in a Service (see key_of)
}
-- Lists of scalars with the merge strategy: elements are a set.
local MERGE_SCALARS = { finalizers = true }

local function key_of(field, kind)
  if field == "ports" then
    return kind == "Service" and "port" or "containerPort"
  end
  return MERGE_KEYS[field]
end

-- A value from the patch, to be stored: directives removed inside.
local function clean(v)
  if type(v) ~= "table" then return v end
  if is_array(v) then
    -- Elements that are directives ({"$patch": ...}) are dropped.
    local out = U.A()
    for i = 1, #v do
      local x = v[i]
      if not (is_map(x) and x["$patch"]) then out[#out + 1] = clean(x) end
    end
    return out
  end
  local r = {}
  for k, x in pairs(v) do
    if not (type(k) == "string" and k:sub(1, 1) == "$") then r[k] = clean(x) end
  end
  return r
end

local smp

local function find_by(list, key, value)
  for i, el in ipairs(list) do
    if is_map(el) and el[key] == value then return i end
  end
  return nil
end

-- Merges patch list pl into list orig by key.
local function merge_list(orig, pl, key, kind)
  local out = U.A(copy(orig or {}))
  for _, pe in ipairs(pl) do
    if is_map(pe) and pe["$patch"] == "replace" then
      return clean(pl)
    end
  end
  for _, pe in ipairs(pl) do
    if is_map(pe) then
      local kv = pe[key]
      local i = kv ~= nil and find_by(out, key, kv)
      if pe["$patch"] == "delete" then
        while i do
          table.remove(out, i)
          i = find_by(out, key, kv)
        end
      elseif i then
        local merged, err = smp(out[i], pe, kind)
        if merged == nil and err then return nil, err end
        out[i] = merged
      else
        local el = clean(pe)
        out[#out + 1] = el
      end
    else
      out[#out + 1] = copy(pe)
    end
  end
  return out
end

-- Reorders list by the order given in a $setElementOrder list: the named
-- elements in that order, anything not named after them in its old order.
local function set_order(list, order, key)
  if type(list) ~= "table" then return list end
  local out, used = U.A(), {}
  for _, o in ipairs(order) do
    local kv = is_map(o) and o[key] or o
    for i, el in ipairs(list) do
      local ev = is_map(el) and el[key] or el
      if not used[i] and ev == kv then
        out[#out + 1] = el
        used[i] = true
        break
      end
    end
  end
  for i, el in ipairs(list) do
    if not used[i] then out[#out + 1] = el end
  end
  return out
end

-- Merges map patch into target (copied); nil means "delete this map".
smp = function(target, patch, kind)
  if not is_map(patch) then return clean(patch) end
  local directive = patch["$patch"]
  if directive == "delete" then return nil end
  if directive == "replace" then return clean(patch) end
  if directive ~= nil then
    return nil, string.format("unknown patch type %q", tostring(directive))
  end
  target = is_map(target) and copy(target) or {}
  local orders = {}
  for k, v in pairs(patch) do
    if type(k) ~= "string" then
      -- not reachable from decoded JSON
    elseif k:match("^%$setElementOrder/") then
      orders[k:sub(#"$setElementOrder/" + 1)] = v
    elseif k:match("^%$deleteFromPrimitiveList/") then
      local field = k:sub(#"$deleteFromPrimitiveList/" + 1)
      local list = target[field]
      if is_list(list) and is_list(v) then
        local drop = {}
        for _, x in ipairs(v) do drop[x] = true end
        local out = U.A()
        for _, x in ipairs(list) do
          if not drop[x] then out[#out + 1] = x end
        end
        target[field] = out
      end
    elseif k == "$retainKeys" then
      if is_list(v) then
        local keep = {}
        for _, x in ipairs(v) do keep[x] = true end
        for tk in pairs(target) do
          if not keep[tk] and patch[tk] == nil then target[tk] = nil end
        end
      end
    elseif v == null then
      target[k] = nil
    elseif is_list(v) then
      local key = key_of(k, kind)
      if key and (target[k] == nil or is_list(target[k])) then
        local merged, err = merge_list(target[k], v, key, kind)
        if not merged then return nil, err end
        target[k] = merged
      elseif MERGE_SCALARS[k] and is_list(target[k]) then
        local out, seen = U.A(copy(target[k])), {}
        for _, x in ipairs(out) do seen[x] = true end
        for _, x in ipairs(v) do
          if not seen[x] then out[#out + 1] = x end
        end
        target[k] = out
      else
        target[k] = clean(v)
      end
    elseif is_map(v) then
      local merged, err = smp(target[k], v, kind)
      if merged == nil and err then return nil, err end
      target[k] = merged
    else
      target[k] = v
    end
  end
  for field, order in pairs(orders) do
    if is_list(order) and target[field] ~= nil then
      target[field] = set_order(target[field], order, key_of(field, kind) or "name")
    end
  end
  return target
end

function M.strategic(doc, patch, kind)
  if not is_map(patch) then
    return nil, "a strategic merge patch must be a JSON object"
  end
  local r, err = smp(doc, patch, kind)
  if r == nil then return nil, err or "the patch deletes the whole object" end
  return r
end

return M
