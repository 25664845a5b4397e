#!/usr/bin/env bash
# Issue 3 / configuration (summit.lua) and the state directory.
#
#  1. summit.lua is found upward from a nested working directory; the
#     runbook reads env.name, env.namespace and env.vars; with no
#     SUMMIT_STATE_DIR the state lands in .summit next to summit.lua (not
#     in the working directory, not in XDG_STATE_HOME); `summit runs` from
#     another nested directory finds the same state.
#  2. --config FILE elsewhere (any file name): its environments are used;
#     with no summit.lua above the working directory the state lands in
#     $XDG_STATE_HOME/summit; a run resumed from another directory without
#     --config keeps the configuration and environment it started with.
#  3. Invalid configurations exit 2 with clear errors: a typo'd top-level
#     key ('enviroments') named with summit.lua:LINE; an unknown key inside
#     an environment named with its line; an environment naming a cluster
#     that is not defined; a syntax error. `--env nope` exits 2 and lists
#     the known environments. Nothing runs in any of these cases.
#  4. --params-file JSON gives the params (typed); a file that is not a
#     JSON object, or a param of the wrong type, exits 2.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

# The state-directory checks need no summit.lua above $T.
d=$(dirname "$T")
while :; do
  [[ -e $d/summit.lua ]] && die "found $d/summit.lua above the test directory; it would change the state-directory resolution under test"
  [[ $d == / ]] && break
  d=$(dirname "$d")
done

export XDG_STATE_HOME=$T/xdg
export HOME=$T/home
mkdir -p "$HOME"

P=$T/proj
mkdir -p "$P/a/b/c" "$P/x/y" "$P/rb"
cat >"$P/summit.lua" <<'EOF'
return {
  environments = {
    staging    = { cluster = "sim", namespace = "summit-staging" },
    production = { cluster = "sim", namespace = "summit-production",
                   vars = { color = "blue" } },
  },
  clusters = { sim = { sim = true } },
}
EOF
cat >"$P/rb/show.lua" <<'EOF'
return runbook {
  name = "show-env",
  params = {
    n = { type = "integer", default = 1 },
    who = { type = "string", default = "nobody" },
    flag = { type = "boolean", default = false },
    pause = { type = "boolean", default = false },
    dir = { type = "string", default = "" },
  },
  run = function(p)
    if p.pause then sleep("1s") end
    step("show", function()
      local line = string.format("env=%s ns=%s color=%s n=%s(%s) who=%s flag=%s",
        tostring(env.name), tostring(env.namespace), tostring(env.vars and env.vars.color),
        tostring(p.n), type(p.n), tostring(p.who), tostring(p.flag))
      log.info("%s", line)
      if p.dir ~= "" then
        exec({ "sh", "-c", 'echo "$1" >> "$2"', "sh", line, p.dir .. "/seen" })
      end
    end)
  end,
}
EOF
# nostate CMD...: runs CMD without SUMMIT_STATE_DIR.
nostate() { env -u SUMMIT_STATE_DIR "$@"; }

say "1. summit.lua found upward; env.*; state in .summit next to summit.lua"
cd "$P/a/b/c"
RC=0
nostate "$SUMMIT" run ../../../rb/show.lua --env production --json >"$T/up.out" 2>"$T/up.err" || RC=$?
expect_rc 0 up "summit run from a nested directory"
has "$T/up.out" "env=production ns=summit-production color=blue" "the runbook read env.name, env.namespace and env.vars"
[[ -f $P/.summit/state.db ]] || die "no state database at $P/.summit/state.db (next to summit.lua)"
ok "the state database is in .summit next to summit.lua"
[[ ! -e $P/a/b/c/.summit ]] || die "a .summit was created in the working directory"
ok "no .summit in the working directory"
[[ ! -e $XDG_STATE_HOME/summit ]] || die "state was written to \$XDG_STATE_HOME/summit although summit.lua was found"
ok "nothing in \$XDG_STATE_HOME"
[[ ! -e $SUMMIT_STATE_DIR ]] || die "the test's SUMMIT_STATE_DIR was used although it was unset"
ok "the (unset) SUMMIT_STATE_DIR was not used"
cd "$P/x/y"
nostate "$SUMMIT" runs --json >"$T/up-runs.out" 2>&1 || die "summit runs from another nested directory failed: $(cat "$T/up-runs.out")"
has "$T/up-runs.out" '"runbook":"show-env"' "summit runs from another nested directory finds the run"
has "$T/up-runs.out" '"env":"production"' "the run records its environment"
# SUMMIT_STATE_DIR wins over the summit.lua location.
sm up2 run ../../rb/show.lua --env staging --json
expect_rc 0 up2 "summit run with SUMMIT_STATE_DIR set"
has "$T/up2.out" "env=staging ns=summit-staging color=nil" "the staging environment (no vars)"
[[ -f $SUMMIT_STATE_DIR/state.db ]] || die "SUMMIT_STATE_DIR=$SUMMIT_STATE_DIR was not used"
ok "SUMMIT_STATE_DIR is used when set"
# No --env: env is an empty table, not an error.
sm noenv run ../../rb/show.lua --json
expect_rc 0 noenv "summit run without --env"
has "$T/noenv.out" "env=nil ns=nil" "without --env, env has no name or namespace"

say "2. --config FILE elsewhere; resume keeps the run's configuration"
O=$T/other
E=$T/elsewhere
mkdir -p "$O" "$E/sub" "$T/seen"
cat >"$O/team-config.lua" <<'EOF'
return {
  environments = {
    qa = { namespace = "summit-qa", vars = { color = "green" } },
  },
}
EOF
cd "$E/sub"
RC=0
nostate "$SUMMIT" run "$P/rb/show.lua" --config "$O/team-config.lua" --env qa --json >"$T/cfg.out" 2>"$T/cfg.err" || RC=$?
expect_rc 0 cfg "summit run --config FILE from a directory with no summit.lua above"
has "$T/cfg.out" "env=qa ns=summit-qa color=green" "the environment comes from the --config file"
[[ -f $XDG_STATE_HOME/summit/state.db ]] || die "no state database at \$XDG_STATE_HOME/summit/state.db"
ok "with no summit.lua above the working directory, state is in \$XDG_STATE_HOME/summit"
# --config wins over a summit.lua found upward (qa is not in $P/summit.lua).
cd "$P/a"
sm cfg2 run "$P/rb/show.lua" --config "$O/team-config.lua" --env qa --json
expect_rc 0 cfg2 "summit run --config from under another project's summit.lua"
has "$T/cfg2.out" "env=qa ns=summit-qa" "--config wins over the summit.lua found upward"
# A suspended run resumed elsewhere, without --config, keeps its environment.
sm cfg3 run "$P/rb/show.lua" --config "$O/team-config.lua" --env qa -p pause=true -p dir="$T/seen" --detach
expect_rc 3 cfg3 "a run that sleeps, --detach"
run3=$(newest_run)
cd "$T"
sm cfg3r resume "$run3"
expect_rc 0 cfg3r "its resume from another directory, without --config"
has "$T/seen/seen" "env=qa ns=summit-qa color=green" "the resumed run still sees the qa environment of its --config file"

say "3. invalid configurations exit 2 with clear errors"
# bad NAME LINE...: writes $T/NAME/summit.lua.
bad() {
  local name=$1
  shift
  mkdir -p "$T/$name"
  printf '%s\n' "$@" >"$T/$name/summit.lua"
}
# run_in NAME ARGS...: summit run show.lua ARGS from $T/NAME.
run_in() {
  local name=$1
  shift
  cd "$T/$name"
  sm "$name" run "$P/rb/show.lua" -p dir="$T/$name" "$@"
  cd "$T"
}
bad typo \
  'return {' \
  '  clusters = { sim = { sim = true } },' \
  '  enviroments = {},' \
  '}'
run_in typo
expect_rc 2 typo "a summit.lua with a typo'd key"
has "$T/typo.err" "'enviroments'" "the error names the key"
has "$T/typo.err" "summit.lua:3" "with summit.lua:LINE"
bad envkey \
  'return {' \
  '  clusters = { sim = { sim = true } },' \
  '  environments = {' \
  '    staging = { cluster = "sim",' \
  '                namspace = "summit-staging" },' \
  '  },' \
  '}'
run_in envkey --env staging
expect_rc 2 envkey "an unknown key inside an environment"
has "$T/envkey.err" "'namspace'" "the error names the key"
has "$T/envkey.err" "summit.lua:5" "with its line"
has "$T/envkey.err" "staging" "and the environment"
bad cluster \
  'return {' \
  '  clusters = { sim = { sim = true } },' \
  '  environments = {' \
  '    staging = { cluster = "sim" },' \
  '    production = { cluster = "prod-eu" },' \
  '  },' \
  '}'
run_in cluster --env staging
expect_rc 2 cluster "an environment naming an unknown cluster"
has "$T/cluster.err" "prod-eu" "the error names the missing cluster"
has "$T/cluster.err" "production" "and the environment"
bad syntax \
  'return {' \
  '  environments = {' \
  '}'
run_in syntax
expect_rc 2 syntax "a summit.lua with a syntax error"
has "$T/syntax.err" "summit.lua" "the error names the file"
cd "$P"
sm nope run "$P/rb/show.lua" --env nope -p dir="$T/nope"
cd "$T"
expect_rc 2 nope "--env nope"
has "$T/nope.err" "nope" "the error names the environment"
has "$T/nope.err" "production" "and lists the known ones (production)"
has "$T/nope.err" "staging" "and lists the known ones (staging)"
for n in typo envkey cluster syntax nope; do
  [[ ! -e $T/$n/seen ]] || die "$n: the runbook ran despite the invalid configuration"
done
ok "no runbook step ran with an invalid configuration"

say "4. --params-file"
echo '{"n": 7, "who": "alice", "flag": true}' >"$T/params.json"
sm pf run "$P/rb/show.lua" --params-file "$T/params.json" --json
expect_rc 0 pf "summit run --params-file"
has "$T/pf.out" "n=7(number) who=alice flag=true" "the params come from the JSON file, typed"
run_pf=$(newest_run)
eq "$(run_field "$run_pf" params | py 'import json,sys; d = json.load(sys.stdin); print(d["n"], d["who"], d["flag"])')" \
  "7 alice True" "the run records the resolved params"
echo '[1, 2]' >"$T/params-list.json"
sm pf2 run "$P/rb/show.lua" --params-file "$T/params-list.json"
expect_rc 2 pf2 "a params file that is not a JSON object"
soft_has "$T/pf2.err" "--params-file" "the error names --params-file (a JSON array is not a JSON object)"
echo '{"n": "seven"}' >"$T/params-type.json"
sm pf3 run "$P/rb/show.lua" --params-file "$T/params-type.json"
expect_rc 2 pf3 "a params file with a wrongly typed value"
has "$T/pf3.err" "'n'" "the error names the param"
sm pf4 run "$P/rb/show.lua" --params-file "$T/does-not-exist.json"
expect_rc 2 pf4 "a params file that does not exist"

