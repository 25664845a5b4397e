-- PromQL for the simulated cluster (docs/sim.md "Metrics"): a parser and
-- an evaluator for the small, documented set of query shapes (SHAPES) the
-- sim's Prometheus API answers. Anything else raises a query error whose
-- message is the one Prometheus gives (or names the unsupported part and
-- the shapes), which the API answers with 400 bad_data.
--
-- It knows nothing of pods or HTTP: a query is evaluated against a source,
--   { series = function(t_ms) -> { [series name] = { {labels, value}, ... } },
--     time_scale = simulated seconds per real second (rate() windows) }
-- (sim/metrics.lua makes one of the sim).
--
--   P.parse(src) -> AST
--   P.instant(source, promql, t_ms) -> data of /api/v1/query
--   P.range(source, promql, start_ms, end_ms, step_ms) -> data of
--     /api/v1/query_range
--   P.fail(fmt, ...) raises a query error; P.error_message(e) -> its
--     message, or nil when e is not one
--   P.duration_seconds("5m") -> 300 (a query error if malformed)
--   P.format_value(v) -> a sample value as Prometheus writes it
--   P.labels_with(labels, k, v) -> a copy of labels, with k set to v

local U = require("summit.sim.util")

local P = {}

-- ---- values and labels -------------------------------------------------------------

-- Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest decimal that
-- reads back as v, never with an exponent; "NaN", "+Inf", "-Inf".
function P.format_value(v)
  if v ~= v then return "NaN" end
  if v == math.huge then return "+Inf" end
  if v == -math.huge then return "-Inf" end
  if v == 0 then return (1 / v < 0) and "-0" or "0" end
  local s
  for prec = 1, 17 do
    s = string.format("%." .. prec .. "g", v)
    if tonumber(s) == v then break end
  end
  local sign, digits, frac, exp = s:match("^(-?)(%d+)%.?(%d*)e([-+]%d+)$")
  if not sign then return s end
  local e = tonumber(exp)
  local all = digits .. frac
  local point = #digits + e
  if point <= 0 then
    s = "0." .. string.rep("0", -point) .. all
  elseif point >= #all then
    s = all .. string.rep("0", point - #all)
  else
    s = all:sub(1, point) .. "." .. all:sub(point + 1)
  end
  s = s:gsub("^0+(%d)", "%1")
  return sign .. s
end

-- A copy of a label set (k = v added when k is given).
function P.labels_with(labels, k, v)
  local t = {}
  for lk, lv in pairs(labels) do t[lk] = lv end
  if k then t[k] = v end
  return t
end

local with = P.labels_with

-- ---- the query language subset -------------------------------------------------------

P.SHAPES = {
  "a selector: M or M{l=\"v\", l!=\"v\", l=~\"re\", l!~\"re\"}",
  "rate(M{...}[w]) and increase(M{...}[w])",
  "sum, avg, min, max, count of those, with by (l, ...) or without (l, ...)",
  "arithmetic (+ - * /) between those and numbers, e.g. sum(rate(A[w])) / sum(rate(B[w]))",
  "histogram_quantile(q, sum by (le) (rate(M_bucket{...}[w])))",
}

local QueryError = {}
local function qerr(fmt, ...)
  error(setmetatable({ message = string.format(fmt, ...) }, QueryError), 0)
end
P.fail = qerr

function P.error_message(e)
  if getmetatable(e) == QueryError then return e.message end
  return nil
end
local function unsupported(what)
  qerr("%s is not supported by the simulated cluster; supported shapes: %s", what,
       table.concat(P.SHAPES, "; "))
end

-- Tokens: {t = "id"|"num"|"str"|"dur"|"op"|"eof", v = text|number, pos}.
local function lex(src)
  local toks, i, n = {}, 1, #src
  local function push(t, v, pos) toks[#toks + 1] = { t = t, v = v, pos = pos } end
  while i <= n do
    local ch = src:sub(i, i)
    if ch:match("%s") then
      i = i + 1
    elseif ch == "#" then
      local e = src:find("\n", i, true) or n
      i = e + 1
    elseif ch:match("[%a_:]") then
      local s, e = src:find("^[%w_:]+", i)
      push("id", src:sub(s, e), i)
      i = e + 1
    elseif ch:match("%d") or (ch == "." and src:sub(i + 1, i + 1):match("%d")) then
      -- A duration right after '[' is lexed by the parser; here numbers.
      local s, e = src:find("^%d*%.?%d*[eE][-+]?%d+", i)
      if not s then s, e = src:find("^%d*%.?%d*", i) end
      local text = src:sub(s, e)
      local rest = src:sub(e + 1):match("^[smhdwy]")
      if rest then
        local ds, de = src:find("^[%dsmhdwy]+", i)
        push("dur", src:sub(ds, de), i)
        i = de + 1
      else
        push("num", tonumber(text), i)
        i = e + 1
      end
    elseif ch == '"' or ch == "'" then
      local buf, j = {}, i + 1
      while true do
        local c = src:sub(j, j)
        if c == "" then qerr("1:%d: parse error: unterminated quoted string", i) end
        if c == ch then break end
        if c == "\\" then
          local nx = src:sub(j + 1, j + 1)
          local map = { n = "\n", t = "\t", r = "\r", ["\\"] = "\\", ['"'] = '"', ["'"] = "'" }
          if map[nx] then buf[#buf + 1] = map[nx]
          else buf[#buf + 1] = "\\" .. nx end
          j = j + 2
        else
          buf[#buf + 1] = c
          j = j + 1
        end
      end
      push("str", table.concat(buf), i)
      i = j + 1
    elseif ch == "`" then
      local e = src:find("`", i + 1, true)
      if not e then qerr("1:%d: parse error: unterminated raw string", i) end
      push("str", src:sub(i + 1, e - 1), i)
      i = e + 1
    else
      local two = src:sub(i, i + 1)
      if two == "!=" or two == "=~" or two == "!~" or two == "==" or two == ">=" or two == "<=" then
        push("op", two, i)
        i = i + 2
      elseif ch:match("[%(%)%{%}%[%],=%+%-%*/%%^<>@]") then
        push("op", ch, i)
        i = i + 1
      else
        qerr("1:%d: parse error: unexpected character: %q", i, ch)
      end
    end
  end
  push("eof", nil, n + 1)
  return toks
end

local AGGS = { sum = true, avg = true, min = true, max = true, count = true }
local UNSUPPORTED_AGGS = { stddev = true, stdvar = true, topk = true, bottomk = true,
                           quantile = true, count_values = true, group = true }

-- Translates a (fully anchored) RE2 regex of the simple kind label
-- matchers use into Lua patterns, one per top-level alternative:
-- literals, ., [classes], \d \w \s, and * + ? after one item; an outer
-- (a|b) group. Anything else is unsupported.
local function regex(re)
  local src = re
  if src:match("^%(.*%)$") and not src:sub(2, -2):find("[()]") then src = src:sub(2, -2) end
  local alts, cur, depth, i = {}, {}, 0, 1
  while i <= #src do
    local c = src:sub(i, i)
    if c == "\\" then
      cur[#cur + 1] = src:sub(i, i + 1)
      i = i + 2
    else
      if c == "[" then depth = depth + 1 elseif c == "]" then depth = math.max(0, depth - 1) end
      if c == "|" and depth == 0 then
        alts[#alts + 1] = table.concat(cur)
        cur = {}
      else
        cur[#cur + 1] = c
      end
      i = i + 1
    end
  end
  alts[#alts + 1] = table.concat(cur)
  local pats = {}
  for ai, alt in ipairs(alts) do
    local out, j = {}, 1
    while j <= #alt do
      local c = alt:sub(j, j)
      if c == "\\" then
        local nx = alt:sub(j + 1, j + 1)
        if nx == "d" then out[#out + 1] = "%d"
        elseif nx == "w" then out[#out + 1] = "[%w_]"
        elseif nx == "s" then out[#out + 1] = "%s"
        elseif nx:match("%p") then out[#out + 1] = "%" .. nx
        else unsupported(string.format("the regex escape \\%s (in %q)", nx, re)) end
        j = j + 2
      elseif c == "[" then
        local e = alt:find("]", j + 2, true)
        if not e then qerr("error parsing regexp: missing closing ]: %q", re) end
        local body = alt:sub(j + 1, e - 1)
        body = body:gsub("%%", "%%%%")
        out[#out + 1] = "[" .. body .. "]"
        j = e + 1
      elseif c == "." then
        out[#out + 1] = "."
        j = j + 1
      elseif c == "*" or c == "+" or c == "?" then
        if #out == 0 or alt:sub(j + 1, j + 1) == "?" then
          unsupported(string.format("the regex %q", re))
        end
        out[#out] = out[#out] .. c
        j = j + 1
      elseif c == "^" and j == 1 or c == "$" and j == #alt then
        j = j + 1
      elseif c:match("[%(%){}|^$]") then
        unsupported(string.format("the regex %q (groups, repeats {n,m}, anchors)", re))
      else
        out[#out + 1] = c:match("%p") and ("%" .. c) or c
        j = j + 1
      end
    end
    pats[ai] = "^" .. table.concat(out) .. "$"
  end
  return function(s)
    for _, p in ipairs(pats) do
      if s:match(p) then return true end
    end
    return false
  end
end

local function duration_seconds(text)
  local total, rest = 0, text
  local UNITS = { ms = 0.001, s = 1, m = 60, h = 3600, d = 86400, w = 604800, y = 31536000 }
  while rest ~= "" do
    local num, unit, r = rest:match("^(%d+)(ms)(.*)$")
    if not num then num, unit, r = rest:match("^(%d+)([smhdwy])(.*)$") end
    if not num then qerr("not a valid duration string: %q", text) end
    total = total + tonumber(num) * UNITS[unit]
    rest = r
  end
  if total <= 0 then qerr("not a valid duration string: %q", text) end
  return total
end

-- parse(src) -> AST: {k = "num", v} | {k = "sel", name, match = {...}}
-- | {k = "rate"|"increase", sel, w} | {k = "agg", op, by, without, e}
-- | {k = "bin", op, a, b} | {k = "neg", e} | {k = "hq", q, e}.
local function parse(src)
  local toks, p = lex(src), 1
  local function peek() return toks[p] end
  local function next_tok() p = p + 1; return toks[p - 1] end
  local function is(t, v)
    local k = toks[p]
    return k.t == t and (v == nil or k.v == v)
  end
  local function expect(t, v, what)
    local k = toks[p]
    if k.t ~= t or (v ~= nil and k.v ~= v) then
      qerr("1:%d: parse error: unexpected %s, expected %s", k.pos,
           k.t == "eof" and "end of input" or string.format("%q", tostring(k.v)), what or v or t)
    end
    p = p + 1
    return k
  end

  local function label_list()
    expect("op", "(")
    local ls = {}
    while not is("op", ")") do
      ls[#ls + 1] = expect("id", nil, "a label name").v
      if not is("op", ")") then expect("op", ",") end
    end
    expect("op", ")")
    return ls
  end

  local function selector(name)
    local matchers = {}
    if is("op", "{") then
      next_tok()
      while not is("op", "}") do
        local l = expect("id", nil, "a label name").v
        local op = next_tok()
        if op.t ~= "op" or not (op.v == "=" or op.v == "!=" or op.v == "=~" or op.v == "!~") then
          qerr("1:%d: parse error: unexpected %q in label matching, expected one of =, !=, =~, !~",
               op.pos, tostring(op.v))
        end
        local v = expect("str", nil, "a quoted label value").v
        local m = { label = l, op = op.v, value = v }
        if op.v == "=~" or op.v == "!~" then m.re = regex(v) end
        if l == "__name__" then
          if op.v ~= "=" then unsupported("a __name__ matcher other than =") end
          if name and name ~= v then qerr("metric name must not be set twice: %q or %q", name, v) end
          name = v
        else
          matchers[#matchers + 1] = m
        end
        if not is("op", "}") then expect("op", ",") end
      end
      next_tok()
    end
    if not name then
      unsupported("a selector without a metric name")
    end
    if is("id", "offset") or is("op", "@") then unsupported("offset and @ modifiers") end
    return { k = "sel", name = name, match = matchers }
  end

  local expr

  local function primary()
    local k = peek()
    if k.t == "num" then
      next_tok()
      return { k = "num", v = k.v }
    elseif k.t == "dur" then
      qerr("1:%d: parse error: unexpected duration %q", k.pos, k.v)
    elseif k.t == "str" then
      unsupported("a string literal")
    elseif k.t == "op" and k.v == "(" then
      next_tok()
      local e = expr(0)
      expect("op", ")")
      return e
    elseif k.t == "op" and k.v == "{" then
      return selector(nil)
    elseif k.t == "op" and k.v == "-" then
      next_tok()
      local e = expr(3)
      if e.k == "num" then return { k = "num", v = -e.v } end
      return { k = "neg", e = e }
    elseif k.t == "op" and k.v == "+" then
      next_tok()
      return expr(3)
    elseif k.t == "id" then
      local name = next_tok().v
      local lname = name:lower()
      if lname == "inf" or lname == "nan" then
        return { k = "num", v = lname == "inf" and math.huge or 0 / 0 }
      end
      if AGGS[name] then
        local by, without
        if is("id", "by") then next_tok(); by = label_list()
        elseif is("id", "without") then next_tok(); without = label_list() end
        expect("op", "(")
        local e = expr(0)
        if is("op", ",") then unsupported(name .. "() with a parameter") end
        expect("op", ")")
        if not by and not without then
          if is("id", "by") then next_tok(); by = label_list()
          elseif is("id", "without") then next_tok(); without = label_list() end
        end
        return { k = "agg", op = name, by = by, without = without, e = e }
      end
      if UNSUPPORTED_AGGS[name] then unsupported("the aggregation " .. name .. "()") end
      if is("op", "(") then
        if name == "rate" or name == "increase" then
          next_tok()
          local id = peek()
          local sel
          if id.t == "id" then next_tok(); sel = selector(id.v)
          elseif id.t == "op" and id.v == "{" then sel = selector(nil)
          else unsupported(name .. "() of anything but a metric selector with a range [w]") end
          if not is("op", "[") then
            qerr("1:%d: parse error: ranges only allowed for vector selectors: %s() needs M[w]",
                 peek().pos, name)
          end
          next_tok()
          local d = next_tok()
          if d.t ~= "dur" then qerr("1:%d: parse error: missing unit character in duration", d.pos) end
          if is("op", ":") then unsupported("subqueries") end
          expect("op", "]")
          if is("id", "offset") or is("op", "@") then unsupported("offset and @ modifiers") end
          expect("op", ")")
          return { k = name, sel = sel, w = duration_seconds(d.v) }
        elseif name == "histogram_quantile" then
          next_tok()
          local q = expr(0)
          expect("op", ",")
          local e = expr(0)
          expect("op", ")")
          return { k = "hq", q = q, e = e }
        end
        unsupported("the function " .. name .. "()")
      end
      if name == "by" or name == "without" or name == "on" or name == "ignoring"
          or name == "bool" or name == "offset" then
        unsupported("'" .. name .. "' here")
      end
      local sel = selector(name)
      if is("op", "[") then unsupported("a range vector (M[w]) outside rate() or increase()") end
      return sel
    elseif k.t == "eof" then
      qerr("1:%d: parse error: unexpected end of input", k.pos)
    end
    qerr("1:%d: parse error: unexpected %q", k.pos, tostring(k.v))
  end

  local BIN = { ["+"] = 1, ["-"] = 1, ["*"] = 2, ["/"] = 2 }
  expr = function(min)
    local a = primary()
    while true do
      local k = peek()
      if k.t == "op" and (k.v == "%" or k.v == "^" or k.v == "==" or k.v == "!="
          or k.v == ">" or k.v == "<" or k.v == ">=" or k.v == "<=") then
        unsupported("the operator " .. k.v)
      end
      if k.t == "id" and (k.v == "and" or k.v == "or" or k.v == "unless") then
        unsupported("the operator " .. k.v)
      end
      local prec = k.t == "op" and BIN[k.v]
      if not prec or prec <= min then break end
      next_tok()
      if is("id", "on") or is("id", "ignoring") or is("id", "bool") or is("id", "group_left")
          or is("id", "group_right") then
        unsupported("vector matching modifiers (on, ignoring, group_left, bool)")
      end
      local b = expr(prec)
      a = { k = "bin", op = k.v, a = a, b = b }
    end
    return a
  end

  local e = expr(0)
  if not is("eof") then
    local k = peek()
    qerr("1:%d: parse error: unexpected %q after the expression", k.pos, tostring(k.v))
  end
  return e
end
P.parse = parse

-- ---- evaluation ----------------------------------------------------------------------

local function key_of(labels)
  local keys = U.keys(labels)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = k .. "\1" .. labels[k] end
  return table.concat(parts, "\2")
end

local function drop_name(labels)
  local t = with(labels)
  t.__name__ = nil
  return t
end

local function matches(s, matchers)
  for _, m in ipairs(matchers) do
    local v = s.labels[m.label] or ""
    if m.op == "=" and v ~= m.value then return false end
    if m.op == "!=" and v == m.value then return false end
    if m.op == "=~" and not m.re(v) then return false end
    if m.op == "!~" and m.re(v) then return false end
  end
  return true
end

-- A context evaluates at real time t_ms; series at a time are cached.
local function pick(ctx, sel, t_ms)
  local all = ctx.at[t_ms]
  if not all then
    all = ctx.source.series(t_ms)
    ctx.at[t_ms] = all
  end
  local out = {}
  for _, s in ipairs(all[sel.name] or {}) do
    if matches(s, sel.match) then
      out[#out + 1] = { labels = with(s.labels, "__name__", sel.name), value = s.value }
    end
  end
  return out
end

local function bucket_quantile(q, buckets)
  if q ~= q then return 0 / 0 end
  if q < 0 then return -math.huge end
  if q > 1 then return math.huge end
  table.sort(buckets, function(a, b) return a.ub < b.ub end)
  if #buckets < 2 or buckets[#buckets].ub ~= math.huge then return 0 / 0 end
  for i = 2, #buckets do   -- monotonic, as ensureMonotonic does
    if buckets[i].count < buckets[i - 1].count then buckets[i].count = buckets[i - 1].count end
  end
  local obs = buckets[#buckets].count
  if obs == 0 then return 0 / 0 end
  local rank = q * obs
  local b = #buckets
  for i = 1, #buckets - 1 do
    if buckets[i].count >= rank then b = i break end
  end
  if b == #buckets then return buckets[#buckets - 1].ub end
  if b == 1 and buckets[1].ub <= 0 then return buckets[1].ub end
  local start, stop, count = 0, buckets[b].ub, buckets[b].count
  if b > 1 then
    start = buckets[b - 1].ub
    count = count - buckets[b - 1].count
    rank = rank - buckets[b - 1].count
  end
  return start + (stop - start) * (rank / count)
end

local function arith(op, x, y)
  if op == "+" then return x + y end
  if op == "-" then return x - y end
  if op == "*" then return x * y end
  return x / y
end

local eval

local function aggregate(node, vec)
  local groups, order = {}, {}
  for _, s in ipairs(vec) do
    local g = {}
    if node.by then
      for _, l in ipairs(node.by) do
        if s.labels[l] ~= nil then g[l] = s.labels[l] end
      end
    elseif node.without then
      g = drop_name(s.labels)
      for _, l in ipairs(node.without) do g[l] = nil end
    end
    local k = key_of(g)
    local grp = groups[k]
    if not grp then
      grp = { labels = g, vals = {} }
      groups[k] = grp
      order[#order + 1] = k
    end
    grp.vals[#grp.vals + 1] = s.value
  end
  local out = {}
  for _, k in ipairs(order) do
    local g, v = groups[k], nil
    local vals = g.vals
    if node.op == "sum" or node.op == "avg" then
      v = 0
      for _, x in ipairs(vals) do v = v + x end
      if node.op == "avg" then v = v / #vals end
    elseif node.op == "count" then
      v = #vals
    else
      for _, x in ipairs(vals) do
        -- NaN loses against any number, as Prometheus's min/max do.
        if v == nil or v ~= v or (node.op == "min" and x < v) or (node.op == "max" and x > v) then
          v = x
        end
      end
    end
    out[#out + 1] = { labels = g.labels, value = v }
  end
  return out
end

-- rate(M[w]) and increase(M[w]): the counter's growth over the window
-- (a drop is a reset: the value since), per second for rate.
local function eval_window(ctx, node, t_ms)
  local lookback = node.w * 1000 / (ctx.source.time_scale or 1)
  local t0 = math.floor(t_ms - lookback + 0.5)
  local now, before = pick(ctx, node.sel, t_ms), pick(ctx, node.sel, t0)
  local prev = {}
  for _, s in ipairs(before) do prev[key_of(s.labels)] = s.value end
  local out = {}
  for _, s in ipairs(now) do
    local inc = s.value - (prev[key_of(s.labels)] or 0)
    if inc < 0 then inc = s.value end   -- a counter reset
    out[#out + 1] = { labels = drop_name(s.labels), value = node.k == "rate" and inc / node.w or inc }
  end
  return { type = "vector", list = out }
end

-- A binary operator: scalar op scalar, vector op scalar (either side), or
-- vector op vector matched one-to-one on all labels but __name__.
local function eval_binary(ctx, node, t_ms)
  local a, b = eval(ctx, node.a, t_ms), eval(ctx, node.b, t_ms)
  if a.type == "scalar" and b.type == "scalar" then
    return { type = "scalar", v = arith(node.op, a.v, b.v) }
  end
  local out = {}
  if a.type == "vector" and b.type == "vector" then
    local right, seen = {}, {}
    for _, s in ipairs(b.list) do
      local kk = key_of(drop_name(s.labels))
      if seen[kk] then
        qerr("found duplicate series for the match group %s on the right hand-side of the operation", kk)
      end
      seen[kk], right[kk] = true, s
    end
    local left = {}
    for _, s in ipairs(a.list) do
      local lbl = drop_name(s.labels)
      local kk = key_of(lbl)
      if left[kk] then
        qerr("found duplicate series for the match group on the left hand-side of the operation")
      end
      left[kk] = true
      local r = right[kk]
      if r then out[#out + 1] = { labels = lbl, value = arith(node.op, s.value, r.value) } end
    end
  else
    local vec, sc, vec_left = a, b, true
    if a.type == "scalar" then vec, sc, vec_left = b, a, false end
    for _, s in ipairs(vec.list) do
      local v = vec_left and arith(node.op, s.value, sc.v) or arith(node.op, sc.v, s.value)
      out[#out + 1] = { labels = drop_name(s.labels), value = v }
    end
  end
  return { type = "vector", list = out }
end

-- histogram_quantile(q, buckets): the buckets grouped by their labels
-- but le, each group's quantile interpolated as Prometheus does.
local function eval_quantile(ctx, node, t_ms)
  local q = eval(ctx, node.q, t_ms)
  if q.type ~= "scalar" then
    qerr("expected type scalar in call to function \"histogram_quantile\", got instant vector")
  end
  local e = eval(ctx, node.e, t_ms)
  if e.type ~= "vector" then
    qerr("expected type instant vector in call to function \"histogram_quantile\", got scalar")
  end
  local groups, order = {}, {}
  for _, s in ipairs(e.list) do
    local le = s.labels.le == "+Inf" and math.huge or tonumber(s.labels.le)
    if le then
      local g = drop_name(s.labels)
      g.le = nil
      local kk = key_of(g)
      if not groups[kk] then
        groups[kk] = { labels = g, buckets = {} }
        order[#order + 1] = kk
      end
      local bs = groups[kk].buckets
      bs[#bs + 1] = { ub = le, count = s.value }
    end
  end
  local out = {}
  for _, kk in ipairs(order) do
    local g = groups[kk]
    out[#out + 1] = { labels = g.labels, value = bucket_quantile(q.v, g.buckets) }
  end
  return { type = "vector", list = out }
end

-- eval(ctx, node, t_ms) -> {type = "scalar", v} | {type = "vector", list}
eval = function(ctx, node, t_ms)
  local k = node.k
  if k == "num" then return { type = "scalar", v = node.v } end
  if k == "sel" then return { type = "vector", list = pick(ctx, node, t_ms) } end
  if k == "rate" or k == "increase" then return eval_window(ctx, node, t_ms) end
  if k == "agg" then
    local e = eval(ctx, node.e, t_ms)
    if e.type ~= "vector" then
      qerr("expected type instant vector in aggregation expression, got scalar")
    end
    return { type = "vector", list = aggregate(node, e.list) }
  end
  if k == "neg" then
    local e = eval(ctx, node.e, t_ms)
    if e.type == "scalar" then return { type = "scalar", v = -e.v } end
    local out = {}
    for i, s in ipairs(e.list) do out[i] = { labels = drop_name(s.labels), value = -s.value } end
    return { type = "vector", list = out }
  end
  if k == "bin" then return eval_binary(ctx, node, t_ms) end
  if k == "hq" then return eval_quantile(ctx, node, t_ms) end
  qerr("cannot evaluate %s", tostring(k))
end

local function sorted(list)
  local keyed = {}
  for i, s in ipairs(list) do keyed[i] = { key = key_of(s.labels), s = s } end
  table.sort(keyed, function(a, b) return a.key < b.key end)
  local out = {}
  for i, x in ipairs(keyed) do out[i] = x.s end
  return out
end

local function new_ctx(source)
  return { source = source, at = {} }
end

-- instant(source, promql, t_ms) -> data (resultType, result) of the API.
function P.instant(source, promql, t_ms)
  local ast = parse(promql)
  local r = eval(new_ctx(source), ast, t_ms)
  local ts = t_ms / 1000
  if r.type == "scalar" then
    return { resultType = "scalar", result = U.A({ ts, P.format_value(r.v) }) }
  end
  local res = U.A()
  for _, s in ipairs(sorted(r.list)) do
    res[#res + 1] = { metric = s.labels, value = U.A({ ts, P.format_value(s.value) }) }
  end
  return { resultType = "vector", result = res }
end

-- range(source, promql, start_ms, end_ms, step_ms) -> data of the API.
function P.range(source, promql, start_ms, end_ms, step_ms)
  local ast = parse(promql)
  local ctx = new_ctx(source)
  local series, order = {}, {}
  local t = start_ms
  while t <= end_ms do
    local r = eval(ctx, ast, t)
    local list = r.type == "scalar" and { { labels = {}, value = r.v } } or r.list
    for _, s in ipairs(list) do
      local kk = key_of(s.labels)
      if not series[kk] then
        series[kk] = { metric = s.labels, values = U.A() }
        order[#order + 1] = kk
      end
      local vs = series[kk].values
      vs[#vs + 1] = U.A({ t / 1000, P.format_value(s.value) })
    end
    ctx.at = {}   -- series of one step are not needed by the next
    t = t + step_ms
  end
  table.sort(order)
  local res = U.A()
  for _, kk in ipairs(order) do res[#res + 1] = series[kk] end
  return { resultType = "matrix", result = res }
end

P.duration_seconds = duration_seconds

return P
