-- Misspelt keys: the keys runbook{}, a param spec and step{} know, the
-- error for one they do not (approval.require's wording), and finding
-- where a chunk sets a key by reading its LuaJIT bytecode: for the line
-- of `return runbook{...}` (a tail call, which leaves no frame naming
-- it) and for summit validate's check of literal step{...} tables, whose
-- options are otherwise seen only when the run calls the step.
local argcheck = require("summit.args")
local util = require("summit.util")
local jutil = require("jit.util")
local bit = require("bit")

local M = {}

-- docs/api.md#runbook and #step. Any other key would be ignored silently
-- (`enviroment =` running with no lock, `retires = 3` with no retries).
M.RUNBOOK = { name = true, version = true, description = true, params = true,
  environment = true, run = true }
M.PARAM = { type = true, required = true, default = true, pattern = true,
  enum = true, description = true, secret = true, env = true, file = true }
M.STEP = { name = true, fn = true, idempotent = true, retries = true,
  backoff = true, on_exhausted = true, timeout = true, undo = true, secret_output = true }

-- step{}'s [1] and [2] are its name and function.
local STEP_KEYS = { true, true }
for k in pairs(M.STEP) do STEP_KEYS[k] = true end

-- unknown(t, allowed, positional) -> the first key of t (sorted) that
-- allowed lacks (positional: [1] and [2] are allowed too), or nil.
function M.unknown(t, allowed, positional)
  return argcheck.unknown(t, positional and STEP_KEYS or allowed)
end

-- message(fname, arg, allowed) -> "fname: bad argument 'arg' (unknown
-- option (known: a, b, ...))".
function M.message(fname, arg, allowed)
  return argcheck.message(fname, arg, "unknown option (known: " .. argcheck.known(allowed) .. ")")
end

-- ---- bytecode ----

local function fields(ins)
  return bit.band(ins, 0xff), bit.band(bit.rshift(ins, 8), 0xff),
    bit.band(bit.rshift(ins, 16), 0xff), bit.rshift(ins, 24), bit.rshift(ins, 16)
end

-- The opcode at pc of a compiled probe (of the function it returns, when
-- it returns one), so they follow whatever LuaJIT this is.
local function op_at(src, pc)
  local f = loadstring(src)
  local inner = jutil.funck(f, -1)
  if type(inner) == "proto" then f = inner end
  return bit.band(jutil.funcbc(f, pc), 0xff)
end
local GGET, TDUP, TNEW = op_at("return zz", 1), op_at("return { zz = 1 }", 1), op_at("return {}", 1)
local TSETS = op_at("return function(t) t.zz = t end", 1)
local CALLS = {   -- CALL, CALLT, CALLM, CALLMT
  [op_at("zz()", 2)] = true, [op_at("return zz()", 2)] = true,
  [op_at("zz(...)", 3)] = true, [op_at("return zz(...)", 3)] = true,
}

local function where(fn, pc)
  local info = jutil.funcinfo(fn, pc)
  return (info.source or "?"):gsub("^@", "") .. ":" .. (info.currentline or 0)
end

-- protos(fn, visit): visit(f) for fn and every function nested in it,
-- until visit returns a value, which protos returns.
local function protos(fn, visit)
  local r = visit(fn)
  if r ~= nil then return r end
  for n = -1, -1000000, -1 do
    local c = jutil.funck(fn, n)
    if c == nil then break end
    if type(c) == "proto" then
      r = protos(c, visit)
      if r ~= nil then return r end
    end
  end
  return nil
end

-- site(fn, key) -> "file:line" of the first table constructor in fn (or a
-- function nested in it) that sets key, or nil.
function M.site(fn, key)
  return protos(fn, function(f)
    local pc = 1
    while true do
      local ins = jutil.funcbc(f, pc)
      if not ins then return nil end
      local op, _, c, _, d = fields(ins)
      local k = (op == TDUP and jutil.funck(f, -d - 1))
        or (op == TSETS and jutil.funck(f, -c - 1))
      if (type(k) == "table" and rawget(k, key) ~= nil) or k == key then
        return where(f, pc)
      end
      pc = pc + 1
    end
  end)
end

-- The keys the table built at pc (a TDUP or TNEW into slot t) gets before
-- the call of the function in slot a: each with the line that sets it.
local function literal_keys(f, pc, a, t)
  local keys = {}
  local op, _, _, _, d = fields(jutil.funcbc(f, pc))
  if op == TDUP then
    for _, k in ipairs(util.sorted_keys(jutil.funck(f, -d - 1))) do
      keys[#keys + 1] = { k, where(f, pc) }
    end
  end
  for i = pc + 1, pc + 10000 do
    local ins = jutil.funcbc(f, i)
    if not ins then break end
    local o, ia, c, b = fields(ins)
    if CALLS[o] and ia == a then break end
    if o == TSETS and b == t then keys[#keys + 1] = { jutil.funck(f, -c - 1), where(f, i) } end
  end
  return keys
end

-- steps(fn) -> a list of "file:line: step: bad argument 'k' (unknown option
-- (known: ...))" for each literal step{...} table in fn and the functions
-- nested in it that holds a key step{} does not know.
function M.steps(fn)
  local problems = {}
  protos(fn, function(f)
    local pc = 1
    while true do
      local ins = jutil.funcbc(f, pc)
      if not ins then return nil end
      local op, a, _, _, d = fields(ins)
      local nxt = jutil.funcbc(f, pc + 1)
      if op == GGET and jutil.funck(f, -d - 1) == "step" and nxt then
        local nop, t = fields(nxt)
        if nop == TDUP or nop == TNEW then
          for _, kv in ipairs(literal_keys(f, pc + 1, a, t)) do
            if not STEP_KEYS[kv[1]] then
              problems[#problems + 1] = kv[2] .. ": " .. M.message("step", tostring(kv[1]), M.STEP)
            end
          end
        end
      end
      pc = pc + 1
    end
  end)
  return problems
end

return M
