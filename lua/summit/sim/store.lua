-- The object store of the simulated cluster: objects by resource,
-- namespace and name; one global resourceVersion counter (the API treats
-- resourceVersions as opaque strings, one counter is what etcd gives too);
-- a bounded history of changes that watches replay from; watchers; and
-- persistence of the whole state as one JSON file.
--
-- Stored objects are never modified in place: writers build a new table
-- (copy, then change) and hand it over, so a history entry or a list being
-- encoded can never see a later change.
--
-- When is a resourceVersion "too old" to watch from? The history keeps the
-- last HISTORY_MAX changes. compacted_rv is the resourceVersion of the
-- newest change that has been dropped from it (0 while nothing has been).
-- A watch from rv must replay every change newer than rv, so it can be
-- served iff rv >= compacted_rv; an older rv gets 410 Expired and the
-- client re-lists. After a restart the history is empty and compacted_rv
-- is the loaded resourceVersion, so a watch from before the restart is
-- expired too, as it is when a real API server's watch cache restarts.

local S = require("summit.c.server")
local U = require("summit.sim.util")

local M = {}
M.HISTORY_MAX = 1000

local Store = {}
Store.__index = Store

-- new{ state_file = PATH|nil, rng = U.rng, log = fn|nil, history_max = N }
function M.new(o)
  local s = setmetatable({
    rv = 0,
    data = {},            -- resource -> "ns/name" -> object
    history = {},         -- first..last: { rv, type, res, ns, obj, old }
    first = 1, last = 0,
    history_max = o.history_max or M.HISTORY_MAX,
    compacted_rv = 0,
    watchers = {},        -- set of watcher tables
    extra = {},           -- other modules' persisted state (controller, ...)
    file = o.state_file,
    rng = o.rng,
    log = o.log or function() end,
    on_change = {},       -- functions (type, res, obj, old) run after a change
  }, Store)
  return s
end

local function key(ns, name) return (ns or "") .. "/" .. name end

function Store:bucket(res)
  local b = self.data[res]
  if not b then
    b = {}
    self.data[res] = b
  end
  return b
end

-- The stored object (do not modify it; copy first), or nil.
function Store:get(res, ns, name)
  return self:bucket(res)[key(ns, name)]
end

-- Objects of res in namespace ns (every namespace when ns is nil), in
-- key order as etcd lists them.
function Store:list(res, ns)
  local b, keys = self:bucket(res), {}
  for k, obj in pairs(b) do
    if ns == nil or obj.metadata.namespace == ns then keys[#keys + 1] = k end
  end
  table.sort(keys)
  local out = {}
  for i, k in ipairs(keys) do out[i] = b[k] end
  return out
end

-- A UUID-shaped uid from the seeded generator.
function Store:new_uid()
  local r = self.rng
  local function hex(n)
    local t = {}
    for i = 1, n do t[i] = string.format("%x", r.u32() % 16) end
    return table.concat(t)
  end
  return hex(8) .. "-" .. hex(4) .. "-4" .. hex(3) .. "-" ..
    ({ "8", "9", "a", "b" })[r.int(4)] .. hex(3) .. "-" .. hex(12)
end

-- Appends a change to the history (dropping the oldest beyond the bound)
-- and delivers it to the watchers.
function Store:record(typ, res, obj, old)
  local e = { rv = self.rv, type = typ, res = res,
              ns = obj.metadata.namespace, obj = obj, old = old }
  self.last = self.last + 1
  self.history[self.last] = e
  while self.last - self.first + 1 > self.history_max do
    self.compacted_rv = self.history[self.first].rv
    self.history[self.first] = nil
    self.first = self.first + 1
  end
  -- A snapshot of the set: a watcher may stop (and leave it) when called.
  local ws = {}
  for w in pairs(self.watchers) do ws[#ws + 1] = w end
  for _, w in ipairs(ws) do
    if self.watchers[w] then self:deliver(w, e) end
  end
  for _, fn in ipairs(self.on_change) do fn(typ, res, obj, old) end
  self:mark_dirty()
end

-- Adds obj (taken over) as a new object: uid, creationTimestamp and
-- resourceVersion are set here. Returns it.
function Store:create(res, obj)
  local md = obj.metadata
  self.rv = self.rv + 1
  md.uid = md.uid or self:new_uid()
  md.creationTimestamp = md.creationTimestamp or U.rfc3339(U.now_ms())
  md.resourceVersion = tostring(self.rv)
  self:bucket(res)[key(md.namespace, md.name)] = obj
  self:record("ADDED", res, obj, nil)
  return obj
end

-- Replaces the stored object by obj (taken over). Unless it differs from
-- the stored one (resourceVersion aside) nothing happens: no new
-- resourceVersion, no watch event. Returns the stored object and whether
-- it changed.
function Store:update(res, obj)
  local md = obj.metadata
  local b = self:bucket(res)
  local k = key(md.namespace, md.name)
  local old = b[k]
  if old then
    md.resourceVersion = old.metadata.resourceVersion
    if U.canonical(old) == U.canonical(obj) then return old, false end
  end
  self.rv = self.rv + 1
  md.resourceVersion = tostring(self.rv)
  b[k] = obj
  self:record(old and "MODIFIED" or "ADDED", res, obj, old)
  return obj, true
end

-- Removes an object; the DELETED event carries it with a new
-- resourceVersion. Returns the removed object or nil.
function Store:delete(res, ns, name)
  local b = self:bucket(res)
  local k = key(ns, name)
  local old = b[k]
  if not old then return nil end
  b[k] = nil
  self.rv = self.rv + 1
  local gone = U.copy(old)
  gone.metadata.resourceVersion = tostring(self.rv)
  self:record("DELETED", res, gone, old)
  return gone
end

-- ---- watches -------------------------------------------------------------------

-- Sends history entry e to watcher w if it concerns w. A change that makes
-- an object stop matching the watcher's selectors is a DELETED for it, and
-- one that makes it start matching an ADDED, as the API server's cacher
-- does.
function Store:deliver(w, e)
  if e.res ~= w.res then return end
  if w.ns and e.ns ~= w.ns then return end
  local now_ok = w.match(e.obj)
  local was_ok = e.old ~= nil and w.match(e.old)
  local typ = e.type
  if typ == "DELETED" then
    if not (now_ok or was_ok) then return end
  elseif now_ok then
    if typ == "MODIFIED" and not was_ok then typ = "ADDED" end
  elseif was_ok then
    typ = "DELETED"
  else
    return
  end
  w.send(typ, e.obj)
end

-- watch{ res, ns, match = fn(obj) -> bool, since = rv number|nil,
--        send = fn(type, obj) } -> watcher | nil, "expired", compacted_rv
-- since nil or 0: an ADDED for every current object first, then changes.
-- Otherwise the changes after since, replayed from the history, then live
-- ones. stop it with unwatch.
function Store:watch(o)
  local w = { res = o.res, ns = o.ns, match = o.match, send = o.send }
  if not o.since or o.since == 0 then
    for _, obj in ipairs(self:list(o.res, o.ns)) do
      if w.match(obj) then w.send("ADDED", obj) end
    end
  else
    if o.since < self.compacted_rv then
      return nil, "expired", self.compacted_rv
    end
    for i = self.first, self.last do
      local e = self.history[i]
      if e.rv > o.since then self:deliver(w, e) end
    end
  end
  self.watchers[w] = true
  return w
end

function Store:unwatch(w) self.watchers[w] = nil end

-- ---- persistence ----------------------------------------------------------------

-- Debounced: a burst of changes is written once, ~100 ms after the first
-- (of real time: under summit test's virtual clock hours of cluster time
-- may pass in that while, and are written once).
function Store:mark_dirty()
  if not self.file then return end
  self.dirty = true
  if not self.save_timer then
    self.save_timer = S.timer(100, function()
      self.save_timer = nil
      self:save()
    end, 0, true)
  end
end

-- Writes the whole state: a temporary file renamed over the old one, so a
-- crash leaves either the old state or the new, never half of one.
function Store:save()
  if not self.file or not self.dirty then return true end
  if self.before_save then self.before_save() end
  local objects = {}
  for res, b in pairs(self.data) do
    local list = U.A()
    for _, k in ipairs(U.keys(b)) do list[#list + 1] = b[k] end
    objects[res] = list
  end
  local text = U.canonical({ version = 1, resourceVersion = self.rv,
                             objects = objects, extra = self.extra })
  local tmp = self.file .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then
    self.log("cannot write the sim state: " .. tostring(err))
    return false
  end
  local ok, werr = f:write(text, "\n")
  local cok, cerr = f:close()
  if not ok or not cok then
    self.log("cannot write the sim state: " .. tostring(werr or cerr))
    os.remove(tmp)
    return false
  end
  local rok, rerr = os.rename(tmp, self.file)
  if not rok then
    self.log("cannot replace the sim state: " .. tostring(rerr))
    return false
  end
  self.dirty = false
  return true
end

-- Loads the state file if there is one. Returns true if state was loaded,
-- false if there was none, or nil and a message if it is unreadable.
function Store:load()
  if not self.file then return false end
  local f = io.open(self.file, "rb")
  if not f then return false end
  local text = f:read("*a")
  f:close()
  local doc, err = U.decode(text)
  if type(doc) ~= "table" or type(doc.objects) ~= "table" then
    return nil, string.format("%s: not a sim state file (%s)", self.file,
                              err or "no objects")
  end
  for res, list in pairs(doc.objects) do
    local b = self:bucket(res)
    for _, obj in ipairs(list) do
      b[key(obj.metadata.namespace, obj.metadata.name)] = obj
    end
  end
  self.rv = tonumber(doc.resourceVersion) or 0
  self.compacted_rv = self.rv
  self.extra = type(doc.extra) == "table" and doc.extra or {}
  return true
end

-- Stops the save timer and writes what is pending.
function Store:close()
  if self.save_timer then
    self.save_timer:stop()
    self.save_timer = nil
  end
  self:save()
  self.watchers = {}
end

return M
