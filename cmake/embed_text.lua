-- Writes a C header holding a Lua source file as text (the stdlib is
-- embedded as source, so a run can pin what it loads: core/lua/preload.c).
-- usage: luajit embed_text.lua SYMBOL IN.lua OUT.h
local sym, input, output = arg[1], arg[2], arg[3]
local f = assert(io.open(input, "rb"))
local text = f:read("*a")
f:close()
local out = {}
out[#out + 1] = "/* Generated from " .. input:match("[^/]+/[^/]+$") .. " by cmake/embed_text.lua. */\n"
out[#out + 1] = "#define " .. sym .. "_SIZE " .. #text .. "\n"
out[#out + 1] = "static const char " .. sym .. "[] = {\n"
local line = {}
for i = 1, #text do
  line[#line + 1] = tostring(text:byte(i))
  if #line == 20 then
    out[#out + 1] = table.concat(line, ",") .. ",\n"
    line = {}
  end
end
line[#line + 1] = "0"
out[#out + 1] = table.concat(line, ",") .. "\n};\n"
local o = assert(io.open(output, "wb"))
o:write(table.concat(out))
o:close()
