-- Static checks of a runbook before it runs (summit validate): every
-- global the code reads or writes must exist in the sandbox, found by
-- walking the LuaJIT bytecode of the chunk and of every function in it.
local jutil = require("jit.util")
local bit = require("bit")

local M = {}

-- The opcodes of a global read and write, taken from compiled probes so
-- they follow whatever LuaJIT this is.
local function opcode(src)
  local f = loadstring(src)
  for pc = 1, 10 do
    local ins = jutil.funcbc(f, pc)
    if not ins then break end
    if jutil.funck(f, -bit.rshift(ins, 16) - 1) == "zz_probe" then
      return bit.band(ins, 0xff)
    end
  end
  error("summit.check: cannot find the global access opcodes of this LuaJIT")
end
local GGET = opcode("return zz_probe")
local GSET = opcode("zz_probe = 1")

-- globals(fn, env) -> list of "file:line: message" for unknown globals.
function M.globals(fn, env)
  local problems, seen = {}, {}
  local function walk(f)
    local info = jutil.funcinfo(f)
    local src = (info.source or "?"):gsub("^@", "")
    local pc = 1
    while true do
      local ins = jutil.funcbc(f, pc)
      if not ins then break end
      local op = bit.band(ins, 0xff)
      if op == GGET or op == GSET then
        local name = jutil.funck(f, -bit.rshift(ins, 16) - 1)
        local line = jutil.funcinfo(f, pc).currentline or 0
        local msg
        if op == GSET then
          msg = string.format("%s:%d: assignment to undeclared global '%s' (declare it with 'local')",
            src, line, tostring(name))
        elseif rawget(env, name) == nil then
          msg = string.format("%s:%d: unknown global '%s' (not defined, or not allowed in a runbook)",
            src, line, tostring(name))
        end
        if msg and not seen[msg] then
          seen[msg] = true
          problems[#problems + 1] = msg
        end
      end
      pc = pc + 1
    end
    for n = -1, -1000000, -1 do
      local k = jutil.funck(f, n)
      if k == nil then break end
      if type(k) == "proto" then walk(k) end
    end
  end
  walk(fn)
  return problems
end

return M
