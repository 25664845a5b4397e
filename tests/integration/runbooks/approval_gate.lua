-- A deploy step (with an undo), an approval gate, a promote step. Each
-- effect appends a line to p.dir/trace. The gate's policy comes from the
-- params (and from summit.lua when the gate names an environment).
return runbook {
  name = "approval-gate", version = "1.0.0",
  params = {
    dir        = { type = "string", required = true },
    gate       = { type = "string", default = "production" },
    version    = { type = "string", default = "v1" },
    count      = { type = "integer", default = 2 },
    role       = { type = "string", default = "" },
    timeout    = { type = "string", default = "" },
    on_timeout = { type = "string", default = "fail" },
    signed     = { type = "boolean", default = false },
  },
  run = function(p)
    local function trace(line)
      exec({ "sh", "-c", 'echo "$1" >> "$2"', "sh", line, p.dir .. "/trace" })
    end
    step{ "deploy", function()
      trace("deploy " .. p.version)
      return p.version
    end, undo = function(v) trace("undo deploy " .. v) end }
    local r = approval.require{
      gate = p.gate, count = p.count,
      roles = p.role ~= "" and { p.role } or nil,
      bind = { version = p.version },
      timeout = p.timeout ~= "" and p.timeout or nil,
      on_timeout = p.timeout ~= "" and p.on_timeout or nil,
      reason = "promote " .. p.version .. " to " .. p.gate,
      signed = p.signed or nil,
    }
    step("promote", function()
      local who = {}
      for i, a in ipairs(r.approvers) do who[i] = a.actor end
      trace("promote " .. p.version .. " approved by " .. table.concat(who, ","))
    end)
    return { approvers = #r.approvers, gate = r.gate, version = r.bind.version }
  end,
}
