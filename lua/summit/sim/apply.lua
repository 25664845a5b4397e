-- Field managers for the simulated cluster: server-side apply (PATCH with
-- application/apply-patch+yaml) and the managedFields every write records,
-- as the API server keeps them (FieldsV1 trees, an Apply entry per
-- applier, an Update entry per other writer), with the 409 Conflict an
-- apply gets for a field another manager set to another value.
--
-- A field is a leaf of the object: a map key, or an item of a list with a
-- merge key (containers by name, ports by containerPort, ...); other
-- lists are one field. status and server-set metadata are nobody's.

local U = require("summit.sim.util")

local M = {}

-- List fields whose items are fields of their own, and the item's key.
local MERGE_KEY = {
  containers = "name", initContainers = "name", env = "name", volumes = "name",
  imagePullSecrets = "name", volumeMounts = "mountPath", conditions = "type",
}

local SKIP_META = { name = true, namespace = true, uid = true, resourceVersion = true,
                    generation = true, creationTimestamp = true, managedFields = true,
                    selfLink = true, deletionTimestamp = true,
                    deletionGracePeriodSeconds = true }

local function item_key(field, item)
  if type(item) ~= "table" then return nil end
  local k = MERGE_KEY[field]
  if field == "ports" then k = item.containerPort ~= nil and "containerPort" or "port" end
  if k and item[k] ~= nil then return k, item[k] end
end

-- Walks value at segments segs (FieldsV1 keys: "f:spec", 'k:{"name":"web"}')
-- and calls leaf(segs, value) for each field.
local function walk(value, segs, field, leaf)
  if type(value) == "table" and not U.is_array(value) and next(value) ~= nil then
    for _, k in ipairs(U.keys(value)) do
      local skip = (#segs == 0 and (k == "apiVersion" or k == "kind" or k == "status")) or
        (#segs == 1 and segs[1] == "f:metadata" and SKIP_META[k])
      if not skip then
        segs[#segs + 1] = "f:" .. k
        walk(value[k], segs, k, leaf)
        segs[#segs] = nil
      end
    end
  elseif type(value) == "table" and U.is_array(value) and #value > 0 and
         item_key(field, value[1]) then
    for _, item in ipairs(value) do
      local k, v = item_key(field, item)
      if k then
        segs[#segs + 1] = "k:" .. U.canonical({ [k] = v })
        walk(item, segs, nil, leaf)
        segs[#segs] = nil
      end
    end
  elseif #segs > 0 then
    leaf(segs, value)
  end
end

-- path string -> { segs, canonical value } for every field of obj.
function M.fields(obj)
  local out = {}
  walk(obj, {}, nil, function(segs, v)
    out[table.concat(segs, "\0")] = { segs = { unpack(segs) }, value = U.canonical(v) }
  end)
  return out
end

-- A set of paths as a FieldsV1 tree, and back.
local function tree(set)
  local root = {}
  for _, p in pairs(set) do
    local node = root
    for _, s in ipairs(p.segs) do
      node[s] = node[s] or {}
      node = node[s]
    end
  end
  return root
end

local function flatten(node, segs, out)
  local any = false
  for k, child in pairs(node) do
    if k ~= "." then
      any = true
      segs[#segs + 1] = k
      flatten(child, segs, out)
      segs[#segs] = nil
    end
  end
  if not any and #segs > 0 then
    out[table.concat(segs, "\0")] = { segs = { unpack(segs) } }
  end
  return out
end

-- How the API server prints a path: .spec.template.spec.containers[name="web"].image
function M.display(segs)
  local parts = {}
  for _, s in ipairs(segs) do
    if s:sub(1, 2) == "f:" then
      parts[#parts + 1] = "." .. s:sub(3)
    else
      local k, v = next(U.decode(s:sub(3)))
      parts[#parts + 1] = string.format("[%s=%s]", k, U.encode(v))
    end
  end
  return table.concat(parts)
end

local function entry(manager, operation, api_version, set)
  return { manager = manager, operation = operation, apiVersion = api_version,
           time = U.rfc3339(U.now_ms()), fieldsType = "FieldsV1", fieldsV1 = tree(set) }
end

local function sets_of(obj)
  local out = {}
  for _, e in ipairs((obj and obj.metadata and obj.metadata.managedFields) or {}) do
    out[#out + 1] = { e = e, set = flatten(e.fieldsV1 or {}, {}, {}) }
  end
  return out
end

-- The managedFields list from sets (entries left with no field go).
local function rebuild(sets)
  local out = U.A()
  for _, s in ipairs(sets) do
    if next(s.set) ~= nil then
      s.e.fieldsV1 = tree(s.set)
      out[#out + 1] = s.e
    end
  end
  return out
end

-- managedFields after an update (create, PUT, patch) by manager from old
-- (nil on create) to new: the fields it changed become its own.
function M.record_update(old, new, manager, api_version)
  local before, after = old and M.fields(old) or {}, M.fields(new)
  local changed = {}
  for p, f in pairs(after) do
    if not before[p] or before[p].value ~= f.value then changed[p] = f end
  end
  local sets = sets_of(old)
  local mine
  for _, s in ipairs(sets) do
    for p in pairs(s.set) do
      if changed[p] or not after[p] then s.set[p] = nil end
    end
    if s.e.manager == manager and s.e.operation == "Update" then mine = s end
  end
  if not mine then
    mine = { e = entry(manager, "Update", api_version, {}), set = {} }
    sets[#sets + 1] = mine
  end
  mine.e.time = U.rfc3339(U.now_ms())
  for p, f in pairs(changed) do mine.set[p] = f end
  return rebuild(sets)
end

-- Removes the field at segs[i..] from node (a field the applier no
-- longer sets): a keyed list item goes with its key, and maps and lists
-- left empty on the way go too. True when node is left empty.
local function remove(node, segs, i)
  if type(node) ~= "table" then return false end
  local s = segs[i]
  if s:sub(1, 2) == "f:" then
    local k = s:sub(3)
    if i == #segs or remove(node[k], segs, i + 1) then node[k] = nil end
  else
    local k, v = next(U.decode(s:sub(3)))
    for j, item in ipairs(node) do
      if type(item) == "table" and item[k] == v then
        local key_field = i == #segs - 1 and segs[#segs] == "f:" .. k
        if i == #segs or key_field or remove(item, segs, i + 1) then table.remove(node, j) end
        break
      end
    end
  end
  return next(node) == nil
end

-- Server-side apply of config by manager onto cur (nil: the object is
-- created). Returns the object to store and its managedFields, or nil and
-- the conflicts { { manager, path } } when force is false.
function M.apply(cur, config, manager, force, api_version, merge)
  local applied = M.fields(config)
  local sets = sets_of(cur)
  local now = cur and M.fields(cur) or {}
  local conflicts, mine = {}, nil
  for _, s in ipairs(sets) do
    if s.e.manager == manager and s.e.operation == "Apply" then
      mine = s
    else
      for p in pairs(s.set) do
        if applied[p] and now[p] and now[p].value ~= applied[p].value then
          if force then s.set[p] = nil
          else conflicts[#conflicts + 1] = { manager = s.e.manager, path = M.display(applied[p].segs),
                                             api_version = s.e.apiVersion } end
        end
      end
    end
  end
  if #conflicts > 0 then
    table.sort(conflicts, function(a, b)
      if a.manager ~= b.manager then return a.manager < b.manager end
      return a.path < b.path
    end)
    return nil, conflicts
  end
  local obj = cur and merge(cur, config) or U.copy(config)
  -- Fields this manager applied before and no longer does, and nobody
  -- else owns, are removed.
  if mine then
    for p, f in pairs(mine.set) do
      local owned = applied[p] ~= nil
      for _, s in ipairs(sets) do owned = owned or (s ~= mine and s.set[p] ~= nil) end
      if not owned then remove(obj, f.segs, 1) end
    end
  else
    mine = { e = entry(manager, "Apply", api_version, {}) }
    sets[#sets + 1] = mine
  end
  mine.set, mine.e.time = applied, U.rfc3339(U.now_ms())
  return obj, rebuild(sets)
end

-- The Status message of conflicts, as the API server words it.
function M.conflict_message(conflicts)
  local n = #conflicts
  local head = string.format("Apply failed with %d conflict%s: ", n, n == 1 and "" or "s")
  if n == 1 then
    local c = conflicts[1]
    return head .. string.format('conflict with "%s" using %s: %s', c.manager, c.api_version, c.path)
  end
  local lines, last = {}, nil
  for _, c in ipairs(conflicts) do
    if c.manager ~= last then
      lines[#lines + 1] = string.format('conflicts with "%s" using %s:', c.manager, c.api_version)
      last = c.manager
    end
    lines[#lines + 1] = "- " .. c.path
  end
  return head .. table.concat(lines, "\n")
end

return M
