-- The controllers of the simulated cluster: Deployment -> ReplicaSets ->
-- Pods, with rollouts that move forward over (scaled) time, events, and
-- garbage collection of what lost its owner.
--
-- Progress is computed from timestamps, not counted in ticks: when a
-- Deployment's template or replica count changes, the controller records
-- a rollout { start time, the pods each ReplicaSet had then } in the
-- persisted state. Every sync derives from that record and the clock how
-- far the rollout has come (one new pod ready every
-- rollout_seconds_per_pod of simulated time, old pods scaled down as new
-- ones become ready, within maxSurge/maxUnavailable), so a sim restarted
-- mid-rollout continues where the clock says it is, and a slow tick rate
-- changes nothing but the granularity.
--
-- The kubectl-visible contract (reference §1, §5): generation and
-- observedGeneration, updated/ready/available replicas, the Progressing
-- and Available conditions with the real reasons, ReplicaSets named
-- <deployment>-<pod-template-hash> with a pod-template-hash label, a
-- controller ownerReference and a deployment.kubernetes.io/revision
-- annotation of max+1 (an old ReplicaSet whose template comes back is
-- reused and takes the new revision).

local U = require("summit.sim.util")
local SEL = require("summit.sim.selector")
local SCN = require("summit.sim.scenario")

local M = {}
M.TICK_MS = 100
-- Under summit test's virtual clock every tick is work with no wait in
-- between: a coarser one keeps hours of cluster time to seconds.
M.VIRTUAL_TICK_MS = 5000

local REVISION = "deployment.kubernetes.io/revision"
local REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
local DESIRED = "deployment.kubernetes.io/desired-replicas"
local MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
-- Deployment annotations not copied onto its ReplicaSets (kubectl's skip
-- set for rollback is the same list).
local SKIP_ANN = {
  [REVISION] = true, [REVISION_HISTORY] = true, [DESIRED] = true,
  [MAX_REPLICAS] = true,
  ["kubectl.kubernetes.io/last-applied-configuration"] = true,
  ["deprecated.deployment.rollback.to"] = true,
}
local NODE = "sim-node-1"
local BURST = 500   -- pods created per ReplicaSet and sync, at most
local HOST_IP = "172.18.0.2"

local Ctl = {}
Ctl.__index = Ctl

-- new{ store, events, scenario, time_scale, rng }
function M.new(o)
  local st = o.store.extra
  st.controller = st.controller or {}
  local cs = st.controller
  cs.rollouts = cs.rollouts or {}   -- deployment uid -> rollout record
  cs.settle = cs.settle or {}       -- deployment uid -> true: start settled
  -- Pod uid -> creation time in ms, until the pod is ready: the
  -- creationTimestamp has whole seconds only, and a replacement pod
  -- dated by it would be up to a real second "older", which under a
  -- time scale is many pod-times: ready at once.
  cs.born = cs.born or {}
  cs.ip = cs.ip or 1
  return setmetatable({
    store = o.store, events = o.events, scn = o.scenario,
    scale = o.time_scale or 1, rng = o.rng, state = cs,
  }, Ctl)
end

function Ctl:start()
  local tick = require("summit.c.task").virtual_clock() and M.VIRTUAL_TICK_MS or M.TICK_MS
  self.timer = require("summit.c.server").timer(tick, function()
    self:sync_all()
  end, tick)
end

function Ctl:stop()
  if self.timer then self.timer:stop() end
  if self.kick_timer then self.kick_timer:stop() end
  self.timer, self.kick_timer = nil, nil
end

-- A sync soon (after a write), without waiting for the next tick.
function Ctl:kick()
  if self.kick_timer or not self.timer then return end
  self.kick_timer = require("summit.c.server").timer(0, function()
    self.kick_timer = nil
    self:sync_all()
  end)
end

-- The Deployment with this uid starts fully rolled out (scenario objects).
function Ctl:settle(uid) self.state.settle[uid] = true end

-- ---- helpers --------------------------------------------------------------------

local function controller_ref(obj)
  for _, r in ipairs(U.dig(obj, { "metadata", "ownerReferences" }) or {}) do
    if r.controller then return r end
  end
  return nil
end

local function owned_by(list, uid)
  local out = {}
  for _, o in ipairs(list) do
    local r = controller_ref(o)
    if r and r.uid == uid then out[#out + 1] = o end
  end
  return out
end

local function revision(rs)
  return tonumber(U.dig(rs, { "metadata", "annotations", REVISION }) or "") or 0
end

-- maxSurge/maxUnavailable: an integer or a percentage of replicas (surge
-- rounds up, unavailable down; both 0 would deadlock, so unavailable
-- becomes 1), as deployment/util ResolveFenceposts does.
local function fenceposts(d, R)
  local ru = U.dig(d, { "spec", "strategy", "rollingUpdate" }) or {}
  local function resolve(v, up, default)
    if v == nil then v = default end
    if type(v) == "number" then return v end
    local pct = tonumber(tostring(v):match("^(%d+)%%$"))
    if not pct then return tonumber(v) or 0 end
    local x = R * pct / 100
    return up and math.ceil(x) or math.floor(x)
  end
  local surge = resolve(ru.maxSurge, true, "25%")
  local unavail = resolve(ru.maxUnavailable, false, "25%")
  if surge == 0 and unavail == 0 then unavail = 1 end
  return surge, unavail
end

-- "ok", "bad" (image never pulls) or "crash" for one container image.
function Ctl:image_mode(image)
  if SCN.is_bad(self.scn, image) then return "bad" end
  if SCN.is_crashloop(self.scn, image) then return "crash" end
  return "ok"
end

-- The worst mode among a pod template's containers.
function Ctl:template_mode(template)
  local mode = "ok"
  for _, c in ipairs(U.dig(template, { "spec", "containers" }) or {}) do
    local m = self:image_mode(c.image)
    if m == "bad" then return "bad" end
    if m == "crash" then mode = "crash" end
  end
  return mode
end

local function sim_seconds(self, from_ms, now)
  return (now - from_ms) / 1000 * self.scale
end

-- ---- the sync loop ------------------------------------------------------------------

function Ctl:sync_all()
  local now = U.now_ms()
  local st = self.store
  -- Idle when the last sync changed nothing, nothing was written since,
  -- and nothing depends on the clock (no rollout under way, no pod
  -- pulling a bad image or crash-looping): the result would be the same.
  if not self.busy and self.quiet_rv == st.rv then return end
  local rv_before = st.rv
  self.busy = false
  local live = {}
  for _, d in ipairs(st:list("deployments")) do
    live[d.metadata.uid] = true
    self:sync_deployment(d, now)
  end
  -- Garbage collection (background propagation): ReplicaSets whose
  -- Deployment is gone, then Pods whose ReplicaSet is gone.
  for _, rs in ipairs(st:list("replicasets")) do
    local r = controller_ref(rs)
    if r and r.kind == "Deployment" and not live[r.uid] then
      st:delete("replicasets", rs.metadata.namespace, rs.metadata.name)
    end
  end
  local rs_uids, pod_uids = {}, {}
  for _, rs in ipairs(st:list("replicasets")) do rs_uids[rs.metadata.uid] = true end
  for _, p in ipairs(st:list("pods")) do
    pod_uids[p.metadata.uid] = true
    local r = controller_ref(p)
    if r and r.kind == "ReplicaSet" and not rs_uids[r.uid] then
      st:delete("pods", p.metadata.namespace, p.metadata.name)
    elseif not r then
      self:sync_bare_pod(p, now)
    end
  end
  for uid in pairs(self.state.rollouts) do
    if not live[uid] then self.state.rollouts[uid] = nil end
  end
  for uid in pairs(self.state.born) do
    if not pod_uids[uid] then self.state.born[uid] = nil end
  end
  self.quiet_rv = st.rv == rv_before and st.rv or nil
end

-- Snapshot of a ReplicaSet at the start of a rollout.
local function snap(rs)
  return { name = rs.metadata.name, n = U.dig(rs, { "spec", "replicas" }) or 0,
           ready = U.dig(rs, { "status", "readyReplicas" }) or 0,
           revision = revision(rs) }
end

function Ctl:sync_deployment(d, now)
  local st = self.store
  local md = d.metadata
  local uid = md.uid
  local R = U.dig(d, { "spec", "replicas" }) or 1
  local hash = U.template_hash(d.spec.template)
  local rec = self.state.rollouts[uid]
  local paused = U.dig(d, { "spec", "paused" }) == true
  if not paused and (rec == nil or rec.hash ~= hash or rec.replicas ~= R) then
    rec = self:start_rollout(d, rec, hash, R, now)
    d = st:get("deployments", md.namespace, md.name)
  end
  local rss = owned_by(st:list("replicasets", md.namespace), uid)
  local plan = rec and self:plan(d, rec, rss, now) or { per_rs = {} }
  for _, rs in ipairs(rss) do
    local p = plan.per_rs[rs.metadata.name]
    if not p and rec then p = { n = 0, ready = 0 } end
    if p then self:sync_replicaset(d, rs, p, now) end
  end
  self:update_status(d, rec, plan, paused, now)
  if rec and plan.complete then self:cleanup(d) end
  if rec and not plan.complete and not paused then self.busy = true end
end

-- A new rollout: find or create the ReplicaSet of the template, give it
-- the next revision, and record what every ReplicaSet had.
function Ctl:start_rollout(d, prev, hash, R, now)
  local st = self.store
  local md = d.metadata
  local rss = owned_by(st:list("replicasets", md.namespace), md.uid)
  local max_rev, target = 0, nil
  for _, rs in ipairs(rss) do
    max_rev = math.max(max_rev, revision(rs))
    if U.template_hash(rs.spec.template) == hash then target = rs end
  end
  local reason
  if not target then
    target = self:create_replicaset(d, hash, max_rev + 1)
    reason = "NewReplicaSetCreated"
  else
    if revision(target) < max_rev then
      -- An old template is back (rollout undo): that ReplicaSet becomes
      -- the newest revision and remembers its old one.
      local rs = U.copy(target)
      local ann = U.sub(rs.metadata, "annotations")
      local old = ann[REVISION]
      local hist = ann[REVISION_HISTORY]
      ann[REVISION_HISTORY] = hist and (hist .. "," .. old) or old
      ann[REVISION] = tostring(max_rev + 1)
      target = st:update("replicasets", rs)
    end
    reason = (prev and prev.hash == hash) and (prev.reason or "ReplicaSetUpdated")
      or "FoundNewReplicaSet"
  end
  -- The Deployment carries the revision of its newest ReplicaSet.
  local nd = U.copy(d)
  U.sub(nd.metadata, "annotations")[REVISION] = tostring(revision(target))
  st:update("deployments", nd)
  local rec = {
    hash = hash, rs = target.metadata.name, start_ms = now, replicas = R,
    reason = reason, old = {},
  }
  local settle = self.state.settle[md.uid]
  self.state.settle[md.uid] = nil
  if settle then rec.settled = true end
  for _, rs in ipairs(owned_by(st:list("replicasets", md.namespace), md.uid)) do
    if rs.metadata.name == target.metadata.name then
      local s = snap(rs)
      rec.new0, rec.new0_n = s.ready, s.n
    else
      local s = snap(rs)
      if s.n > 0 then rec.old[#rec.old + 1] = s end
    end
  end
  table.sort(rec.old, function(a, b) return a.revision < b.revision end)
  self.state.rollouts[md.uid] = rec
  self.store:mark_dirty()
  return rec
end

function Ctl:create_replicaset(d, hash, rev)
  local md = d.metadata
  local template = U.copy(d.spec.template)
  U.sub(U.sub(template, "metadata"), "labels")["pod-template-hash"] = hash
  local sel = U.copy(d.spec.selector)
  U.sub(sel, "matchLabels")["pod-template-hash"] = hash
  local labels = U.copy(U.dig(template, { "metadata", "labels" }))
  local ann = {}
  for k, v in pairs(md.annotations or {}) do
    if not SKIP_ANN[k] then ann[k] = v end
  end
  ann[REVISION] = tostring(rev)
  ann[DESIRED] = tostring(d.spec.replicas or 1)
  local rs = {
    apiVersion = "apps/v1", kind = "ReplicaSet",
    metadata = {
      name = md.name .. "-" .. hash, namespace = md.namespace,
      labels = labels, annotations = ann, generation = 1,
      ownerReferences = U.A({ {
        apiVersion = "apps/v1", kind = "Deployment", name = md.name,
        uid = md.uid, controller = true, blockOwnerDeletion = true,
      } }),
    },
    spec = { replicas = 0, selector = sel, template = template },
    status = { replicas = 0, observedGeneration = 1 },
  }
  return self.store:create("replicasets", rs)
end

-- Where the rollout rec is at time now: per ReplicaSet, how many pods and
-- how many of them ready; whether it is complete; whether it has missed
-- its progress deadline.
function Ctl:plan(d, rec, rss, now)
  local R = rec.replicas
  local per = self.scn.rollout_seconds_per_pod
  local el = rec.settled and math.huge or sim_seconds(self, rec.start_ms, now)
  local target
  for _, rs in ipairs(rss) do
    if rs.metadata.name == rec.rs then target = rs end
  end
  local mode = target and self:template_mode(target.spec.template) or "ok"
  local surge, unavail = fenceposts(d, R)
  local recreate = U.dig(d, { "spec", "strategy", "type" }) == "Recreate"
  local new0 = math.min(rec.new0 or 0, R)
  local new_ready, steps = new0, 0
  if mode == "ok" then
    steps = (per <= 0 or el == math.huge) and R or math.floor(el / per)
    new_ready = math.min(R, new0 + steps)
  end
  local old_total0 = 0
  for _, o in ipairs(rec.old) do old_total0 = old_total0 + o.n end
  local old, new_n
  if recreate then
    old, new_n = 0, R
  else
    old = math.min(old_total0, math.max(0, R - unavail - new_ready))
    if new_ready >= R then
      new_n = R
    else
      new_n = math.max(new_ready, math.min(R, R + surge - old))
    end
  end
  local per_rs = {}
  -- settled: the time before which pods of a scenario's steady state
  -- were created (they are ready at once; a later replacement is not).
  per_rs[rec.rs] = { n = new_n, ready = new_ready, mode = mode,
                     settled = rec.settled and rec.start_ms + 1000 or nil }
  -- Old pods go oldest revision first, not-ready ones first within each.
  local cut = old_total0 - old
  for _, o in ipairs(rec.old) do
    local c = math.min(o.n, cut)
    cut = cut - c
    local n = o.n - c
    per_rs[o.name] = { n = n, ready = math.min(o.ready, n) }
  end
  local complete = new_ready >= R and old == 0
  -- The last progress (a new pod ready) happened at simulated second
  -- (new_ready - new0) * per of the rollout; the deadline counts from it.
  local deadline = U.dig(d, { "spec", "progressDeadlineSeconds" }) or 600
  local progress_at = mode == "ok" and (new_ready - new0) * per or 0
  local exceeded = not complete and not rec.settled and
    (el - progress_at) > deadline
  return { per_rs = per_rs, complete = complete, exceeded = exceeded,
           new_n = new_n, new_ready = new_ready, target = rec.rs,
           unavail = unavail, progressed = new_ready > new0 }
end

-- Scales a ReplicaSet to p.n pods (events on the Deployment), makes its
-- pods match, and writes its status.
function Ctl:sync_replicaset(d, rs, p, now)
  local st = self.store
  local cur = U.dig(rs, { "spec", "replicas" }) or 0
  if cur ~= p.n then
    local nrs = U.copy(rs)
    nrs.spec.replicas = p.n
    local ann = U.sub(nrs.metadata, "annotations")
    ann[DESIRED] = tostring(d.spec.replicas or 1)
    local surge = fenceposts(d, d.spec.replicas or 1)
    ann[MAX_REPLICAS] = tostring((d.spec.replicas or 1) + surge)
    rs = st:update("replicasets", nrs)
    self.events:emit(d, "Normal", "ScalingReplicaSet", string.format(
      "Scaled %s replica set %s from %d to %d", p.n > cur and "up" or "down",
      rs.metadata.name, cur, p.n), "deployment-controller")
  end
  local mode = self:template_mode(rs.spec.template)
  local ready = self:sync_pods(rs, p.n, p.ready, mode, p.settled, now)
  -- A pod younger than one pod-time becomes ready later (a replaced pod).
  if ready < p.ready then self.busy = true end
  local nrs = U.copy(rs)
  nrs.status = {
    replicas = p.n, fullyLabeledReplicas = p.n > 0 and p.n or nil,
    readyReplicas = ready > 0 and ready or nil,
    availableReplicas = ready > 0 and ready or nil,
    observedGeneration = rs.metadata.generation or 1,
  }
  st:update("replicasets", nrs)
end

local function pod_order(a, b)
  local ta, tb = a.metadata.creationTimestamp, b.metadata.creationTimestamp
  if ta ~= tb then return ta < tb end
  return a.metadata.name < b.metadata.name
end

local function is_ready(p)
  for _, c in ipairs(U.dig(p, { "status", "conditions" }) or {}) do
    if c.type == "Ready" then return c.status == "True" end
  end
  return false
end

-- Makes rs have n pods, of which (up to) want_ready are ready; returns
-- how many are.
function Ctl:sync_pods(rs, n, want_ready, mode, settled, now)
  local st = self.store
  local pods = owned_by(st:list("pods", rs.metadata.namespace), rs.metadata.uid)
  table.sort(pods, pod_order)
  -- Scale down: not-ready pods go first, then the newest.
  while #pods > n do
    local victim = #pods
    for i = #pods, 1, -1 do
      if not is_ready(pods[i]) then victim = i break end
    end
    local p = table.remove(pods, victim)
    st:delete("pods", p.metadata.namespace, p.metadata.name)
    self.events:emit(rs, "Normal", "SuccessfulDelete",
                     "Deleted pod: " .. p.metadata.name, "replicaset-controller")
  end
  -- Never more pods than the scenario's max_pods in all, nor more than
  -- BURST per sync (the ReplicaSet controller's burstReplicas): a huge
  -- replica count costs one bounded step per tick, never a loop the
  -- event loop (and SIGTERM) must wait for.
  local room = math.min(BURST, (self.scn.max_pods or 1000) - #st:list("pods"))
  if #pods < n and room < n - #pods then
    if room < 1 then
      self:failed_create(rs)
    else
      self.busy = true   -- the rest in the next syncs
    end
  end
  while #pods < n and room > 0 do
    pods[#pods + 1] = self:create_pod(rs, now)
    room = room - 1
  end
  -- Readiness goes to pods that are ready already, then the oldest; a
  -- pod is never ready sooner than one pod-time after its creation
  -- (a replacement of a deleted pod too: it waits as a new pod does).
  local order = {}
  for i, p in ipairs(pods) do order[i] = p end
  table.sort(order, function(a, b)
    local ra, rb = is_ready(a), is_ready(b)
    if ra ~= rb then return ra end
    return pod_order(a, b)
  end)
  local per = self.scn.rollout_seconds_per_pod
  local ready = 0
  for i, p in ipairs(order) do
    local uid = p.metadata.uid
    local created = self.state.born[uid] or U.parse_time(p.metadata.creationTimestamp) or now
    local age = sim_seconds(self, created, now)
    local may = i <= want_ready and mode == "ok" and
      (is_ready(p) or (settled and created <= settled) or age >= per)
    if self:sync_pod_status(p, may, now) then
      ready = ready + 1
      self.state.born[uid] = nil
    end
  end
  return ready
end

-- The cap is reached: one warning per ReplicaSet until it has room again.
function Ctl:failed_create(rs)
  local warned = self.state.warned_cap or {}
  self.state.warned_cap = warned
  if warned[rs.metadata.uid] then return end
  warned[rs.metadata.uid] = true
  self.events:emit(rs, "Warning", "FailedCreate", string.format(
    'Error creating: pods "%s-" is forbidden: the summit sim keeps at most %d pods (scenario max_pods)',
    rs.metadata.name, self.scn.max_pods or 1000), "replicaset-controller")
  self.store:mark_dirty()
end

function Ctl:create_pod(rs, now)
  local st = self.store
  local t = rs.spec.template
  local name
  repeat
    name = rs.metadata.name .. "-" .. self.rng.chars(5)
  until not st:get("pods", rs.metadata.namespace, name)
  local ip = self.state.ip
  self.state.ip = ip + 1
  local pod = {
    apiVersion = "v1", kind = "Pod",
    metadata = {
      name = name, generateName = rs.metadata.name .. "-",
      namespace = rs.metadata.namespace,
      labels = U.copy(U.dig(t, { "metadata", "labels" }) or {}),
      annotations = U.copy(U.dig(t, { "metadata", "annotations" })),
      ownerReferences = U.A({ {
        apiVersion = "apps/v1", kind = "ReplicaSet", name = rs.metadata.name,
        uid = rs.metadata.uid, controller = true, blockOwnerDeletion = true,
      } }),
    },
    spec = U.copy(t.spec),
    status = {
      phase = "Pending", qosClass = "BestEffort",
      hostIP = HOST_IP,
      podIP = string.format("10.244.%d.%d", math.floor(ip / 250) % 256, ip % 250 + 2),
      startTime = U.rfc3339(now),
    },
  }
  pod.status.podIPs = U.A({ { ip = pod.status.podIP } })
  pod.spec.nodeName = NODE
  pod = st:create("pods", pod)
  self.state.born[pod.metadata.uid] = now
  self.events:emit(rs, "Normal", "SuccessfulCreate", "Created pod: " .. name,
                   "replicaset-controller")
  self.events:emit(pod, "Normal", "Scheduled", string.format(
    "Successfully assigned %s/%s to %s", pod.metadata.namespace, name, NODE),
    "default-scheduler")
  for _, c in ipairs(pod.spec.containers or {}) do
    local fp = "spec.containers{" .. c.name .. "}"
    self.events:emit(pod, "Normal", "Pulling",
                     string.format('Pulling image "%s"', c.image), "kubelet", fp)
    if self:image_mode(c.image) == "bad" then
      self.events:emit(pod, "Warning", "Failed", string.format(
        'Failed to pull image "%s": rpc error: code = NotFound desc = failed to pull and unpack image "%s": not found',
        c.image, c.image), "kubelet", fp)
      self.events:emit(pod, "Warning", "Failed", "Error: ErrImagePull", "kubelet", fp)
    end
  end
  self.store:mark_dirty()
  return pod
end

-- Crash-loop timeline of a container started at simulated second 0: it
-- runs RUN seconds, crashes, waits the kubelet's back-off (10 s doubling
-- to 300 s), starts again. Returns restarts so far, whether it is in
-- back-off now, and the back-off length.
local RUN = 3
local function crash_state(age)
  local t, restarts, backoff = 0, 0, 10
  while true do
    if age < t + RUN then return restarts, false, backoff end
    t = t + RUN
    if age < t + backoff then return restarts + 1, true, backoff, t end
    t = t + backoff
    restarts = restarts + 1
    backoff = math.min(backoff * 2, 300)
    if restarts > 10000 then return restarts, true, backoff end
  end
end

-- Writes a pod's status for its mode and readiness; returns whether the
-- pod is ready.
function Ctl:sync_pod_status(p, may_ready, now)
  local pod = U.copy(p)
  local status = U.sub(pod, "status")
  local old_cs = {}
  for _, c in ipairs(status.containerStatuses or {}) do old_cs[c.name] = c end
  local created = U.parse_time(pod.metadata.creationTimestamp) or now
  local age = sim_seconds(self, created, now)
  local ts = U.rfc3339(now)
  local all_ready, any_running = true, false
  local css = U.A()
  for _, c in ipairs(pod.spec.containers or {}) do
    local mode = self:image_mode(c.image)
    if mode ~= "ok" then self.busy = true end   -- its status moves with time
    local o = old_cs[c.name] or {}
    local cs = { name = c.name, image = c.image, restartCount = 0,
                 ready = false, started = false,
                 imageID = "", containerID = "" }
    local fp = "spec.containers{" .. c.name .. "}"
    if mode == "bad" then
      local reason = age < 10 and "ErrImagePull" or "ImagePullBackOff"
      local msg = reason == "ErrImagePull" and
        string.format('rpc error: code = NotFound desc = failed to pull and unpack image "%s": not found', c.image)
        or string.format('Back-off pulling image "%s"', c.image)
      cs.state = { waiting = { reason = reason, message = msg } }
      if reason == "ImagePullBackOff" and
         U.dig(o, { "state", "waiting", "reason" }) ~= "ImagePullBackOff" then
        self.events:emit(pod, "Normal", "BackOff",
                         string.format('Back-off pulling image "%s"', c.image), "kubelet", fp)
        self.events:emit(pod, "Warning", "Failed", "Error: ImagePullBackOff", "kubelet", fp)
      end
      all_ready = false
    elseif mode == "crash" then
      local restarts, backing_off, backoff, crashed_at = crash_state(age)
      cs.restartCount = restarts
      cs.imageID = "sim.local/" .. c.image
      cs.containerID = "containerd://" .. U.safe_encode(pod.metadata.uid .. c.name .. restarts)
      if restarts > 0 then
        local fin = created + (crashed_at or age) * 1000 / self.scale
        cs.lastState = { terminated = { exitCode = 1, reason = "Error",
                                        startedAt = U.rfc3339(fin - RUN * 1000 / self.scale),
                                        finishedAt = U.rfc3339(fin),
                                        containerID = cs.containerID } }
      end
      if backing_off then
        cs.state = { waiting = { reason = "CrashLoopBackOff", message = string.format(
          "back-off %ds restarting failed container=%s pod=%s_%s(%s)", backoff, c.name,
          pod.metadata.name, pod.metadata.namespace, pod.metadata.uid) } }
      else
        cs.state = { running = { startedAt = ts } }
        if o.state and o.state.running then cs.state = U.copy(o.state) end
        cs.started = true
        any_running = true
      end
      if restarts > (o.restartCount or 0) then
        self.events:emit(pod, "Warning", "BackOff", string.format(
          "Back-off restarting failed container %s in pod %s_%s(%s)", c.name,
          pod.metadata.name, pod.metadata.namespace, pod.metadata.uid), "kubelet", fp)
      end
      if o.restartCount == nil then
        self:started_events(pod, c, fp)
      end
      all_ready = false
    elseif may_ready then
      cs.ready, cs.started = true, true
      cs.imageID = "sim.local/" .. c.image
      cs.containerID = "containerd://" .. U.safe_encode(pod.metadata.uid .. c.name)
      cs.state = (o.state and o.state.running) and U.copy(o.state) or
        { running = { startedAt = ts } }
      if not (o.state and o.state.running) then self:started_events(pod, c, fp) end
      any_running = true
    else
      cs.state = { waiting = { reason = "ContainerCreating" } }
      all_ready = false
    end
    css[#css + 1] = cs
  end
  local ready = all_ready and #css > 0
  status.containerStatuses = css
  status.phase = (ready or any_running) and "Running" or "Pending"
  local function cond(typ, ok)
    local old
    for _, c in ipairs(p.status and p.status.conditions or {}) do
      if c.type == typ then old = c end
    end
    local s = ok and "True" or "False"
    local c = { type = typ, status = s,
                lastTransitionTime = (old and old.status == s) and old.lastTransitionTime
                  or ts }
    if not ok then
      c.reason = "ContainersNotReady"
      c.message = "containers with unready status: [" .. (function()
        local names = {}
        for _, x in ipairs(css) do if not x.ready then names[#names + 1] = x.name end end
        return table.concat(names, " ")
      end)() .. "]"
    end
    return c
  end
  status.conditions = U.A({
    { type = "PodReadyToStartContainers", status = "True",
      lastTransitionTime = pod.metadata.creationTimestamp },
    { type = "Initialized", status = "True",
      lastTransitionTime = pod.metadata.creationTimestamp },
    cond("Ready", ready), cond("ContainersReady", ready),
    { type = "PodScheduled", status = "True",
      lastTransitionTime = pod.metadata.creationTimestamp },
  })
  self.store:update("pods", pod)
  return ready
end

function Ctl:started_events(pod, c, fp)
  self.events:emit(pod, "Normal", "Pulled", string.format(
    'Successfully pulled image "%s" in 1.2s (1.2s including waiting). Image size: 12345678 bytes.',
    c.image), "kubelet", fp)
  self.events:emit(pod, "Normal", "Created", "Created container: " .. c.name, "kubelet", fp)
  self.events:emit(pod, "Normal", "Started", "Started container " .. c.name, "kubelet", fp)
end

-- A pod created directly (no owner) runs as its images allow.
function Ctl:sync_bare_pod(p, now)
  if U.dig(p, { "metadata", "deletionTimestamp" }) then return end
  if not U.dig(p, { "status", "podIP" }) then
    local pod = U.copy(p)
    local ip = self.state.ip
    self.state.ip = ip + 1
    local status = U.sub(pod, "status")
    status.hostIP = HOST_IP
    status.podIP = string.format("10.244.%d.%d", math.floor(ip / 250) % 256, ip % 250 + 2)
    status.podIPs = U.A({ { ip = status.podIP } })
    status.startTime = U.rfc3339(now)
    status.qosClass = "BestEffort"
    pod.spec.nodeName = pod.spec.nodeName or NODE
    p = self.store:update("pods", pod)
  end
  self:sync_pod_status(p, true, now)
end

-- ---- Deployment status ----------------------------------------------------------

local function condition(old_list, typ, status, reason, message, ts)
  local old
  for _, c in ipairs(old_list or {}) do
    if c.type == typ then old = c end
  end
  local c = { type = typ, status = status, reason = reason, message = message,
              lastUpdateTime = ts, lastTransitionTime = ts }
  if old then
    if old.status == status then c.lastTransitionTime = old.lastTransitionTime end
    if old.status == status and old.reason == reason and old.message == message then
      c.lastUpdateTime = old.lastUpdateTime
    end
  end
  return c
end

function Ctl:update_status(d, rec, plan, paused, now)
  local st = self.store
  local md = d.metadata
  d = st:get("deployments", md.namespace, md.name)
  local rss = owned_by(st:list("replicasets", md.namespace), md.uid)
  -- Updated pods are those of the current template (while paused, a
  -- changed template has none yet, as kubectl expects).
  local hash = U.template_hash(d.spec.template)
  local total, ready, updated = 0, 0, 0
  for _, rs in ipairs(rss) do
    total = total + (U.dig(rs, { "status", "replicas" }) or 0)
    local r = U.dig(rs, { "status", "readyReplicas" }) or 0
    ready = ready + r
    if U.dig(rs, { "metadata", "labels", "pod-template-hash" }) == hash then
      updated = U.dig(rs, { "status", "replicas" }) or 0
    end
  end
  local R = U.dig(d, { "spec", "replicas" }) or 1
  local _, unavail = fenceposts(d, R)
  local ts = U.rfc3339(now)
  local old = U.dig(d, { "status", "conditions" })
  local nd = U.copy(d)
  local s = {}
  nd.status = s
  s.observedGeneration = md.generation or 1
  if total > 0 then s.replicas = total end
  if updated > 0 then s.updatedReplicas = updated end
  if ready > 0 then s.readyReplicas = ready; s.availableReplicas = ready end
  if total - ready > 0 then s.unavailableReplicas = total - ready end
  local available = ready >= R - unavail
  local conds = U.A()
  conds[1] = available and
    condition(old, "Available", "True", "MinimumReplicasAvailable",
              "Deployment has minimum availability.", ts) or
    condition(old, "Available", "False", "MinimumReplicasUnavailable",
              "Deployment does not have minimum availability.", ts)
  local name = rec and rec.rs or ""
  if paused then
    conds[2] = condition(old, "Progressing", "Unknown", "DeploymentPaused",
                         "Deployment is paused", ts)
  elseif rec and plan.complete and updated == R and total == R then
    conds[2] = condition(old, "Progressing", "True", "NewReplicaSetAvailable",
                         string.format('ReplicaSet "%s" has successfully progressed.', name), ts)
  elseif rec and plan.exceeded then
    conds[2] = condition(old, "Progressing", "False", "ProgressDeadlineExceeded",
                         string.format('ReplicaSet "%s" has timed out progressing.', name), ts)
  elseif rec then
    local reason = plan.progressed and "ReplicaSetUpdated" or rec.reason
    local msg
    if reason == "NewReplicaSetCreated" then
      msg = string.format('Created new replica set "%s"', name)
    elseif reason == "FoundNewReplicaSet" then
      msg = string.format('Found new replica set "%s"', name)
    else
      reason = "ReplicaSetUpdated"
      msg = string.format('ReplicaSet "%s" is progressing.', name)
    end
    conds[2] = condition(old, "Progressing", "True", reason, msg, ts)
  end
  s.conditions = conds
  st:update("deployments", nd)
end

-- Keeps spec.revisionHistoryLimit old, empty ReplicaSets; deletes older.
function Ctl:cleanup(d)
  local st = self.store
  local rec = self.state.rollouts[d.metadata.uid]
  local limit = U.dig(d, { "spec", "revisionHistoryLimit" }) or 10
  local olds = {}
  for _, rs in ipairs(owned_by(st:list("replicasets", d.metadata.namespace), d.metadata.uid)) do
    if rs.metadata.name ~= rec.rs and (U.dig(rs, { "spec", "replicas" }) or 0) == 0 and
       (U.dig(rs, { "status", "replicas" }) or 0) == 0 then
      olds[#olds + 1] = rs
    end
  end
  if #olds <= limit then return end
  table.sort(olds, function(a, b) return revision(a) < revision(b) end)
  for i = 1, #olds - limit do
    st:delete("replicasets", olds[i].metadata.namespace, olds[i].metadata.name)
  end
end

-- The pod a command for "deployment/NAME" runs in: a ready pod of the
-- Deployment's newest ReplicaSet, else any running pod of it.
function Ctl:pod_for_deployment(ns, name)
  local d = self.store:get("deployments", ns, name)
  if not d then return nil end
  local reqs = SEL.from_label_selector(d.spec.selector)
  local best
  for _, p in ipairs(self.store:list("pods", ns)) do
    if SEL.match_labels(reqs, p.metadata.labels) then
      if is_ready(p) then return p end
      best = best or p
    end
  end
  return best
end

M.is_ready = is_ready

return M
