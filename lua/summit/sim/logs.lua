-- Generated container logs for pods/NAME/log. A running container logs
-- its start-up, the scenario's lines for its image, then one request line
-- every log_interval_seconds of real time; a crash-looping one ends each
-- run with a panic (what --previous shows). Lines are a pure function of
-- the pod and the clock, so they need no storage and survive restarts.

local U = require("summit.sim.util")

local M = {}
M.MAX_LINES = 1000

local PATHS = { "/", "/healthz", "/api/items", "/api/orders", "/login", "/static/app.js" }

-- { {ms, text}, ... } of container c of pod p up to now; previous: the
-- lines of the run before the last restart.
function M.lines(sim, p, c, previous, now)
  local cs
  for _, x in ipairs(U.dig(p, { "status", "containerStatuses" }) or {}) do
    if x.name == c.name then cs = x end
  end
  local started
  if previous then
    local t = U.dig(cs, { "lastState", "terminated" })
    if not t then return nil end
    started = U.parse_time(t.startedAt)
    now = U.parse_time(t.finishedAt) or now
  else
    started = U.parse_time(U.dig(cs, { "state", "running", "startedAt" }))
  end
  if not started then return {} end
  local out = {}
  local function add(ms, text) out[#out + 1] = { ms, text } end
  local image = c.image or ""
  add(started, string.format("level=info msg=\"starting %s\" image=%s pod=%s",
                             c.name, image, p.metadata.name))
  for _, glob in ipairs(U.keys(sim.scenario.logs or {})) do
    if U.glob(glob, image) then
      for _, l in ipairs(sim.scenario.logs[glob]) do add(started, tostring(l)) end
    end
  end
  local port = U.dig(c, { "ports", 1, "containerPort" }) or 8080
  add(started, string.format("level=info msg=\"listening\" addr=:%d", port))
  local step = math.max(0.1, sim.scenario.log_interval_seconds or 5) * 1000
  local n = math.floor((now - started) / step)
  local first = math.max(1, n - M.MAX_LINES)
  local seed = U.fnv32a(p.metadata.uid or p.metadata.name)
  for i = first, n do
    local h = (seed + i * 2654435761) % 0x100000000
    local path = PATHS[h % #PATHS + 1]
    local status = (h % 97 == 0) and 500 or 200
    add(started + i * step, string.format(
      "level=info msg=\"request\" method=GET path=%s status=%d duration_ms=%d",
      path, status, h % 40 + 1))
  end
  if previous then
    add(now, "panic: runtime error: invalid memory address or nil pointer dereference")
    add(now, "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a5b2c]")
  end
  return out
end

-- The text/plain body for the query options of kubectl logs:
-- tailLines, sinceSeconds, sinceTime, timestamps, limitBytes.
function M.render(lines, q, now)
  local since
  if q.sinceSeconds then since = now - (tonumber(q.sinceSeconds) or 0) * 1000 end
  if q.sinceTime then since = U.parse_time(q.sinceTime) or since end
  local sel = {}
  for _, l in ipairs(lines) do
    if not since or l[1] >= since then sel[#sel + 1] = l end
  end
  local tail = tonumber(q.tailLines)
  if tail and tail >= 0 and #sel > tail then
    local cut = {}
    for i = #sel - tail + 1, #sel do cut[#cut + 1] = sel[i] end
    sel = cut
  end
  local ts = q.timestamps == "true" or q.timestamps == "1"
  local buf = {}
  for i, l in ipairs(sel) do
    buf[i] = (ts and (U.rfc3339nano(l[1]) .. " ") or "") .. l[2] .. "\n"
  end
  local text = table.concat(buf)
  local limit = tonumber(q.limitBytes)
  if limit and limit >= 0 and #text > limit then text = text:sub(1, limit) end
  return text
end

return M
