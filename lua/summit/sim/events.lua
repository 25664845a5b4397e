-- Events as the controllers and the kubelet record them (core/v1 Event):
-- a repeat of the same reason and message about the same object bumps
-- count and lastTimestamp of the existing Event instead of adding one, as
-- client-go's event correlator does. At most MAX events are kept; the
-- oldest go first (a real cluster expires them after an hour).

local U = require("summit.sim.util")

local M = {}
M.MAX = 1000

local Rec = {}
Rec.__index = Rec

function M.new(store)
  return setmetatable({ store = store, seq = 0 }, Rec)
end

local API = {
  Deployment = "apps/v1", ReplicaSet = "apps/v1", Pod = "v1", Service = "v1",
  ConfigMap = "v1", Namespace = "v1",
}

-- emit(obj, type, reason, message, component[, field_path])
-- obj: the involved object (its kind and metadata are read).
function Rec:emit(obj, typ, reason, message, component, field_path)
  local st = self.store
  local md = obj.metadata
  local ns = md.namespace or "default"
  local now = U.rfc3339(U.now_ms())
  local host = component == "kubelet" and "sim-node-1" or nil
  -- Correlate with an existing event in the namespace.
  for _, ev in ipairs(st:list("events", ns)) do
    local io = ev.involvedObject or {}
    if io.uid == md.uid and ev.reason == reason and ev.message == message and
       ev.type == typ and (io.fieldPath or "") == (field_path or "") then
      local e = U.copy(ev)
      e.count = (e.count or 1) + 1
      e.lastTimestamp = now
      st:update("events", e)
      return e
    end
  end
  self.seq = self.seq + 1
  local ev = {
    apiVersion = "v1", kind = "Event",
    metadata = {
      name = string.format("%s.%x%04x", md.name, math.floor(U.now_ms()),
                           self.seq % 0x10000),
      namespace = ns,
    },
    involvedObject = {
      kind = obj.kind, namespace = md.namespace, name = md.name,
      uid = md.uid, apiVersion = API[obj.kind] or obj.apiVersion,
      resourceVersion = md.resourceVersion, fieldPath = field_path,
    },
    reason = reason, message = message, type = typ,
    source = { component = component, host = host },
    firstTimestamp = now, lastTimestamp = now, count = 1,
    reportingComponent = component, reportingInstance = host or "",
  }
  st:create("events", ev)
  self:trim()
  return ev
end

-- Drops the oldest events beyond MAX (a tenth at a time, so this is rare).
function Rec:trim()
  local all = self.store:list("events")
  if #all <= M.MAX then return end
  table.sort(all, function(a, b)
    return tonumber(a.metadata.resourceVersion) < tonumber(b.metadata.resourceVersion)
  end)
  for i = 1, #all - M.MAX + math.floor(M.MAX / 10) do
    self.store:delete("events", all[i].metadata.namespace, all[i].metadata.name)
  end
end

return M
