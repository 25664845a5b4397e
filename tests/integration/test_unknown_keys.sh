#!/usr/bin/env bash
# Issue 14 item 6: a misspelt key is an error, not ignored; a run that
# failed in its own code suggests resume --upgrade.
#
#  - runbook{ enviroment = }, a param's tpye =: validate and run exit 2 with
#    file:line of the key and the known keys; no run is created
#  - the same runbook spelt right validates (control)
#  - step{ retires =, timout = }: validate finds both in the literal table;
#    the run (which does not check statically) fails at that step naming
#    the key and the known options; the step before it completed; once the file is
#    fixed, resume --upgrade finishes the run with the fixed options
#  - the hint of a run that failed with a Lua error (ERUNBOOK) says
#    --upgrade; one that failed in a primitive (EEXIT) keeps the plain one
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

cd "$T"
known_rb="description, environment, name, params, run, version"
known_spec="default, description, enum, env, file, pattern, required, secret, type"
known_step="backoff, fn, idempotent, name, on_exhausted, retries, secret_output, timeout, undo"

cat >good.lua <<'EOF'
return runbook{
  name = "keys", version = "1.0.0",
  environment = "prod",
  params = {
    port = { type = "integer", default = 80 },
    tag = { type = "string", description = "the image tag", required = false },
  },
  run = function() return "ok" end,
}
EOF

say "a valid runbook validates (control)"
sm good validate good.lua
expect_rc 0 good "validate of a runbook with only known keys"
has "$T/good.out" "runbook 'keys' 1.0.0 is valid (2 params)" "it is valid"

say "runbook{ enviroment = }"
sed 's/  environment = /  enviroment = /' good.lua >env.lua
sm env validate env.lua
expect_rc 2 env "validate of runbook{ enviroment = }"
has "$T/env.err" "env.lua:1: runbook: bad argument 'enviroment' (unknown option (known: $known_rb))" \
  "the key, its file:line and the known keys"
sm env_run run env.lua
expect_rc 2 env_run "run of runbook{ enviroment = }"
has "$T/env_run.err" "bad argument 'enviroment'" "run names the key too"
eq "$(run_count)" 0 "no run was created"

say "a non-tail runbook{} call names its own line"
{ printf 'local rb = runbook{\n  name = "keys",\n  verison = "1.0.0",\n'
  printf '  run = function() end,\n}\nreturn rb\n'; } >local.lua
sm loc validate local.lua
expect_rc 2 loc "validate of runbook{ verison = }"
has "$T/loc.err" "local.lua:1: runbook: bad argument 'verison'" "file:line of the runbook{} call"

say "a param's tpye ="
sed 's/port = { type = /port = { tpye = /' good.lua >param.lua
sm param validate param.lua
expect_rc 2 param "validate of a param with tpye ="
has "$T/param.err" "param.lua:5: runbook: bad argument 'params.port.tpye' (unknown option (known: $known_spec))" \
  "the param's key, its line and the known keys"
sm param_run run param.lua -p port=8080
expect_rc 2 param_run "run of a param with tpye ="
eq "$(run_count)" 0 "no run was created"

say "step{ retires =, timout = }"
cat >step.lua <<'EOF'
return runbook{
  name = "steps", version = "1.0.0",
  run = function()
    step("first", function() return 1 end)
    local n = 0
    return step{ "second", function()
      n = n + 1
      if n < 3 then error("flaky " .. n) end
      return n
    end, retires = 3, timout = "5s", backoff = "fixed" }
  end,
}
EOF
sm st validate step.lua
expect_rc 2 st "validate of a literal step{ retires =, timout = }"
has "$T/st.err" "step.lua:6: step: bad argument 'retires' (unknown option (known: $known_step))" \
  "validate names the key, its line and the known options"
has "$T/st.err" "step.lua:6: step: bad argument 'timout'" "and the other misspelt key"
sm st_run run step.lua
expect_rc 1 st_run "a run with step{ retires = }"
run=$(newest_run)
has "$T/st_run.out" "step.lua:6: step: bad argument 'retires' (unknown option (known: $known_step))" \
  "the run names the key, its line and the known options"
expect_status "$run" failed "the run"
eq "$(entry_field "$run" 1 state)" completed "the step before it completed"
has "$T/st_run.out" "resume with: summit resume $run --upgrade" "a Lua error's hint says --upgrade"

say "fixed, resume --upgrade uses the options"
sed -i 's/retires = 3, timout = /retries = 3, timeout = /' step.lua
sm st_fixed resume "$run" --upgrade --time-scale 1000
expect_rc 0 st_fixed "resume --upgrade of the fixed runbook"
expect_status "$run" succeeded "the resumed run"
has "$T/st_fixed.out" "== first (replayed)" "the first step replayed"
eq "$(entry_field "$run" 2 attempt)" 3 "the step succeeded on its third try: retries = 3 applied"

say "an operational failure keeps the plain hint"
cat >op.lua <<'EOF'
return runbook{
  name = "op", version = "1.0.0",
  run = function() step("cmd", function() return exec{ "false" } end) end,
}
EOF
sm op run op.lua --json
expect_rc 1 op "a run whose command fails"
run=$(newest_run)
has "$T/op.out" '"error":"EEXIT: ' "it failed with EEXIT"
has "$T/op.out" "\"hint\":\"resume with: summit resume $run\"" "the hint is the plain resume"
hasnt "$T/op.out" "--upgrade" "no --upgrade for a failure outside the code"

sed -i 's/retries = 3, timeout = /retires = 3, timout = /' step.lua
sm lua_json run step.lua --json
run=$(newest_run)
has "$T/lua_json.out" "\"hint\":\"the runbook's code failed: fix it, then resume with: summit resume $run --upgrade\"" \
  "run.finished's hint in --json says --upgrade"

