-- The HTTP face of the simulated cluster: routing, discovery, the verbs
-- (get, list, watch, create, update, patch, delete), subresources (scale,
-- log, exec), Table output and Status errors, following the protocol
-- facts of shared/reference/kubernetes-prometheus.md.

local S = require("summit.c.server")
local U = require("summit.sim.util")
local SEL = require("summit.sim.selector")
local P = require("summit.sim.patch")
local R = require("summit.sim.resources")
local TBL = require("summit.sim.tables")
local LOGS = require("summit.sim.logs")
local PB = require("summit.sim.protobuf")
local METRICS = require("summit.sim.metrics")
local OPENAPI = require("summit.sim.openapi")
local SSA = require("summit.sim.apply")

local M = {}

-- /version: the gcloud kubectl dispatcher picks kubectl.1.<minor> from it,
-- and minor "32" selects the kubectl these contracts were checked with.
M.VERSION = {
  major = "1", minor = "32", gitVersion = "v1.32.0",
  gitCommit = "0000000000000000000000000000000000000000",
  gitTreeState = "clean", buildDate = "2024-12-11T00:00:00Z",
  goVersion = "go1.23.3", compiler = "gc", platform = "linux/amd64",
}

local Api = {}
Api.__index = Api

function M.new(sim)
  return setmetatable({
    sim = sim, store = sim.store, ctl = sim.controller, scn = sim.scenario,
    -- Its own generator: which requests fail does not depend on how many
    -- pod names were drawn.
    err_rng = U.rng((tonumber(sim.scenario.seed) or 1) + 7919),
    streams = {},   -- open watch and follow streams: stop function -> true
  }, Api)
end

-- ---- errors ---------------------------------------------------------------------

local HttpError = {}

-- Raises a Kubernetes Status error; the request handler answers it.
local function fail(code, reason, message, details)
  error(setmetatable({ code = code, reason = reason, message = message,
                       details = details }, HttpError), 0)
end

local function status_obj(e)
  return { kind = "Status", apiVersion = "v1", metadata = {},
           status = "Failure", message = e.message, reason = e.reason,
           details = e.details, code = e.code }
end

local function not_found(def, name)
  fail(404, "NotFound", string.format('%s "%s" not found', def.qualified, name),
       { name = name, group = def.group ~= "" and def.group or nil,
         kind = def.name })
end

local function no_route()
  fail(404, "NotFound", "the server could not find the requested resource", {})
end

local function method_not_allowed()
  fail(405, "MethodNotAllowed",
       "the server does not allow this method on the requested resource", {})
end

local function invalid(def, name, causes)
  local parts = {}
  for _, c in ipairs(causes) do
    parts[#parts + 1] = c.field .. ": " .. c.message
  end
  -- One cause as it is, several in brackets (apimachinery's aggregate).
  local list = #parts == 1 and parts[1] or ("[" .. table.concat(parts, ", ") .. "]")
  local what = def.group == "" and def.kind or (def.kind .. "." .. def.group)
  local msg = string.format('%s "%s" is invalid: %s', what, name or "", list)
  fail(422, "Invalid", msg, { name = name, group = def.group ~= "" and def.group or nil,
                              kind = def.kind, causes = U.A(causes) })
end

local function conflict(def, name)
  fail(409, "Conflict", string.format(
    'Operation cannot be fulfilled on %s "%s": the object has been modified; please apply your changes to the latest version and try again',
    def.qualified, name), { name = name, group = def.group ~= "" and def.group or nil,
                            kind = def.name })
end

-- Go's %q of a string (strconv.Quote, for printable UTF-8 input).
local function go_quote(str)
  local esc = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r",
                ["\t"] = "\\t" }
  return '"' .. str:gsub('[%c"\\]', function(ch)
    return esc[ch] or string.format("\\x%02x", ch:byte())
  end) .. '"'
end

-- Go's %+v of a decoded JSON value (map[k:v ...] with sorted keys, [a b],
-- <nil>), as the API server prints a strategic merge patch.
local function go_v(v)
  local t = type(v)
  if v == U.null then return "<nil>" end
  if t == "number" then
    if v == math.floor(v) and math.abs(v) < 2 ^ 63 then return string.format("%d", v) end
    return R.go_float(v)
  elseif t == "table" then
    local parts = {}
    if U.is_array(v) then
      for i = 1, #v do parts[i] = go_v(v[i]) end
      return "[" .. table.concat(parts, " ") .. "]"
    end
    for _, k in ipairs(U.keys(v)) do parts[#parts + 1] = k .. ":" .. go_v(v[k]) end
    return "map[" .. table.concat(parts, " ") .. "]"
  end
  return tostring(v)
end

-- A body that Go could not decode into the kind's struct (a number that
-- is no int32): 400, as handlers/create.go transformDecodeError words it.
local function check_body_decodes(kind, obj)
  local e = R.int32_misfit(kind, obj)
  if e then
    fail(400, "BadRequest", string.format('%s in version "v1" cannot be handled as a %s: %s',
                                          kind, kind, R.json_misfit_message(e)), {})
  end
end

-- A patch whose result Go could not decode: 422 with the cause on field
-- "patch" and no kind or name (handlers/patch.go), which kubectl prints as
-- "The request is invalid: patch: Invalid value: ...".
local function patch_invalid(value, message)
  local body = "Invalid value: " .. go_quote(value) .. ": " .. message
  fail(422, "Invalid", ' "" is invalid: patch: ' .. body,
       { causes = U.A({ { reason = "FieldValueInvalid", message = body, field = "patch" } }) })
end

-- ?fieldValidation=Strict (kubectl's default --validate=strict): a field
-- the kind does not have is a 400 as the API server's strict decoding
-- words it; Warn: a Warning header per field (kubectl prints them). No
-- parameter or Ignore: nothing is checked and the sim keeps the field.
local function check_fields(c, def, obj)
  local mode = c.q.fieldValidation
  if mode ~= "Strict" and mode ~= "Warn" then return end
  local errs = OPENAPI.unknown_fields(def, obj)
  if #errs == 0 then return end
  if mode == "Strict" then
    fail(400, "BadRequest", string.format(
      '%s in version "%s" cannot be handled as a %s: strict decoding error: %s',
      def.kind, def.version, def.kind, table.concat(errs, ", ")), {})
  end
  c.warnings = {}
  for i, e in ipairs(errs) do c.warnings[i] = "299 - " .. go_quote(e) end
end

-- The field manager of a write: ?fieldManager=, else the client's name
-- from its User-Agent (kubectl/v1.32.4 ... -> "kubectl"), as the API
-- server defaults it.
local function manager_of(c)
  local m = c.q.fieldManager
  if m and m ~= "" then return m end
  local ua = c.req.headers["user-agent"] or ""
  return ua:match("^([^/%s]+)") or "unknown"
end

-- ---- responses ------------------------------------------------------------------

local JSON = "application/json"

-- c: the request context { x, req, q, code }.
local function respond(c, code, body, ctype, extra)
  local h = { ["Content-Type"] = ctype or JSON,
              ["Cache-Control"] = "no-cache, private" }
  for k, v in pairs(extra or {}) do h[k] = v end
  if c.warnings then h["Warning"] = table.concat(c.warnings, ", ") end
  c.code = code
  c.x:respond(code, h, body)
end

local function send(c, code, obj, ctype, extra)
  respond(c, code, U.encode(obj) .. "\n", ctype, extra)
end

local function wants_table(req)
  return (req.headers.accept or ""):find("as=Table", 1, true) ~= nil
end

local function media_type(req)
  local ct = req.headers["content-type"] or ""
  return (ct:match("^%s*([^;%s]+)") or ""):lower()
end

-- The decoded JSON body (an object), or a 400/415.
local function body_object(c)
  local mt = media_type(c.req)
  if mt == "application/vnd.kubernetes.protobuf" then
    local obj, err = PB.decode(c.req.body)
    if not obj then fail(415, "UnsupportedMediaType", err, {}) end
    return obj
  end
  if mt ~= "" and mt ~= "application/json" and mt ~= "*/*" then
    fail(415, "UnsupportedMediaType", string.format(
      'the body of the request was in an unknown format - accepted media types include: application/json (got "%s")', mt), {})
  end
  local obj, err = U.decode(c.req.body)
  if type(obj) ~= "table" or U.is_array(obj) then
    fail(400, "BadRequest", "the body of the request is not a JSON object: " ..
         (err or "got " .. type(obj)), {})
  end
  return obj
end

-- ---- discovery ---------------------------------------------------------------------

-- The core resources, and the named groups in the order discovery lists
-- them: { { name, version, defs }, ... } (one served version per group).
local function groups()
  local core, named, by = {}, {}, {}
  for _, def in ipairs(R.list) do
    if def.group == "" then
      core[#core + 1] = def
    else
      local g = by[def.group]
      if not g then
        g = { name = def.group, version = def.version, defs = {} }
        by[def.group] = g
        named[#named + 1] = g
      end
      g.defs[#g.defs + 1] = def
    end
  end
  return core, named, by
end

local function v2_resource(def)
  local subs = U.A()
  for _, s in ipairs(def.subresources or {}) do
    subs[#subs + 1] = {
      subresource = s.name,
      responseKind = { group = s.group or def.group, version = s.version or def.version,
                       kind = s.kind },
      verbs = U.A(U.copy(s.verbs)),
    }
  end
  return {
    resource = def.name,
    responseKind = { group = def.group, version = def.version, kind = def.kind },
    scope = def.namespaced and "Namespaced" or "Cluster",
    singularResource = def.singular,
    verbs = U.A(U.copy(def.verbs)),
    shortNames = U.A(U.copy(def.short or {})),
    categories = def.categories and U.A(U.copy(def.categories)) or nil,
    subresources = #subs > 0 and subs or nil,
  }
end

local function v2_group(name, version, defs)
  local res = U.A()
  for _, def in ipairs(defs) do res[#res + 1] = v2_resource(def) end
  return {
    metadata = name and { name = name } or {},
    versions = U.A({ { version = version, resources = res, freshness = "Current" } }),
  }
end

local V2_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

local function resource_list(gv, defs)
  local res = U.A()
  for _, def in ipairs(defs) do
    res[#res + 1] = {
      name = def.name, singularName = def.singular, namespaced = def.namespaced,
      kind = def.kind, verbs = U.A(U.copy(def.verbs)),
      shortNames = U.A(U.copy(def.short or {})),
      categories = def.categories and U.A(U.copy(def.categories)) or nil,
    }
    for _, s in ipairs(def.subresources or {}) do
      res[#res + 1] = {
        name = def.name .. "/" .. s.name, singularName = "",
        namespaced = def.namespaced, group = s.group, version = s.version,
        kind = s.kind, verbs = U.A(U.copy(s.verbs)),
      }
    end
  end
  return { kind = "APIResourceList", apiVersion = "v1", groupVersion = gv,
           resources = res }
end

-- An APIGroup as /apis lists it.
local function api_group(g)
  local gv = { groupVersion = g.name .. "/" .. g.version, version = g.version }
  return { name = g.name, versions = U.A({ gv }), preferredVersion = U.copy(gv) }
end

-- The resource types of group ("" or a named group), nil for another.
local function defs_of_group(group)
  local core, _, by = groups()
  if group == "" then return core end
  return by[group] and by[group].defs
end

-- Answers the discovery paths; false if path is not one.
function Api:discovery(c, path)
  local core, named, by = groups()
  -- Aggregated discovery only for clients that ask for v2 (kubectl 1.28
  -- asks for v2beta1 only and fails on a v2 body).
  local v2 = (c.req.headers.accept or ""):find("v=v2;", 1, true) ~= nil
  local gname, gver = path:match("^/apis/([^/]+)/?([^/]*)$")
  local g = gname and by[gname]
  if path == "/version" then
    send(c, 200, M.VERSION)
  elseif path == "/api" then
    if v2 then
      send(c, 200, { kind = "APIGroupDiscoveryList",
                     apiVersion = "apidiscovery.k8s.io/v2", metadata = {},
                     items = U.A({ v2_group(nil, "v1", core) }) }, V2_TYPE)
    else
      send(c, 200, { kind = "APIVersions", versions = U.A({ "v1" }),
                     serverAddressByClientCIDRs = U.A({ {
                       clientCIDR = "0.0.0.0/0", serverAddress = "127.0.0.1" } }) })
    end
  elseif path == "/apis" then
    local items = U.A()
    for _, x in ipairs(named) do
      items[#items + 1] = v2 and v2_group(x.name, x.version, x.defs) or api_group(x)
    end
    if v2 then
      send(c, 200, { kind = "APIGroupDiscoveryList",
                     apiVersion = "apidiscovery.k8s.io/v2", metadata = {},
                     items = items }, V2_TYPE)
    else
      send(c, 200, { kind = "APIGroupList", apiVersion = "v1", groups = items })
    end
  elseif path == "/api/v1" then
    send(c, 200, resource_list("v1", core))
  elseif g and gver == g.version then
    send(c, 200, resource_list(g.name .. "/" .. g.version, g.defs))
  elseif g and gver == "" then
    local doc = api_group(g)
    doc.kind, doc.apiVersion = "APIGroup", "v1"
    send(c, 200, doc)
  elseif path == "/healthz" or path == "/livez" or path == "/readyz" then
    respond(c, 200, "ok", "text/plain; charset=utf-8")
  elseif path == "/openapi/v3" then
    send(c, 200, OPENAPI.index(defs_of_group))
  elseif path:match("^/openapi/v3/") then
    -- kubectl asks for the document by the URL the index gave (?hash=),
    -- as JSON; /openapi/v2 (protobuf only) stays 404, which kubectl
    -- tolerates once v3 is there.
    local doc = OPENAPI.document(path:sub(#"/openapi/v3/" + 1), defs_of_group)
    if not doc then no_route() end
    respond(c, 200, doc, JSON)
  else
    return false
  end
  return true
end

-- Paths whose answers are never replaced by an injected error: the
-- dispatcher's /version, discovery and OpenAPI.
local function exempt(path)
  return path == "/version" or path == "/api" or path == "/apis" or
    path == "/api/v1" or path:match("^/apis/[^/]+$") or
    path:match("^/apis/[^/]+/[^/]+$") or path:match("^/openapi") or
    path == "/healthz" or path == "/livez" or path == "/readyz"
end

local INJECTED = {
  [500] = { "InternalError", "Internal error occurred: injected by the summit sim scenario (api_error_rate)" },
  [429] = { "TooManyRequests", "the server has received too many requests and has asked us to try again later (injected by the summit sim scenario)" },
  [503] = { "ServiceUnavailable", "the server is currently unable to handle the request (injected by the summit sim scenario)" },
}

function Api:maybe_inject(c, path)
  local rate = self.scn.api_error_rate or 0
  if rate <= 0 or exempt(path) then return false end
  if self.err_rng.float() >= rate then return false end
  local codes = self.scn.api_error_codes or { 500 }
  local code = tonumber(codes[self.err_rng.int(#codes)]) or 500
  local info = INJECTED[code] or { "InternalError", "injected error" }
  local extra
  if code == 429 or code == 503 then extra = { ["Retry-After"] = "1" } end
  send(c, code, status_obj({ code = code, reason = info[1], message = info[2],
                              details = { retryAfterSeconds = extra and 1 or nil } }),
       nil, extra)
  return true
end

-- ---- the request handler --------------------------------------------------------------

function Api:handle(req, x)
  local c = { x = x, req = req, q = req.query, code = 0 }
  local path = req.path:gsub("/+$", "")
  if path == "" then path = "/" end
  local ok, err = xpcall(function()
    -- Application metrics first: injected API errors are the API server's.
    if METRICS.serve(self.sim, c, path) then return end
    if self:maybe_inject(c, path) then return end
    if self:discovery(c, path) then return end
    self:route(c, path)
  end, function(e)
    if getmetatable(e) == HttpError then return e end
    return debug.traceback(tostring(e), 2)
  end)
  if not ok then
    if getmetatable(err) == HttpError then
      if x:open() then send(c, err.code, status_obj(err)) end
    else
      self.sim.log("internal error: " .. tostring(err))
      if x:open() then
        send(c, 500, status_obj({ code = 500, reason = "InternalError",
                                  message = "Internal error occurred: " ..
                                    tostring(err):match("^[^\n]*"), details = {} }))
      end
    end
  end
  if self.sim.access_log then
    self.sim.access_log(string.format("%s %s -> %d", req.method, req.url, c.code))
  end
end

-- Splits /api/v1/... and /apis/GROUP/VERSION/... into the group and the
-- rest; nil if the path is neither.
local function split_path(path)
  local segs = {}
  for s in path:gmatch("[^/]+") do segs[#segs + 1] = s end
  local group, rest
  if segs[1] == "api" and segs[2] == "v1" then
    group, rest = "", { unpack(segs, 3) }
  elseif segs[1] == "apis" and segs[2] and segs[3] then
    -- A named group at the version the sim serves it in.
    local defs = defs_of_group(segs[2])
    if not defs or defs[1].version ~= segs[3] then return nil end
    group, rest = segs[2], { unpack(segs, 4) }
  else
    return nil
  end
  return group, rest
end

function Api:route(c, path)
  local group, rest = split_path(path)
  if not group or #rest == 0 then no_route() end
  local ns, resname, name, sub
  if rest[1] == "namespaces" and #rest >= 3 then
    ns, resname, name, sub = rest[2], rest[3], rest[4], rest[5]
    if #rest > 5 then no_route() end
  else
    resname, name, sub = rest[1], rest[2], rest[3]
    if #rest > 3 then no_route() end
  end
  local def = R.find(group, resname)
  if not def then no_route() end
  if ns and not def.namespaced then no_route() end
  if name and def.namespaced and not ns then no_route() end
  local m = c.req.method
  if sub then
    return self:subresource(c, def, ns, name, sub)
  elseif name then
    if m == "GET" then return self:get(c, def, ns, name)
    elseif m == "PUT" then return self:replace(c, def, ns, name)
    elseif m == "PATCH" then return self:patch(c, def, ns, name)
    elseif m == "DELETE" then return self:delete(c, def, ns, name)
    end
    method_not_allowed()
  else
    if m == "GET" then return self:list(c, def, ns)
    elseif m == "POST" then
      if not ns and def.namespaced then method_not_allowed() end
      return self:create(c, def, ns)
    end
    method_not_allowed()
  end
end

-- ---- reads --------------------------------------------------------------------------

function Api:must_get(def, ns, name)
  local obj = self.store:get(def.name, ns, name)
  if not obj then not_found(def, name) end
  return obj
end

function Api:get(c, def, ns, name)
  local obj = self:must_get(def, ns, name)
  if wants_table(c.req) and TBL.supports(def.name) then
    return send(c, 200, TBL.table(def.name, { obj }, obj.metadata.resourceVersion,
                                  c.q.includeObject))
  end
  send(c, 200, obj)
end

-- The filter of a list or watch request, from labelSelector and
-- fieldSelector (a bad selector is a 400).
local function filter_of(q)
  local lreqs, lerr = SEL.parse_labels(q.labelSelector)
  if not lreqs then fail(400, "BadRequest", lerr, {}) end
  local freqs, ferr = SEL.parse_fields(q.fieldSelector)
  if not freqs then fail(400, "BadRequest", ferr, {}) end
  return function(obj)
    return SEL.match_labels(lreqs, obj.metadata.labels) and
      SEL.match_fields(freqs, obj)
  end
end

local function truthy(v) return v == "true" or v == "1" end

function Api:list(c, def, ns)
  local match = filter_of(c.q)
  if truthy(c.q.watch) then return self:watch(c, def, ns, match) end
  local items = U.A()
  for _, obj in ipairs(self.store:list(def.name, ns)) do
    if match(obj) then items[#items + 1] = obj end
  end
  if wants_table(c.req) and TBL.supports(def.name) then
    return send(c, 200, TBL.table(def.name, items, self.store.rv, c.q.includeObject))
  end
  send(c, 200, { kind = def.list_kind, apiVersion = def.api_version,
                 metadata = { resourceVersion = tostring(self.store.rv) },
                 items = items })
end

-- A watch: a chunked stream of {"type", "object"} lines until
-- timeoutSeconds (real seconds: it is the client's timer) or the client
-- leaves. An ERROR event with 410 Expired answers a resourceVersion the
-- history no longer covers (see store.lua for how that is decided).
function Api:watch(c, def, ns, match)
  local q = c.q
  local since = tonumber(q.resourceVersion)
  if q.resourceVersion and q.resourceVersion ~= "" and not since then
    fail(400, "BadRequest", string.format('invalid resource version "%s"', q.resourceVersion), {})
  end
  local as_table = wants_table(c.req) and TBL.supports(def.name)
  local timeout = tonumber(q.timeoutSeconds) or 1800
  local x = c.x
  c.code = 200
  x:stream_start(200, { ["Content-Type"] = JSON, ["Cache-Control"] = "no-cache, private" })
  local closed, w, timer = false, nil, nil
  local first = true
  local function stop()
    if closed then return end
    closed = true
    if w then self.store:unwatch(w) end
    if timer then timer:stop() end
    self.streams[stop] = nil
  end
  local function emit(typ, obj)
    if closed then return end
    local o = obj
    if as_table and typ ~= "ERROR" and typ ~= "BOOKMARK" then
      o = TBL.table(def.name, { obj }, obj.metadata.resourceVersion, q.includeObject, first)
      first = false
    end
    if not x:write(U.encode({ type = typ, object = o }) .. "\n") then stop() end
  end
  local watcher, _, compacted = self.store:watch{
    res = def.name, ns = ns, match = match, since = since, send = emit }
  w = watcher
  if not w then
    emit("ERROR", status_obj({ code = 410, reason = "Expired", message = string.format(
      "too old resource version: %d (%d)", since, compacted), details = {} }))
    closed = true
    x:finish()
    return
  end
  if closed then
    self.store:unwatch(w)
    x:finish()
    return
  end
  self.streams[stop] = function() stop(); x:finish() end
  timer = S.timer(timeout * 1000, function()
    timer = nil
    if truthy(q.allowWatchBookmarks) then
      emit("BOOKMARK", { kind = def.kind, apiVersion = def.api_version,
                         metadata = { resourceVersion = tostring(self.store.rv) } })
    end
    stop()
    x:finish()
  end)
  x:on_close(stop)
end

-- Ends every open stream (the sim is stopping).
function Api:close_streams()
  local fns = {}
  for _, fn in pairs(self.streams) do fns[#fns + 1] = fn end
  for _, fn in ipairs(fns) do fn() end
  self.streams = {}
end

-- ---- writes ----------------------------------------------------------------------------

local HAS_STATUS = { namespaces = true, pods = true, services = true,
                     deployments = true, replicasets = true }
local HAS_GENERATION = { deployments = true, replicasets = true }
local CLEARED = { "uid", "resourceVersion", "creationTimestamp", "generation",
                  "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields",
                  "selfLink" }

local function dry_run(q) return q.dryRun ~= nil and q.dryRun ~= "" end

function Api:ensure_namespace(ns)
  if not ns or self.store:get("namespaces", nil, ns) then return end
  self.store:create("namespaces", {
    apiVersion = "v1", kind = "Namespace",
    metadata = { name = ns, labels = { ["kubernetes.io/metadata.name"] = ns } },
    spec = { finalizers = U.A({ "kubernetes" }) }, status = { phase = "Active" },
  })
end

-- Service ClusterIPs: 10.96.0.0/16 from a counter kept with the state.
function Api:cluster_ip()
  local ex = self.store.extra
  ex.next_ip = (ex.next_ip or 10) + 1
  return string.format("10.96.%d.%d", math.floor(ex.next_ip / 250) % 256, ex.next_ip % 250 + 1)
end

-- Creates obj (a decoded body or a scenario object) in namespace ns.
-- Returns the stored object; raises Status errors.
-- manager: who creates it (managedFields get its Update entry), or
-- managed: the managedFields of a server-side apply.
function Api:create_object(def, ns, obj, dry, manager, managed)
  if obj.apiVersion ~= nil and obj.apiVersion ~= def.api_version then
    fail(400, "BadRequest", string.format(
      "the API version in the data (%s) does not match the expected API version (%s)",
      tostring(obj.apiVersion), def.api_version), {})
  end
  if obj.kind ~= nil and obj.kind ~= def.kind then
    fail(400, "BadRequest", string.format(
      "the kind in the data (%s) does not match the expected kind (%s)",
      tostring(obj.kind), def.kind), {})
  end
  check_body_decodes(def.kind, obj)
  obj = U.strip_nulls(U.copy(obj))
  obj.apiVersion, obj.kind = def.api_version, def.kind
  local md = U.sub(obj, "metadata")
  if def.namespaced then
    if md.namespace ~= nil and md.namespace ~= ns then
      fail(400, "BadRequest",
           "the namespace of the provided object does not match the namespace sent on the request", {})
    end
    md.namespace = ns
  else
    md.namespace = nil
  end
  for _, k in ipairs(CLEARED) do md[k] = nil end
  if (md.name == nil or md.name == "") and type(md.generateName) == "string" then
    md.name = md.generateName .. self.sim.rng.chars(5)
  end
  R.apply_defaults(def.kind, obj)
  local causes = R.validate(def.kind, obj)
  if #causes > 0 then invalid(def, md.name, causes) end
  if self.store:get(def.name, md.namespace, md.name) then
    fail(409, "AlreadyExists", string.format('%s "%s" already exists', def.qualified, md.name),
         { name = md.name, group = def.group ~= "" and def.group or nil, kind = def.name })
  end
  if HAS_GENERATION[def.name] then md.generation = 1 end
  if manager then md.managedFields = SSA.record_update(nil, obj, manager, def.api_version) end
  md.managedFields = managed or md.managedFields
  if HAS_STATUS[def.name] then obj.status = {} end
  if def.name == "namespaces" then
    obj.spec = { finalizers = U.A({ "kubernetes" }) }
    obj.status = { phase = "Active" }
    U.sub(md, "labels")["kubernetes.io/metadata.name"] = md.name
  elseif def.name == "services" then
    if obj.spec.clusterIP == nil and obj.spec.type ~= "ExternalName" then
      obj.spec.clusterIP = self:cluster_ip()
      obj.spec.clusterIPs = U.A({ obj.spec.clusterIP })
    end
    obj.status = { loadBalancer = {} }
  elseif def.name == "pods" then
    obj.status = { phase = "Pending" }
  end
  if dry then
    md.uid = self.store:new_uid()
    md.creationTimestamp = U.rfc3339(U.now_ms())
    return obj
  end
  self:ensure_namespace(md.namespace)
  local stored = self.store:create(def.name, obj)
  if self.ctl then self.ctl:kick() end
  return stored
end

function Api:create(c, def, ns)
  local obj = body_object(c)
  check_fields(c, def, obj)
  send(c, 201, self:create_object(def, ns, obj, dry_run(c.q), manager_of(c)))
end

-- Stores new as the next version of cur: server-owned metadata and the
-- status come from cur, generation moves when the spec does. Returns the
-- stored object.
function Api:commit(c, def, cur, new, managed)
  new = U.strip_nulls(new)
  if type(new) ~= "table" or U.is_array(new) then
    fail(400, "BadRequest", "the result is not an object", {})
  end
  new.apiVersion, new.kind = def.api_version, def.kind
  local md = U.sub(new, "metadata")
  local cmd = cur.metadata
  if md.name ~= nil and md.name ~= cmd.name then
    fail(400, "BadRequest", string.format(
      "the name of the object (%s) does not match the name on the URL (%s)",
      tostring(md.name), cmd.name), {})
  end
  if md.namespace ~= nil and md.namespace ~= cmd.namespace then
    fail(400, "BadRequest",
         "the namespace of the provided object does not match the namespace sent on the request", {})
  end
  if md.uid ~= nil and md.uid ~= cmd.uid then
    fail(409, "Conflict", string.format(
      "Precondition failed: UID in precondition: %s, UID in object meta: %s",
      tostring(md.uid), cmd.uid), { name = cmd.name, kind = def.name })
  end
  if md.resourceVersion ~= nil and md.resourceVersion ~= "" and
     md.resourceVersion ~= cmd.resourceVersion then
    conflict(def, cmd.name)
  end
  md.name, md.namespace, md.uid = cmd.name, cmd.namespace, cmd.uid
  md.creationTimestamp = cmd.creationTimestamp
  md.managedFields, md.selfLink = nil, nil
  if HAS_STATUS[def.name] then new.status = U.copy(cur.status) end
  R.apply_defaults(def.kind, new)
  if def.name == "services" then
    new.spec.clusterIP = new.spec.clusterIP or cur.spec.clusterIP
    new.spec.clusterIPs = new.spec.clusterIPs or U.copy(cur.spec.clusterIPs)
  elseif def.name == "namespaces" then
    new.spec = U.copy(cur.spec)
  end
  md.managedFields = managed or SSA.record_update(cur, new, manager_of(c), def.api_version)
  local causes = R.validate(def.kind, new)
  if #causes > 0 then invalid(def, cmd.name, causes) end
  md.generation = cmd.generation
  if HAS_GENERATION[def.name] and U.canonical(new.spec) ~= U.canonical(cur.spec) then
    md.generation = (cmd.generation or 1) + 1
  end
  if dry_run(c.q) then
    md.resourceVersion = cmd.resourceVersion
    return new
  end
  local stored = self.store:update(def.name, new)
  if self.ctl then self.ctl:kick() end
  return stored
end

function Api:replace(c, def, ns, name)
  local cur = self:must_get(def, ns, name)
  local obj = body_object(c)
  if obj.kind ~= nil and obj.kind ~= def.kind then
    fail(400, "BadRequest", string.format(
      "the kind in the data (%s) does not match the expected kind (%s)",
      tostring(obj.kind), def.kind), {})
  end
  if type(obj.metadata) ~= "table" or obj.metadata.name == nil then
    fail(400, "BadRequest", "name is required in the body of an update", {})
  end
  check_body_decodes(def.kind, obj)
  check_fields(c, def, obj)
  send(c, 200, self:commit(c, def, cur, obj))
end

local PATCH_TYPES = {
  ["application/json-patch+json"] = "json",
  ["application/merge-patch+json"] = "merge",
  ["application/strategic-merge-patch+json"] = "strategic",
}

-- Applies the request's patch to doc. kind: the kind whose merge keys a
-- strategic merge patch uses.
local function apply_patch(c, doc, kind)
  local mt = media_type(c.req)
  local how = PATCH_TYPES[mt]
  if not how then
    fail(415, "UnsupportedMediaType", string.format(
      "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got \"%s\")", mt), {})
  end
  local patch, err = U.decode(c.req.body)
  if patch == nil then fail(400, "BadRequest", "invalid patch body: " .. tostring(err), {}) end
  local new, perr
  if how == "json" then
    new, perr = P.json(doc, patch)
  elseif how == "merge" then
    new, perr = P.merge(doc, patch)
  else
    new, perr = P.strategic(doc, patch, kind)
  end
  if new == nil then fail(422, "Invalid", tostring(perr), {}) end
  -- The result is decoded into the Go struct next: an int32 field that
  -- does not fit fails there (JSON and merge patches go through
  -- encoding/json and show the patched object, strategic ones through
  -- the unstructured converter and show the patch).
  local e = R.int32_misfit(kind, new)
  if e then
    if how == "strategic" then
      patch_invalid(go_v(patch), R.converter_misfit_message(e))
    end
    patch_invalid(U.encode(U.strip_nulls(U.copy(new))), R.json_misfit_message(e))
  end
  return new
end

function Api:patch(c, def, ns, name)
  if media_type(c.req) == "application/apply-patch+yaml" then
    return self:server_side_apply(c, def, ns, name)
  end
  local cur = self:must_get(def, ns, name)
  local new = apply_patch(c, cur, def.kind)
  check_fields(c, def, new)
  send(c, 200, self:commit(c, def, cur, new))
end

-- Server-side apply (kubectl apply --server-side): creates the object or
-- merges the configuration into it, with the managedFields and the 409
-- Conflict of field managers (summit.sim.apply). The body is JSON, which
-- is what kubectl sends (YAML proper is not decoded).
function Api:server_side_apply(c, def, ns, name)
  local config, err = U.decode(c.req.body)
  if type(config) ~= "table" or U.is_array(config) then
    fail(400, "BadRequest", "error decoding YAML: the summit sim decodes JSON apply bodies only: " ..
         tostring(err or "not an object"), {})
  end
  local manager = c.q.fieldManager
  if manager == nil or manager == "" then
    fail(400, "BadRequest", "PATCH, application/apply-patch+yaml requires fieldManager to be set", {})
  end
  if config.apiVersion ~= def.api_version or config.kind ~= def.kind then
    fail(400, "BadRequest", string.format(
      "the API version in the data (%s) and the kind (%s) do not match the expected %s %s",
      tostring(config.apiVersion), tostring(config.kind), def.api_version, def.kind), {})
  end
  if c.q.fieldValidation == "Strict" then
    local errs = OPENAPI.unknown_fields(def, config)
    if #errs > 0 then
      local paths = {}
      for i, e in ipairs(errs) do paths[i] = "." .. e:match('"(.*)"') .. ": field not declared in schema" end
      fail(400, "BadRequest", string.format("failed to create typed patch object (%s/%s; %s, Kind=%s): %s",
        ns or "", name, def.api_version, def.kind, table.concat(paths, ", ")), {})
    end
  end
  check_body_decodes(def.kind, config)
  local md = U.sub(config, "metadata")
  if md.name ~= nil and md.name ~= name then
    fail(400, "BadRequest", string.format(
      "the name of the object (%s) does not match the name on the URL (%s)", tostring(md.name), name), {})
  end
  for _, k in ipairs(CLEARED) do if k ~= "resourceVersion" then md[k] = nil end end
  local cur = self.store:get(def.name, ns, name)
  local force = c.q.force == "true"
  local obj, managed = SSA.apply(cur, U.strip_nulls(U.copy(config)), manager, force, def.api_version,
    function(old, cfg)
      local new, perr = P.strategic(old, cfg, def.kind)
      if new == nil then fail(422, "Invalid", tostring(perr), {}) end
      return new
    end)
  if not obj then
    local causes = {}
    for i, k in ipairs(managed) do
      causes[i] = { reason = "FieldManagerConflict", field = k.path,
                    message = string.format('conflict with "%s" using %s', k.manager, k.api_version) }
    end
    fail(409, "Conflict", SSA.conflict_message(managed),
         { name = name, group = def.group ~= "" and def.group or nil, kind = def.name,
           causes = U.A(causes) })
  end
  if not cur then
    md.name = name
    return send(c, 201, self:create_object(def, ns, obj, dry_run(c.q), nil, managed))
  end
  send(c, 200, self:commit(c, def, cur, obj, managed))
end

function Api:delete(c, def, ns, name)
  local cur = self:must_get(def, ns, name)
  if not dry_run(c.q) then
    if def.name == "namespaces" then
      -- Everything in it goes too (no Terminating phase in the sim).
      for _, d in ipairs(R.list) do
        if d.namespaced then
          for _, o in ipairs(self.store:list(d.name, name)) do
            self.store:delete(d.name, name, o.metadata.name)
          end
        end
      end
    end
    self.store:delete(def.name, ns, name)
    -- Owned ReplicaSets and Pods go in the next controller sync
    -- (background propagation).
    if self.ctl then self.ctl:kick() end
  end
  send(c, 200, { kind = "Status", apiVersion = "v1", metadata = {}, status = "Success",
                 details = { name = name, group = def.group ~= "" and def.group or nil,
                             kind = def.name, uid = cur.metadata.uid } })
end

-- ---- subresources -------------------------------------------------------------------------

local function scale_of(d)
  return {
    kind = "Scale", apiVersion = "autoscaling/v1",
    metadata = { name = d.metadata.name, namespace = d.metadata.namespace,
                 uid = d.metadata.uid, resourceVersion = d.metadata.resourceVersion,
                 creationTimestamp = d.metadata.creationTimestamp },
    spec = { replicas = U.dig(d, { "spec", "replicas" }) or 0 },
    status = { replicas = U.dig(d, { "status", "replicas" }) or 0,
               selector = SEL.label_selector_string(U.dig(d, { "spec", "selector" })) },
  }
end

function Api:subresource(c, def, ns, name, sub)
  local m = c.req.method
  if def.name == "deployments" and sub == "scale" then
    local d = self:must_get(def, ns, name)
    if m == "GET" then return send(c, 200, scale_of(d)) end
    local scale
    if m == "PUT" then
      scale = body_object(c)
      check_body_decodes("Scale", scale)
      local rv = U.dig(scale, { "metadata", "resourceVersion" })
      if rv ~= nil and rv ~= "" and rv ~= d.metadata.resourceVersion then
        conflict(def, name)
      end
    elseif m == "PATCH" then
      scale = apply_patch(c, scale_of(d), "Scale")
    else
      method_not_allowed()
    end
    -- Decoded already (an int32, or absent: Go's zero value).
    local n = U.dig(scale, { "spec", "replicas" })
    if n == nil or n == U.null then n = 0 end
    if n < 0 then
      invalid({ kind = "Scale", group = "autoscaling" }, name, { {
        field = "spec.replicas", reason = "FieldValueInvalid",
        message = string.format("Invalid value: %d: must be greater than or equal to 0", n) } })
    end
    local nd = U.copy(d)
    nd.spec.replicas = n
    nd.metadata.resourceVersion = nil
    return send(c, 200, scale_of(self:commit(c, def, d, nd)))
  elseif sub == "status" then
    if m ~= "GET" then method_not_allowed() end
    return self:get(c, def, ns, name)
  elseif def.name == "pods" and sub == "log" then
    if m ~= "GET" then method_not_allowed() end
    return self:pod_log(c, def, ns, name)
  elseif def.name == "pods" and sub == "exec" then
    if m ~= "GET" and m ~= "POST" then method_not_allowed() end
    local pod = self:must_get(def, ns, name)
    return require("summit.sim.ws_exec").serve(self.sim, c, pod, fail)
  end
  no_route()
end

-- pods/NAME/log: text/plain; follow=true keeps the stream open and adds
-- lines as the clock produces them, until the pod goes or the client does.
function Api:pod_log(c, def, ns, name)
  local pod = self:must_get(def, ns, name)
  local q = c.q
  local cs = U.dig(pod, { "spec", "containers" }) or {}
  local cname = q.container
  if cname == nil or cname == "" then
    local ann = U.dig(pod, { "metadata", "annotations", "kubectl.kubernetes.io/default-container" })
    if ann then
      cname = ann
    elseif #cs == 1 then
      cname = cs[1].name
    else
      local names = {}
      for _, x in ipairs(cs) do names[#names + 1] = x.name end
      fail(400, "BadRequest", string.format(
        "a container name must be specified for pod %s, choose one of: [%s]",
        name, table.concat(names, " ")), {})
    end
  end
  local container
  for _, x in ipairs(cs) do if x.name == cname then container = x end end
  if not container then
    fail(400, "BadRequest", string.format("container %s is not valid for pod %s", cname, name), {})
  end
  local status
  for _, x in ipairs(U.dig(pod, { "status", "containerStatuses" }) or {}) do
    if x.name == cname then status = x end
  end
  local previous = truthy(q.previous)
  local waiting = U.dig(status, { "state", "waiting", "reason" })
  if not previous and waiting == "CrashLoopBackOff" then
    previous = true   -- the last run's output, as the kubelet serves it
  elseif not previous and (waiting or not status) then
    local why = waiting or "ContainerCreating"
    if why == "ImagePullBackOff" or why == "ErrImagePull" then
      why = "trying and failing to pull image"
    end
    fail(400, "BadRequest", string.format(
      'container "%s" in pod "%s" is waiting to start: %s', cname, name, why), {})
  end
  local now = U.now_ms()
  local lines = LOGS.lines(self.sim, pod, container, previous, now)
  if not lines then
    fail(400, "BadRequest", string.format(
      'previous terminated container "%s" in pod "%s" not found', cname, name), {})
  end
  local text = LOGS.render(lines, q, now)
  if not truthy(q.follow) or previous then
    return respond(c, 200, text, "text/plain")
  end
  -- Follow: what there is, then new lines every log interval.
  local x = c.x
  c.code = 200
  x:stream_start(200, { ["Content-Type"] = "text/plain" })
  if #text > 0 then x:write(text) end
  local sent_upto = now
  local timer
  local closed = false
  local function stop()
    if closed then return end
    closed = true
    if timer then timer:stop() end
    self.streams[stop] = nil
  end
  local ts = truthy(q.timestamps)
  local step = math.max(0.1, self.scn.log_interval_seconds or 5) * 1000
  timer = S.timer(step, function()
    local p = self.store:get("pods", ns, name)
    if not p or p.metadata.uid ~= pod.metadata.uid then
      stop()
      x:finish()
      return
    end
    local t = U.now_ms()
    local buf = {}
    for _, l in ipairs(LOGS.lines(self.sim, p, container, false, t) or {}) do
      if l[1] > sent_upto then
        buf[#buf + 1] = (ts and (U.rfc3339nano(l[1]) .. " ") or "") .. l[2] .. "\n"
      end
    end
    sent_upto = t
    if #buf > 0 and not x:write(table.concat(buf)) then stop() end
  end, step)
  self.streams[stop] = function() stop(); x:finish() end
  x:on_close(stop)
end

return M
