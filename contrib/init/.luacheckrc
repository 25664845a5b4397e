-- luacheck configuration (written by `summit init`): `luacheck runbooks/ lib/`.
std = "luajit"
max_line_length = 120

-- The globals of a runbook's sandbox, plus env from summit.lua's selected
-- environment. A runbook may not create globals: the sandbox refuses
-- writes to undeclared ones, so luacheck reports them too.
local runbook_globals = {
  "runbook", "step", "parallel", "sleep", "now", "random", "log", "fail",
  "exec", "json", "require", "lock", "http", "cluster", "git",
  "approval", "audit", "metrics", "notify", "env",
}

files["runbooks/"] = { read_globals = runbook_globals }
-- Team modules (summit.lua's modules) run in the runbook's sandbox too.
files["lib/"] = { read_globals = runbook_globals }
-- The editor types (summit init wrote them; ---@meta stubs, not code).
exclude_files = { "types/" }
