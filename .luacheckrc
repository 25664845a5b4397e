-- luacheck configuration (Debian's lua-check): `luacheck runbooks/ stdlib/ examples/`
-- must stay clean (tests/integration/test_luacheck.sh runs it).
std = "luajit"
max_line_length = 120
codes = true

-- The globals of a runbook's sandbox (lua/summit/api.lua GLOBALS, plus
-- env from summit.lua's selected environment). A runbook may not create
-- globals: the sandbox refuses writes to undeclared ones.
local runbook_globals = {
  "runbook", "step", "parallel", "sleep", "now", "random", "log", "fail",
  "exec", "json", "require", "lock", "http", "cluster", "git",
  "approval", "audit", "metrics", "notify", "env",
}

files["runbooks/"] = { read_globals = runbook_globals }
files["examples/"] = { read_globals = runbook_globals }
files["tests/integration/runbooks/"] = { read_globals = runbook_globals }
files["tests/lua/"] = { read_globals = runbook_globals }

-- stdlib/summit/: plain modules (local M = {} ... return M) that reach the
-- primitives through require("summit.api"); no globals of their own.

-- stdlib/types/: ---@meta annotations for lua-language-server. They
-- declare the runbook globals and stub functions whose arguments are
-- documentation only.
files["stdlib/types/"] = {
  allow_defined_top = true,
  unused_args = false,
  globals = runbook_globals,
  max_line_length = false,
  -- Declarations nothing in the file reads (W131 unused global, W241
  -- class tables filled with stubs) are the point of a ---@meta file.
  ignore = { "131", "241" },
}
