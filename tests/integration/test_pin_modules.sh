#!/usr/bin/env bash
# DESIGN §14 / issue 14: a run pins the stdlib modules it loads. The runbook
# (runbooks/pin_modules.lua) requires summit.stats when it loads and
# summit.window only after its sleep, and writes what they answered.
#
#  1. A run started on the embedded stdlib suspends at its sleep; status
#     --json lists summit.stats with the sha256 of stdlib/summit/stats.lua
#     and summit's version. Both modules are then edited in a copy of the
#     tree loaded through SUMMIT_LUA_DIR: `resume` runs the OLD stats (the
#     pinned text: mean=2) and the NEW window (first loaded after the
#     resume, so pinned then: status lists its new sha256).
#  2. The same with `resume --upgrade`: the new stats runs (mean=42) and
#     the run is pinned to it; provenance names both modules.
#  3. A refused upgrade (the runbook diverges) moves nothing: the pins stay
#     and a plain resume still runs the old stats.
#  4. A team module (summit.lua's modules) is pinned the same way: edited
#     while the run is suspended, the resume runs the text it first loaded;
#     deleted from disk, the resume still loads it (a new run does not).
#  5. An --upgrade refused because a stdlib module now asks for another
#     step names the module's line as well as the runbook's.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

ROOT=$(cd "$HERE/../.." && pwd)
LUA_DIR=$T/tree
mkdir -p "$LUA_DIR"
cp -R "$ROOT/lua" "$ROOT/stdlib" "$LUA_DIR/"
OLD_STATS=$(sha256sum "$ROOT/stdlib/summit/stats.lua" | cut -d' ' -f1)

# module_sha RUN NAME: the sha256 status --json lists for module NAME.
module_sha() {
  "$SUMMIT" status "$1" --json | py 'import json,sys
d = json.load(sys.stdin)
print(next((m["sha256"] for m in d.get("modules", []) if m["name"] == sys.argv[1]), ""))' "$2"
}

# suspended NAME: a run of a copy of the runbook (in $T/NAME), on the
# embedded stdlib, stopped at its sleep; sets RUN, W and RB.
suspended() {
  W=$T/$1
  mkdir -p "$W"
  RB=$W/runbook.lua
  cp "$RUNBOOKS/pin_modules.lua" "$RB"
  sm "$1" run "$RB" -p dir="$W" -p d=1s --detach
  expect_rc 3 "$1" "$1: run --detach stops at the sleep"
  RUN=$(newest_run)
  eq "$(module_sha "$RUN" summit.stats)" "$OLD_STATS" \
    "$1: status --json lists summit.stats with its sha256"
  eq "$(module_sha "$RUN" summit.window)" "" "$1: summit.window not loaded yet"
}

say "1. the pinned stdlib runs after it changed; a late module is pinned when first loaded"
suspended plain
eq "$(run_field "$RUN" summit_version)" "$("$SUMMIT" version | awk '{print $2; exit}')" \
  "status --json names summit's version at the start"
"$SUMMIT" status "$RUN" >"$T/status.txt"
has "$T/status.txt" "summit.stats" "summit status lists the pinned module"
has "$T/status.txt" "${OLD_STATS:0:12}" "summit status shows its sha256"
py 'import sys
p = sys.argv[1] + "/stdlib/summit/stats.lua"; s = open(p).read()
n = s.replace("function M.mean(xs)\n", "function M.mean(xs)\n  do return 42 end\n", 1)
assert n != s
open(p, "w").write(n)
p = sys.argv[1] + "/stdlib/summit/window.lua"; s = open(p).read()
i = s.rindex("return M")
open(p, "w").write(s[:i] + "M.PIN_MARK = \"new\"\n" + s[i:])' "$LUA_DIR"
NEW_STATS=$(sha256sum "$LUA_DIR/stdlib/summit/stats.lua" | cut -d' ' -f1)
NEW_WINDOW=$(sha256sum "$LUA_DIR/stdlib/summit/window.lua" | cut -d' ' -f1)
SUMMIT_LUA_DIR=$LUA_DIR sm plain-resume resume "$RUN"
expect_rc 0 plain-resume "resume with the stdlib edited"
eq "$(cat "$W/out.txt")" "mean=2 window=new" \
  "the pinned summit.stats ran (mean=2); summit.window, new to the run, is today's"
eq "$(module_sha "$RUN" summit.stats)" "$OLD_STATS" "summit.stats is still pinned to its first text"
eq "$(module_sha "$RUN" summit.window)" "$NEW_WINDOW" "summit.window is pinned as loaded on the resume"

say "2. resume --upgrade moves the modules to today's"
suspended upgrade
SUMMIT_LUA_DIR=$LUA_DIR sm up-resume resume "$RUN" --upgrade
expect_rc 0 up-resume "resume --upgrade"
eq "$(cat "$W/out.txt")" "mean=42 window=new" "the edited summit.stats ran after --upgrade"
eq "$(module_sha "$RUN" summit.stats)" "$NEW_STATS" "--upgrade pinned the new summit.stats"
"$SUMMIT" provenance "$RUN" >"$T/prov.json"
py 'import json,sys
d = json.load(open(sys.argv[1]))
deps = {x.get("name"): x["digest"].get("sha256") for x in d["predicate"]["buildDefinition"]["resolvedDependencies"]}
assert deps.get("module:summit.stats") == sys.argv[2], deps
assert deps.get("module:summit.window") == sys.argv[3], deps' "$T/prov.json" "$NEW_STATS" "$NEW_WINDOW" ||
  die "provenance does not name the pinned modules"
ok "provenance names the pinned modules as resolved dependencies"

say "3. a refused --upgrade keeps the pins"
suspended diverged
py 'import sys
p = sys.argv[1]; s = open(p).read()
open(p, "w").write(s.replace("step(\"before\"", "step(\"renamed\"", 1))' "$RB"
SUMMIT_LUA_DIR=$LUA_DIR sm div-resume resume "$RUN" --upgrade
expect_rc 2 div-resume "resume --upgrade of a diverging runbook is refused"
eq "$(module_sha "$RUN" summit.stats)" "$OLD_STATS" "the refused upgrade left summit.stats pinned"
SUMMIT_LUA_DIR=$LUA_DIR sm div-plain resume "$RUN"
expect_rc 0 div-plain "a plain resume after the refused upgrade"
eq "$(cat "$W/out.txt")" "mean=2 window=new" "the pinned summit.stats ran"

say "4. a team module is pinned as the stdlib is"
W=$T/team
mkdir -p "$W/lib/team"
printf 'return { modules = { "lib" } }\n' >"$W/summit.lua"
printf 'return { value = "old" }\n' >"$W/lib/team/mark.lua"
cat >"$W/team.lua" <<'RB'
local mark = require("team.mark")
return runbook {
  name = "team-pin", version = "1.0.0",
  params = { dir = { type = "string", required = true } },
  run = function(p)
    sleep("1s")
    exec({ "sh", "-c", 'printf "%s" "$1" > "$2"', "sh", mark.value, p.dir .. "/out.txt" })
  end,
}
RB
cd "$W"
sm team run team.lua -p dir="$W" --detach
expect_rc 3 team "run --detach stops at the sleep"
RUN=$(newest_run)
OLD_MARK=$(sha256sum "$W/lib/team/mark.lua" | cut -d' ' -f1)
eq "$(module_sha "$RUN" team.mark)" "$OLD_MARK" "status --json lists team.mark with its sha256"
printf 'return { value = "new" }\n' >"$W/lib/team/mark.lua"
sm team-resume resume "$RUN"
expect_rc 0 team-resume "resume after the team module changed"
eq "$(cat "$W/out.txt")" "old" "the pinned team module ran"
# Deleted from disk, it still loads as the run pinned it.
printf 'return { value = "old" }\n' >"$W/lib/team/mark.lua"
sm team2 run team.lua -p dir="$W" --detach
expect_rc 3 team2 "a second run stops at the sleep"
RUN=$(newest_run)
rm "$W/lib/team/mark.lua"
sm team2-resume resume "$RUN"
expect_rc 0 team2-resume "resume after the team module was deleted"
eq "$(cat "$W/out.txt")" "old" "the pinned text of the deleted module ran"
sm team2-new run team.lua -p dir="$W" --detach
expect_rc 2 team2-new "a new run of it, the module gone"
has "$T/team2-new.err" "module 'team.mark' not found" "says the module is not found"
cd "$T"

say "5. a module that asks for something else after --upgrade is named at its line"
W=$T/std5
mkdir -p "$W"
cat >"$W/list.lua" <<'RB'
local checklist = require("summit.checklist")
return runbook {
  name = "std-list", version = "1.0.0",
  run = function()
    checklist.run("pre", { { "ok", check = function() return true end } })
    sleep("1s")
  end,
}
RB
sm list run "$W/list.lua" --detach
expect_rc 3 list "run --detach stops at the sleep"
RUN=$(newest_run)
py 'import sys
p = sys.argv[1] + "/stdlib/summit/checklist.lua"; s = open(p).read()
n = s.replace("api.step(\"checklist \" .. s.name", "api.step(\"check list \" .. s.name", 1)
assert n != s
open(p, "w").write(n)' "$LUA_DIR"
line=$(grep -n 'api.step("check list "' "$LUA_DIR/stdlib/summit/checklist.lua" | cut -d: -f1)
SUMMIT_LUA_DIR=$LUA_DIR sm list-up resume "$RUN" --upgrade
expect_rc 2 list-up "resume --upgrade of a run whose stdlib module now diverges"
has "$T/list-up.err" "the code asks for  step 'check list pre'" "the divergence is reported"
has "$T/list-up.err" "list.lua:5" "it names the runbook's line"
has "$T/list-up.err" "in stdlib/summit/checklist.lua:$line" \
  "and the line of the module that asks for something else"
