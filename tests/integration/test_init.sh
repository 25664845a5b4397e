#!/usr/bin/env bash
# Issue 14 item 6: `summit init [DIR]` writes a team's starting point
# (docs/authoring.md "Editor setup", docs/cli.md "summit init").
#  1. Into an empty directory: summit.lua, runbooks/hello.lua, the editor
#     types (types/summit/, cluster.lua among them), .luarc.json,
#     .luacheckrc and lib/; exit 0, each file listed as written.
#  2. The runbook validates with --strict and runs on the simulated
#     cluster, with and without --env dev.
#  3. luacheck with the written .luacheckrc passes the runbook and catches
#     a misspelt global.
#  4. Editor setup: lua-language-server is neither a Debian package nor on
#     the npm registry, so it cannot run here; instead every types file
#     loads with LuaJIT, .luarc.json is JSON whose workspace.library dirs
#     exist, and the client type declares every public method of
#     lua/summit/cluster.lua's client (no method missing, none invented).
#  5. A second init skips every file and changes none; --force rewrites.
#  6. A directory that cannot be created: exit 1 naming it; a bad option: 2.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
ROOT=$(cd "$HERE/../.." && pwd)
D=$T/team

say "1. init into an empty directory"
sm init init "$D"
expect_rc 0 init "summit init DIR"
for f in summit.lua runbooks/hello.lua .luarc.json .luacheckrc \
         types/summit/summit.lua types/summit/cluster.lua types/summit/summit/rollout.lua; do
  [[ -f "$D/$f" ]] || die "summit init did not write $f"
  has "$T/init.out" "wrote   $D/$f" "$f listed as written"
done
[[ -d "$D/lib" ]] || die "summit init did not make lib/"
ok "lib/ made for team modules"
# The types written are the tree of stdlib/types/, byte for byte.
(cd "$ROOT/stdlib/types" && find . -name '*.lua' | sort) >"$T/want.list"
(cd "$D/types/summit" && find . -name '*.lua' | sort) >"$T/got.list"
eq "$(cat "$T/got.list")" "$(cat "$T/want.list")" "types/summit/ holds stdlib/types/"
diff -r "$ROOT/stdlib/types" "$D/types/summit" >/dev/null || die "types differ from stdlib/types"
ok "types identical to stdlib/types"
hasnt "$T/init.out" "skipped $D" "nothing skipped in an empty directory"
has "$T/init.out" "16 written, 0 skipped" "16 files written"

say "2. the starter runbook validates and runs on the sim"
cd "$D"
sm validate validate --strict runbooks/hello.lua
expect_rc 0 validate "summit validate --strict runbooks/hello.lua"
hasnt "$T/validate.err" "warning" "no warnings"
sm run run hello --time-scale 50
expect_rc 0 run "summit run hello (no --env: the sim)"
has "$T/run.out" 'deployment "hello" successfully rolled out' "rolled out"
sm run_env run hello --env dev -p version=v2.0.0 --time-scale 50
expect_rc 0 run_env "summit run hello --env dev"
has "$T/run_env.out" "deployment/hello runs registry/hello:v1.0.1" "the sim kept the first run's image"

say "3. luacheck with the written .luacheckrc"
command -v luacheck >/dev/null ||
  die "luacheck is not installed (make deps installs Debian's lua-check)"
rc=0
luacheck --no-color --codes runbooks/ lib/ >"$T/lc.out" 2>&1 || rc=$?
eq "$rc" 0 "luacheck runbooks/ lib/ passes ($(tail -1 "$T/lc.out"))"
mkdir -p "$T/lc/runbooks"
cp .luacheckrc "$T/lc/"
cat >"$T/lc/runbooks/typo.lua" <<'RB'
return runbook { name = "typo", version = "1.0.0", run = function()
  local k = cluster()
  stpe("x", function() k:get("deployment/web") end)
end }
RB
rc=0
(cd "$T/lc" && luacheck --no-color --codes runbooks/) >"$T/typo.out" 2>&1 || rc=$?
eq "$rc" 1 "luacheck reports the typo runbook"
has "$T/typo.out" "(W113) accessing undefined variable 'stpe'" "a misspelt global"
hasnt "$T/typo.out" "'cluster'" "cluster is a known global"

say "4. editor setup: types load, .luarc.json points at existing dirs"
find types -name '*.lua' | sort >"$T/types.list"
[[ $(wc -l <"$T/types.list") -ge 10 ]] || die "too few types files"
luajit -e 'for f in io.lines(arg[1]) do assert(loadfile(f)) end' /dev/null "$T/types.list" ||
  die "a types file does not load"
ok "every types file loads with LuaJIT ($(wc -l <"$T/types.list") files)"
python3 - "$D" <<'PY' || die ".luarc.json is wrong"
import json, os, sys
d = sys.argv[1]
cfg = json.load(open(os.path.join(d, ".luarc.json")))
lib = cfg["workspace.library"]
assert "types/summit" in lib and "lib" in lib, lib
for p in lib:
    assert os.path.isdir(os.path.join(d, p)), p + " is not a directory"
assert cfg["runtime.version"] == "LuaJIT"
PY
ok ".luarc.json: JSON, LuaJIT, library types/summit and lib, both exist"
grep -oE '^function Client:[a-z_]+' "$ROOT/lua/summit/cluster.lua" | sed 's/.*://' |
  grep -vxE 'conn|call|ns|watch|until_object' | sort >"$T/methods.code"
grep -oE '^function ClusterClient:[a-z_]+' types/summit/cluster.lua | sed 's/.*://' |
  sort >"$T/methods.types"
[[ $(wc -l <"$T/methods.code") -ge 18 ]] || die "too few client methods found in cluster.lua"
diff "$T/methods.code" "$T/methods.types" >"$T/methods.diff" ||
  { cat "$T/methods.diff" >&2; die "the client type's methods differ from cluster.lua's"; }
ok "summit.ClusterClient declares exactly the client's $(wc -l <"$T/methods.code") public methods"
has types/summit/cluster.lua "function cluster(which) end" "cluster() is declared"

say "5. a second init skips existing files and changes nothing"
echo "-- edited by the team" >>runbooks/hello.lua
(find . -type f | sort | xargs sha256sum) >"$T/before.sum"
sm init2 init "$D"
expect_rc 0 init2 "second summit init"
hasnt "$T/init2.out" "wrote" "nothing written"
has "$T/init2.out" "skipped $D/runbooks/hello.lua" "the runbook listed as skipped"
has "$T/init2.out" "0 written, 16 skipped" "every file skipped"
(find . -type f | sort | xargs sha256sum) >"$T/after.sum"
diff "$T/before.sum" "$T/after.sum" >/dev/null || die "a second init changed files"
ok "no file changed"
sm init_here init
expect_rc 0 init_here "summit init (the working directory)"
has "$T/init_here.out" "skipped ./summit.lua" "DIR defaults to ."
sm force init --force "$D"
expect_rc 0 force "summit init --force"
hasnt "$D/runbooks/hello.lua" "-- edited by the team" "--force rewrote the runbook"

say "6. errors"
cd "$T"
echo x >"$T/afile"
sm bad init "$T/afile/team"
expect_rc 1 bad "a directory under a regular file"
has "$T/bad.err" "summit init: cannot create $T/afile/team: Not a directory" "names the directory"
esc=$T/$'team\e]0;owned\a\e[2K'
sm esc init "$esc"
expect_rc 0 esc "summit init into a directory whose name holds escapes"
hasnt "$T/esc.out" $'\e' "no escape sequence reaches the terminal"
has "$T/esc.out" 'team\x1b]0;owned\x07\x1b[2K/summit.lua' "the name is shown escaped"
sm badopt init --nope
expect_rc 2 badopt "an unknown option"
has "$T/badopt.err" "unknown option --nope" "names the option"
sm two init a b
expect_rc 2 two "two directories"
sm help help init
expect_rc 0 help "summit help init"
has "$T/help.out" "summit init [DIR] [--force]" "help shows the usage"
