-- pods/NAME/exec over Kubernetes' WebSocket exec protocol, as `kubectl
-- exec` (1.30+) and summit's cluster client speak it: an HTTP/1.1 GET (or
-- POST) with Upgrade: websocket and Sec-WebSocket-Protocol
-- v5.channel.k8s.io (preferred) or v4.channel.k8s.io; the query carries
-- command=... (repeated), container, stdout, stderr, stdin, tty.
--
-- The scenario's scripted command (summit/sim/exec.lua) runs at once, so
-- the whole answer is sent right after the 101: stdout as binary frames
-- whose first byte is channel 1, stderr on channel 2, then the Status JSON
-- on channel 3 (Success, or Failure/NonZeroExitCode with the ExitCode
-- cause, exactly as the kubelet writes it), then a close frame (1000), and
-- the connection closes once that is sent. Nothing is read from stdin:
-- client frames are decoded only to answer pings; a close (frame or v5's
-- channel 255 "close stream") ends the exchange early. SPDY is not served:
-- a request without the WebSocket upgrade gets a 400 Status, which makes
-- kubectl say so rather than hang.

local WS = require("summit.c.ws")
local S = require("summit.c.server")
local EXEC = require("summit.sim.exec")
local U = require("summit.sim.util")

local M = {}

local PROTOCOLS = { "v5.channel.k8s.io", "v4.channel.k8s.io" }
local MAX_CLIENT_FRAME = 1024 * 1024

local function unescape(s)
  s = s:gsub("+", " ")
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- params(raw_query) -> { command = { argv... }, container = , stdout = , ... }
function M.params(raw)
  local p = { command = {} }
  for pair in (raw or ""):gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    k, v = unescape(k), unescape(v)
    if k == "command" then p.command[#p.command + 1] = v else p[k] = v end
  end
  return p
end

-- The subprotocol to answer with, from the client's offer, or nil.
function M.protocol(offer)
  local offered = {}
  for tok in (offer or ""):gmatch("[^,%s]+") do offered[tok] = true end
  for _, p in ipairs(PROTOCOLS) do
    if offered[p] then return p end
  end
  return nil
end

-- The channel-3 Status of an exit code, as the kubelet writes it.
function M.status_json(code, argv)
  if code == 0 then return '{"metadata":{},"status":"Success"}' end
  local msg = string.format("command terminated with non-zero exit code: error executing command [%s], exit code %d",
                            table.concat(argv or {}, " "), code)
  return U.encode({ metadata = {}, status = "Failure", message = msg,
                    reason = "NonZeroExitCode",
                    details = { causes = U.A({ { reason = "ExitCode",
                                                 message = tostring(code) } }) } })
end

local function truthy(v) return v == "true" or v == "1" end

-- serve(sim, c, pod, fail): answers c (the request context of api.lua)
-- for the pod object; fail(code, reason, message, details) raises a Status
-- error (only before the upgrade).
function M.serve(sim, c, pod, fail)
  local req, x = c.req, c.x
  local h = req.headers
  local name = pod.metadata.name
  if not (h.upgrade or ""):lower():find("websocket", 1, true) or
     not h["sec-websocket-key"] then
    fail(400, "BadRequest",
         "exec needs a WebSocket upgrade (Upgrade: websocket, Sec-WebSocket-Protocol: v5.channel.k8s.io or v4.channel.k8s.io); the summit simulated cluster does not serve SPDY; its scripted commands run over WebSocket or through summit's cluster():exec",
         {})
  end
  local proto = M.protocol(h["sec-websocket-protocol"])
  if not proto then
    fail(400, "BadRequest", string.format(
      "none of the offered WebSocket subprotocols (%s) is served; want v5.channel.k8s.io or v4.channel.k8s.io",
      tostring(h["sec-websocket-protocol"] or "")), {})
  end
  local p = M.params(req.raw_query)
  if #p.command == 0 then
    fail(400, "BadRequest", "you must specify at least 1 command", {})
  end
  local cs = U.dig(pod, { "spec", "containers" }) or {}
  local cname = p.container
  if cname == nil or cname == "" then
    cname = U.dig(pod, { "metadata", "annotations", "kubectl.kubernetes.io/default-container" }) or
      (cs[1] and cs[1].name)
  end
  local known = false
  for _, x1 in ipairs(cs) do if x1.name == cname then known = true end end
  if not known then
    fail(400, "BadRequest", string.format("container %s is not valid for pod %s",
                                          tostring(cname), name), {})
  end
  local running = false
  for _, st in ipairs(U.dig(pod, { "status", "containerStatuses" }) or {}) do
    if st.name == cname and U.dig(st, { "state", "running" }) then running = true end
  end
  if not running then
    fail(400, "BadRequest", string.format(
      'unable to upgrade connection: container not found ("%s")', cname), {})
  end
  local r = EXEC.run(sim.scenario, pod, cname, p.command, sim.store)

  local dec = WS.decoder(MAX_CLIENT_FRAME, true)
  local closed = false
  local timer, stop_timer
  local function finish()
    if stop_timer then stop_timer() end
    if closed then return end
    closed = true
    x:close()
  end
  local function on_data(bytes)
    local frames = dec:feed(bytes)
    if not frames then return finish() end
    for _, f in ipairs(frames) do
      if f[1] == WS.OP.PING then
        x:send(WS.frame(WS.OP.PONG, f[2]))
      elseif f[1] == WS.OP.CLOSE then
        return finish()
      end
      -- Binary frames (stdin on channel 0, resize on 4, v5's close of a
      -- stream on 255) carry nothing the sim acts on.
    end
  end
  local ok = x:upgrade({ Upgrade = "websocket",
                         ["Sec-WebSocket-Accept"] = WS.accept(h["sec-websocket-key"]),
                         ["Sec-WebSocket-Protocol"] = proto },
                       on_data, function()
                         closed = true
                         if stop_timer then stop_timer() end
                       end)
  if not ok then
    fail(400, "BadRequest", "the connection cannot be upgraded", {})
  end
  c.code = 101
  local function answer()
    if closed then return end
    local bin = WS.OP.BINARY
    if truthy(p.stdout) and #r.stdout > 0 then x:send(WS.frame(bin, "\1" .. r.stdout)) end
    if truthy(p.stderr) and #r.stderr > 0 then x:send(WS.frame(bin, "\2" .. r.stderr)) end
    x:send(WS.frame(bin, "\3" .. M.status_json(r.exit_code, p.command)))
    x:send(WS.frame(WS.OP.CLOSE, "\3\232"))   -- 1000: normal closure
    finish()
  end
  if (r.delay_seconds or 0) <= 0 then return answer() end
  -- A slow command: the answer comes later; a client that goes away, or
  -- the sim stopping (close_streams), ends the wait.
  local streams = sim.api.streams
  stop_timer = function()
    if timer then timer:stop() end
    timer = nil
    streams[stop_timer] = nil
  end
  streams[stop_timer] = function() finish() end
  timer = S.timer(r.delay_seconds * 1000 / (sim.time_scale or 1), function()
    timer = nil
    answer()
  end)
end

return M
