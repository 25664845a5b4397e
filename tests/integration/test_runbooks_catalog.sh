#!/usr/bin/env bash
# Issue 7 / versioned runbooks: `summit runbooks`, `summit run NAME`,
# the version rule, and the version a run records and keeps.
#
#  1. summit runbooks lists runbooks/ beside summit.lua plus the
#     directories of its `runbooks` list: name, version, description,
#     file and params (human and --json), from a subdirectory too.
#  2. summit run NAME resolves by declared name; a file that exists wins;
#     an unknown name is exit 2 listing the known names; summit validate
#     NAME works the same way.
#  3. The version rule: a missing version is a warning (validate exit 0),
#     a non-semantic one an error (validate and runbooks exit 2), as are
#     a file that cannot be loaded and two files declaring one name.
#  4. A run records the version; a run suspended on a gate and resumed
#     after the file moved to 1.3.0 keeps 1.2.0 (the pinned source);
#     `resume --upgrade` records the new version.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

cd "$T/wd"
mkdir -p runbooks team/runbooks sub
cat >summit.lua <<'CFG'
return { runbooks = { "runbooks", "team/runbooks" } }
CFG
cat >runbooks/deploy.lua <<'RB'
return runbook {
  name = "deploy", version = "1.2.0", description = "The standard procedure",
  params = {
    version = { type = "string", required = true, description = "what to ship" },
    strategy = { type = "string", default = "progressive", enum = { "progressive", "blue-green" } },
    gate = { type = "boolean", default = false },
  },
  run = function(p)
    if p.gate then approval.require{ gate = "go" } end
    step("ship", function() log.info("shipping %s (%s)", p.version, p.strategy) end)
  end,
}
RB
cat >team/runbooks/backup-drill.lua <<'RB'
return runbook { name = "backup-drill", version = "0.3.1-rc.1+build.7", description = "Restore last night's backup",
  run = function() log.info("drill ran") end }
RB

say "1. summit runbooks"
sm l1 runbooks
expect_rc 0 l1 "the catalog lists cleanly"
has "$T/l1.out" "deploy        1.2.0               The standard procedure" "name, version, description"
has "$T/l1.out" "-p version (string, required) - what to ship" "a required param"
has "$T/l1.out" '-p strategy (string) default "progressive" one of progressive|blue-green' "a param with default and enum"
has "$T/l1.out" "backup-drill  0.3.1-rc.1+build.7  Restore last night's backup" "the configured directory too"
has "$T/l1.out" "team/runbooks/backup-drill.lua" "with its file"
cd sub
sm l2 runbooks --json
cd ..
expect_rc 0 l2 "from a subdirectory"
py 'import json,sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["name"] for r in rows] == ["deploy", "backup-drill"], rows
d = rows[0]
assert d["version"] == "1.2.0" and d["description"] == "The standard procedure"
assert d["params"]["version"] == {"type": "string", "required": True, "description": "what to ship"}, d
assert d["params"]["strategy"]["default"] == "progressive"
assert rows[1]["params"] == {} and rows[1]["file"].endswith("team/runbooks/backup-drill.lua")
' "$T/l2.out" && ok "--json: one object per runbook with its params"

say "2. summit run NAME"
cd sub
sm r1 run deploy -p version=4.0.5
cd ..
expect_rc 0 r1 "run by name from a subdirectory"
has "$T/r1.out" "shipping 4.0.5 (progressive)" "the named runbook ran"
id=$(newest_run)
eq "$(run_field "$id" version)" "1.2.0" "the run records the version"
eq "$(run_field "$id" file)" "$T/wd/runbooks/deploy.lua" "and the file it resolved to (absolute: run from sub/)"
cat >backup-drill <<'RB'
return runbook { name = "local-drill", version = "9.0.0", run = function() log.info("the local file ran") end }
RB
sm r2 run backup-drill
expect_rc 0 r2 "a file that exists wins over a name"
has "$T/r2.out" "the local file ran" "the file ran, not the catalog's runbook"
mkdir deploy
sm r2d run deploy -p version=4.0.5
expect_rc 0 r2d "a directory of that name does not hide the runbook"
rmdir deploy
sm r3 run deplyo
expect_rc 2 r3 "an unknown name is a usage error"
has "$T/r3.err" "'deplyo' is neither a runbook file nor the name of a runbook in" "the error says what was looked for"
has "$T/r3.err" "(known: backup-drill, deploy)" "and lists the known names"
sm v1 validate deploy
expect_rc 0 v1 "validate NAME"
has "$T/v1.out" "runbook 'deploy' 1.2.0 is valid (3 params)" "validates the named runbook"

say "3. the version rule"
cat >noversion.lua <<'RB'
return runbook { name = "nov", run = function() end }
RB
cat >v.lua <<'RB'
return runbook { name = "vee", version = "v2.0", run = function() end }
RB
sm n1 validate noversion.lua
expect_rc 0 n1 "a missing version is only a warning"
has "$T/n1.err" "warning: noversion.lua: runbook 'nov' declares no version" "the warning says so"
sm n2 validate v.lua
expect_rc 2 n2 "a non-semantic version is invalid"
has "$T/n2.err" "v.lua: runbook 'vee': version \"v2.0\" is not a semantic version: drop the leading 'v'" "naming the version"
for v in 1.0.0 0.0.1 10.20.30 1.0.0-alpha 1.0.0-alpha.1 1.0.0-0.3.7 1.0.0-x-y.7 1.0.0+20130313144700 1.0.0-beta+exp.sha.5114f85; do
  printf 'return runbook { name = "sv", version = "%s", run = function() end }\n' "$v" >sv.lua
  sm sv validate sv.lua
  [[ $RC -eq 0 ]] || { show sv; die "$v is a semantic version"; }
done
ok "semantic versions are valid (pre-release and build metadata too)"
for v in 1.0.0-01 1.0 1 01.0.0 1.02.0 1.0.0- 1.0.0-rc..1 1.0.0+ 1.0.0_1 " 1.0.0" 1.0.0-é; do
  printf 'return runbook { name = "sv", version = "%s", run = function() end }\n' "$v" >sv.lua
  sm sv validate sv.lua
  [[ $RC -eq 2 ]] || { show sv; die "'$v' is not a semantic version, yet validate exited $RC"; }
done
ok "and malformed ones are not"
sm n3 run noversion.lua
expect_rc 0 n3 "an unversioned file still runs"
cp v.lua team/runbooks/vee.lua
sm n4 runbooks
expect_rc 2 n4 "the catalog refuses a non-semantic version"
has "$T/n4.err" "is not a semantic version" "and says which"
rm team/runbooks/vee.lua
printf 'return runbook {\n' >team/runbooks/broken.lua
sm n5 runbooks
expect_rc 2 n5 "a file that cannot be loaded"
has "$T/n5.err" "error: cannot load team/runbooks/broken.lua:2: unexpected symbol" "is named with its line"
has "$T/n5.out" "deploy" "the others are still listed"
rm team/runbooks/broken.lua
sed 's/name = "backup-drill"/name = "deploy"/' team/runbooks/backup-drill.lua >team/runbooks/dup.lua
sm n6 runbooks
expect_rc 2 n6 "two files declaring one name"
has "$T/n6.err" "runbook 'deploy' is declared by both" "are reported"
rm team/runbooks/dup.lua
cat >bad_dirs.lua <<'CFG'
return { runbooks = { 42 } }
CFG
sm n7 runbooks --config bad_dirs.lua
expect_rc 2 n7 "a bad runbooks list"
has "$T/n7.err" "runbooks[1] must be a directory name" "names the entry"

say "4. a resumed run keeps its version"
sm k1 run deploy --detach -p version=4.0.6 -p gate=true
expect_rc 3 k1 "the run waits on its gate"
id=$(newest_run)
sed -i 's/version = "1.2.0"/version = "1.3.0"/' runbooks/deploy.lua
SUMMIT_USER=alice sm k2 approve "$id" --gate go
expect_rc 0 k2 "approved"
sm k3 resume "$id"
expect_rc 0 k3 "resumed"
has "$T/k3.out" "shipping 4.0.6" "the resumed run finished"
eq "$(run_field "$id" version)" "1.2.0" "the resumed run kept the version it started with"
sm k4 runs --json
has "$T/k4.out" '"version":"1.2.0"' "runs --json shows it"
sm u1 run deploy --detach -p version=4.0.7 -p gate=true
expect_rc 3 u1 "a 1.3.0 run waits"
id2=$(newest_run)
eq "$(run_field "$id2" version)" "1.3.0" "a new run records the new version"
sed -i 's/version = "1.3.0"/version = "1.3.1"/' runbooks/deploy.lua
SUMMIT_USER=alice sm u2 approve "$id2" --gate go
sm u3 resume "$id2" --upgrade
expect_rc 0 u3 "resume --upgrade onto 1.3.1"
eq "$(run_field "$id2" version)" "1.3.1" "--upgrade records the version it upgraded to"
