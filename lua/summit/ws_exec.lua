-- The client side of Kubernetes' WebSocket exec protocol, for
-- cluster:exec (summit/cluster.lua).
--
-- libcurl makes the connection (summit.c.http raw: proxy, TLS, CA, client
-- certificates exactly as for every other request); this module writes
-- the HTTP/1.1 upgrade itself (GET .../exec?command=...&stdout=true&
-- stderr=true, Sec-WebSocket-Protocol v5.channel.k8s.io then
-- v4.channel.k8s.io, the request's Authorization header), checks the 101
-- (Sec-WebSocket-Accept, the subprotocol), then reads binary frames: the
-- first byte is the channel (1 stdout, 2 stderr, 3 the Status JSON),
-- answers pings, and ends at the server's close frame or EOF. Frames are
-- decoded by summit.c.ws (core/io/ws.c, fuzzed); our frames are masked.
-- No stdin and no TTY: nothing is sent after the upgrade but pongs and
-- the closing handshake.
local WS = require("summit.c.ws")
local H = require("summit.c.http")
local json = require("summit.json")

local M = {}

local MAX_HEAD = 64 * 1024
local MAX_OUTPUT = 64 * 1024 * 1024   -- per stream, and per message

-- The exit code a channel-3 Status means, or nil and a message.
function M.exit_code(status_json)
  if status_json == nil or status_json == "" then
    return nil, "the exec stream ended without a status"
  end
  local ok, st = pcall(json.decode, status_json)
  if not ok or type(st) ~= "table" then
    return nil, "the exec status is not JSON: " .. status_json:sub(1, 200)
  end
  if st.status == "Success" then return 0 end
  if st.reason == "NonZeroExitCode" then
    for _, c in ipairs(((st.details or {}).causes) or {}) do
      if c.reason == "ExitCode" and tonumber(c.message) then return tonumber(c.message) end
    end
  end
  return nil, tostring(st.message or status_json:sub(1, 200)), st
end

local function header(head, name)
  for line in head:gmatch("[^\r\n]+") do
    local k, v = line:match("^([^:]+):%s*(.-)%s*$")
    if k and k:lower() == name then return v end
  end
  return nil
end

-- run(o, deadline, err) -> result | nil, refusal
--   o: the request options of cluster.lua (url = the exec URL with its
--   query, headers, TLS options); result = { code, stdout, stderr, protocol }; refusal =
--   { status, body } when the server answered something other than 101.
-- Raises { code, message } strings through err(code, message) on
-- transport and protocol failures.
function M.run(o, deadline, err)
  local hostport, target = o.url:match("^https?://([^/]+)(/.*)$")
  if not hostport then err("EINVAL", "bad exec URL") end
  local ro = {}
  for k, v in pairs(o) do ro[k] = v end
  ro.headers = nil
  local conn, code, msg = H.raw(ro)
  if not conn then err(code, msg) end
  local ok, res, refusal = pcall(function()
    local key = WS.key()
    local lines = { "GET " .. target .. " HTTP/1.1", "Host: " .. hostport,
                    "Connection: Upgrade", "Upgrade: websocket",
                    "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: " .. key,
                    "Sec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io",
                    "User-Agent: summit" }
    for k, v in pairs(o.headers or {}) do
      if k:lower() ~= "accept" and k:lower() ~= "content-type" then
        lines[#lines + 1] = k .. ": " .. v
      end
    end
    conn:send(table.concat(lines, "\r\n") .. "\r\n\r\n")

    local buf = ""
    local function more()
      local d, c2, m2 = conn:next(deadline)
      if not d then
        if c2 == "EOF" then return false end
        err(c2 or "EIO", tostring(m2 or c2))
      end
      buf = buf .. d
      return true
    end
    while not buf:find("\r\n\r\n", 1, true) do
      if #buf > MAX_HEAD then err("EPROTO", "the exec answer's header is too long") end
      if not more() then err("EPROTO", "the server closed the exec connection before answering") end
    end
    local e = buf:find("\r\n\r\n", 1, true)
    local head, rest = buf:sub(1, e - 1), buf:sub(e + 4)
    local status = tonumber(head:match("^HTTP/1%.%d (%d%d%d)"))
    if not status then err("EPROTO", "not an HTTP answer: " .. head:sub(1, 80)) end
    if status ~= 101 then
      -- The Status body: up to Content-Length, or to the close.
      local len = tonumber(header(head, "content-length") or "")
      buf = rest
      while (not len or #buf < len) and #buf < MAX_HEAD do
        if not more() then break end
      end
      return nil, { status = status, body = len and buf:sub(1, len) or buf }
    end
    if header(head, "sec-websocket-accept") ~= WS.accept(key) then
      err("EPROTO", "the exec upgrade's Sec-WebSocket-Accept is wrong")
    end
    local proto = header(head, "sec-websocket-protocol")
    if proto ~= "v5.channel.k8s.io" and proto ~= "v4.channel.k8s.io" then
      err("EPROTO", "the API server chose no supported exec protocol (" .. tostring(proto) .. ")")
    end

    local dec = WS.decoder(MAX_OUTPUT, false)
    local out, errs, st = {}, {}, {}
    local sizes = { 0, 0 }
    local closed = false
    local function feed(bytes)
      local frames, derr = dec:feed(bytes)
      if not frames then err("EPROTO", "bad WebSocket frame from the API server (" .. derr .. ")") end
      for _, f in ipairs(frames) do
        local op, data = f[1], f[2]
        if op == WS.OP.BINARY and #data > 0 then
          local ch, payload = data:byte(1), data:sub(2)
          if ch == 1 or ch == 2 then
            sizes[ch] = sizes[ch] + #payload
            if sizes[ch] > MAX_OUTPUT then err("ETOOLARGE", "exec output beyond 64 MiB") end
            local t = ch == 1 and out or errs
            t[#t + 1] = payload
          elseif ch == 3 then
            st[#st + 1] = payload
          end
        elseif op == WS.OP.PING then
          conn:send(WS.frame(WS.OP.PONG, data, true))
        elseif op == WS.OP.CLOSE then
          conn:send(WS.frame(WS.OP.CLOSE, data:sub(1, 2), true))
          closed = true
          return
        end
      end
    end
    buf = ""
    feed(rest)
    while not closed do
      local d, c2, m2 = conn:next(deadline)
      if not d then
        if c2 == "EOF" then break end
        err(c2 or "EIO", tostring(m2 or c2))
      end
      feed(d)
    end
    return { stdout = table.concat(out), stderr = table.concat(errs),
             status = table.concat(st), protocol = proto }
  end)
  conn:close()
  if not ok then error(res, 0) end
  return res, refusal
end

return M
