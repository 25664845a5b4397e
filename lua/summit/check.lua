-- Static checks of a runbook before it runs (summit validate), found by
-- walking the LuaJIT bytecode of the chunk and of every function in it:
-- every global the code reads or writes must exist in the sandbox
-- (globals), and the replay traps (traps, docs/authoring.md#replay-traps):
-- a step body that writes a local declared outside it, and os.time,
-- os.clock or math.random used outside a step.
local jutil = require("jit.util")
local bit = require("bit")

local M = {}

-- The fields of an instruction (LuaJIT's ABC and AD formats).
local function op_of(ins) return bit.band(ins, 0xff) end
local function a_of(ins) return bit.band(bit.rshift(ins, 8), 0xff) end
local function b_of(ins) return bit.rshift(ins, 24) end
local function c_of(ins) return bit.band(bit.rshift(ins, 16), 0xff) end
local function d_of(ins) return bit.rshift(ins, 16) end

-- The opcode at pc of a compiled probe (inner: of its first function), so
-- the opcodes follow whatever LuaJIT this is.
local function probe(src, pc, inner)
  local f = loadstring(src)
  if inner then f = jutil.funck(f, -1) end
  local ins = jutil.funcbc(f, pc)
  if not ins then error("summit.check: cannot find the opcodes of this LuaJIT") end
  return op_of(ins)
end
local UPV = "local u; return function(x) "
local GGET, TGETS = probe("return os.time", 1), probe("return os.time", 2)
local GSET = probe("zz_probe = 1", 2)
local FNEW, UGET = probe("return function() end", 1), probe(UPV .. "u.k = x end", 1, true)
local TSETS = probe(UPV .. "u.k = x end", 2, true)
local TSET = { [TSETS] = true,
               [probe(UPV .. "u[x] = x end", 2, true)] = true,
               [probe(UPV .. "u[1] = x end", 2, true)] = true }
local USET = {}
for _, v in ipairs({ "x", "'s'", "1", "true" }) do
  USET[probe(UPV .. "u = " .. v .. " end", 1, true)] = true
end
local CALL = { [probe("f(x)", 3)] = true, [probe("f(g())", 4)] = true,
               [probe("return f(x)", 3)] = true, [probe("return f(g())", 4)] = true }
local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end
if count(TSET) ~= 3 or count(USET) ~= 4 or count(CALL) ~= 4 then
  error("summit.check: this LuaJIT compiles the probes unlike LuaJIT 2.1")
end
-- How far a call's first argument is from its base (2 with LuaJIT's
-- two-slot frames, GC64).
local ARG1 = a_of(jutil.funcbc(loadstring("local f, x; f(x)"), 3)) -
             a_of(jutil.funcbc(loadstring("local f, x; f(x)"), 2))

-- The functions defined directly in f.
local function protos(f)
  local list = {}
  for n = -1, -1000000, -1 do
    local k = jutil.funck(f, n)
    if k == nil then break end
    if type(k) == "proto" then list[#list + 1] = k end
  end
  return list
end

-- The file and line of the instruction at pc of f.
local function where(f, pc)
  local src = (jutil.funcinfo(f).source or "?"):gsub("^@", "")
  return src, jutil.funcinfo(f, pc).currentline or 0
end

-- globals(fn, env) -> list of "file:line: message" for unknown globals.
function M.globals(fn, env)
  local problems, seen = {}, {}
  local function walk(f)
    local pc = 1
    while true do
      local ins = jutil.funcbc(f, pc)
      if not ins then break end
      local op = op_of(ins)
      if op == GGET or op == GSET then
        local name = jutil.funck(f, -d_of(ins) - 1)
        local src, line = where(f, pc)
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
    for _, p in ipairs(protos(f)) do walk(p) end
  end
  walk(fn)
  return problems
end

-- ---- replay traps -------------------------------------------------------

-- The instruction that last set slot before pc, in code order (not flow
-- order: good enough for the straight-line code that loads a value and
-- uses it at once). Any instruction whose A is slot counts, so a slot set
-- by something this does not know is never mistaken for an upvalue.
local function origin(f, pc, slot)
  for i = pc - 1, 1, -1 do
    local ins = jutil.funcbc(f, i)
    local op = op_of(ins)
    if a_of(ins) == slot and not TSET[op] and not USET[op] then return ins end
  end
end

-- The name a slot was loaded from before pc: global, upvalue or field
-- ("x" of t.x), and how ("global", "upvalue", "field"); nil if none.
local function loaded(f, pc, slot)
  local ins = origin(f, pc, slot)
  if not ins then return nil end
  local op = op_of(ins)
  if op == GGET then return jutil.funck(f, -d_of(ins) - 1), "global" end
  if op == UGET then return jutil.funcuvname(f, d_of(ins)), "upvalue" end
  if op == TGETS then return jutil.funck(f, -c_of(ins) - 1), "field" end
end

-- The protos of f passed to step(...) or step{...}: the value of an FNEW
-- goes to the first call after it with a base below its slot (directly,
-- or in the table it is stored in); that call is step's if its callee
-- was loaded as a global, upvalue or field named "step".
local function step_bodies(f)
  local bodies, pending = {}, {}
  local pc = 1
  while true do
    local ins = jutil.funcbc(f, pc)
    if not ins then break end
    local op = op_of(ins)
    if op == FNEW then
      pending[#pending + 1] = { slot = a_of(ins), proto = jutil.funck(f, -d_of(ins) - 1) }
    elseif TSET[op] then
      for _, p in ipairs(pending) do
        if p.slot == a_of(ins) then p.slot = b_of(ins) end
      end
    elseif CALL[op] then
      local base, rest = a_of(ins), {}
      for _, p in ipairs(pending) do
        if base < p.slot then
          if base + ARG1 <= p.slot and loaded(f, pc, base) == "step" then
            bodies[p.proto] = true
          end
        else
          rest[#rest + 1] = p
        end
      end
      pending = rest
    end
    pc = pc + 1
  end
  return bodies
end

local LOST = "%s:%d: replay trap: the step body assigns '%s', %s declared outside the body; " ..
  "a replayed step returns its journaled result without running its body, so the " ..
  "assignment is lost (fix: return the value from the step and assign the step's result " ..
  "outside, e.g. local v = step(\"x\", function() return ... end))"
local UNSTABLE = "%s:%d: replay trap: %s.%s used outside a step; its value differs when " ..
  "the run replays (fix: use %s, or call it inside a step)"
local FIX = { ["os.time"] = "now()", ["os.clock"] = "now()", ["math.random"] = "random()" }

-- What a step body writes outside itself: an upvalue, or a field of one.
local function body_writes(f, emit)
  local pc = 1
  while true do
    local ins = jutil.funcbc(f, pc)
    if not ins then break end
    local op = op_of(ins)
    if USET[op] then
      emit(LOST, f, pc, jutil.funcuvname(f, a_of(ins)), "a local")
    elseif TSET[op] then
      local name, how = loaded(f, pc, b_of(ins))
      if how == "upvalue" then
        local key = op == TSETS and jutil.funck(f, -c_of(ins) - 1)
        emit(LOST, f, pc, type(key) == "string" and name .. "." .. key or name .. "[...]",
          "a field of '" .. name .. "',")
      end
    end
    pc = pc + 1
  end
end

-- os.time, os.clock and math.random read in f.
local function unstable_reads(f, emit)
  local pc = 1
  while true do
    local ins = jutil.funcbc(f, pc)
    if not ins then break end
    if op_of(ins) == TGETS then
      local lib, how = loaded(f, pc, b_of(ins))
      local name = how == "global" and lib .. "." .. tostring(jutil.funck(f, -c_of(ins) - 1))
      if name and FIX[name] then
        emit(UNSTABLE, f, pc, lib, name:match("%.(.*)"), FIX[name])
      end
    end
    pc = pc + 1
  end
end

-- traps(src, path) -> list of "file:line: replay trap: ... (fix: ...)"
-- for the runbook source src (nil and the compiler's message if it does
-- not compile).
function M.traps(src, path)
  local fn, err = loadstring(src, "@" .. path)
  if not fn then return nil, err end
  local problems, seen = {}, {}
  local function emit(fmt, f, pc, ...)
    local file, line = where(f, pc)
    local msg = string.format(fmt, file, line, ...)
    if not seen[msg] then
      seen[msg] = true
      problems[#problems + 1] = msg
    end
  end
  local function walk(f, in_step)
    local bodies = step_bodies(f)
    if not in_step then unstable_reads(f, emit) end
    for _, p in ipairs(protos(f)) do
      if bodies[p] then body_writes(p, emit) end
      walk(p, in_step or bodies[p])
    end
  end
  walk(fn, false)
  local function line(m) return tonumber(m:match(":(%d+): replay trap")) or 0 end
  table.sort(problems, function(x, y) return line(x) < line(y) end)
  return problems
end

return M
