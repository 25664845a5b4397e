#!/usr/bin/env bash
# Secrets (DESIGN §13, docs/secrets.md): a secret param, summit.lua secrets
# from an environment variable and from a file, given to a failing exec as
# argv, env and echoed back on its stderr, logged, returned in a step
# result, recorded in the audit; a `--password VALUE` flag. None of the
# values is anywhere in the state directory (state.db and its WAL, the
# run's log file), in the --json events, human output, `log --json`,
# `status --json`, `audit export` or the provenance; [secret:NAME] is
# there instead. A resume reads the secret param again (exit 2 naming it
# when it is not given, the run unchanged), a different value does not
# diverge, and exec{ secret_output = true } journals only a hash.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

W=$T/wd
mkdir -p "$W"
cd "$W"

DB_PASS='db-Pa55"w\rd-31337'   # a quote and a backslash: JSON escapes them
FLAG_VALUE=plainflagvalue        # not a secret: masked by its flag's name

# Every place a value could have reached; $1 is a label for messages.
leaks() {
  local what=$1 value=$2 run=$3
  sm leak_log log "$run" --json
  sm leak_status status "$run" --json
  sm leak_audit audit export
  sm leak_prov provenance "$run"
  # The value as it is, and as JSON text holds it (a quote, a backslash
  # escaped): either is a leak.
  local escaped
  escaped=$(py 'import json,sys; print(json.dumps(sys.argv[1])[1:-1])' "$value")
  for f in "$T"/*.out "$T"/*.err; do
    case $(basename "$f") in leak_*|run_*|resume_*) ;; *) continue ;; esac
    if grep -qaF -e "$value" -e "$escaped" -- "$f"; then
      soft_eq "found in $(basename "$f")" "absent" "$what is not in $(basename "$f")"
    else
      ok "$what is not in $(basename "$f")"
    fi
  done
  local hits
  hits=$(grep -rlaF -e "$value" -e "$escaped" -- "$SUMMIT_STATE_DIR" || true)
  soft_eq "${hits:-none}" "none" "$what is nowhere in the state directory (state.db, WAL, logs)"
}

say "part 1: a secret param, a --password flag, a failing exec"
cat >one.lua <<'LUA'
return runbook {
  name = "secret-param", version = "1.0.0",
  params = { db_pass = { type = "string", secret = true, required = true } },
  run = function(p)
    log.info("connecting with %s", p.db_pass)
    step("result", function() return { pass = p.db_pass } end)
    step("login as " .. p.db_pass, function() return true end)
    audit.record("db.connect", { note = "with " .. p.db_pass })
    step("connect", function()
      local flag = "plain" .. "flag" .. "value"
      return exec({ "sh", "-c", 'echo "denied for $X" >&2; echo "out $X"; [ ! -e fail.flag ]',
                    "sh", "--password", flag, p.db_pass }, { env = { X = p.db_pass } })
    end)
  end,
}
LUA
touch fail.flag
sm run_one run one.lua -p "db_pass=$DB_PASS" --json
expect_rc 1 run_one "the exec fails"
RUN1=$(newest_run)
sm run_one_human status "$RUN1"
leaks "the secret param" "$DB_PASS" "$RUN1"
leaks "the --password flag's value" "$FLAG_VALUE" "$RUN1"
# The JSON-escaped form (what a JSON text holds) is gone too.
ESCAPED='db-Pa55\"w\\rd-31337'
hits=$(grep -rlaF -- "$ESCAPED" "$SUMMIT_STATE_DIR" "$T"/leak_*.out "$T"/run_one.out || true)
soft_eq "${hits:-none}" none "the JSON-escaped secret is nowhere either"
soft_has "$T/run_one.out" '[secret:db_pass]' "events name the secret"
soft_has "$T/leak_audit.out" '[secret:db_pass]' "the audit names the secret (exec.failed, audit.record)"
soft_has "$T/leak_audit.out" '--password [redacted]' "the audit masks the flag's value"
soft_has "$T/leak_log.out" '[secret:db_pass]' "log --json names the secret"
soft_has "$T/leak_prov.out" '[secret:db_pass]' "the provenance names the secret param"

say "part 1: resume reads the secret again"
rm -f fail.flag
sm resume_none resume "$RUN1"
expect_rc 2 resume_none "a resume without the secret param"
has "$T/resume_none.err" "db_pass" "it names the missing secret"
eq "$(run_status "$RUN1")" failed "the run is unchanged"
sm resume_other resume "$RUN1" -p db_pass=another-value-9 -p nosuch=1
expect_rc 2 resume_other "-p of a param that is not secret on resume"
sm resume_ok resume "$RUN1" -p db_pass=another-value-9 --json
expect_rc 0 resume_ok "a resume with another value of the secret (no divergence)"
has "$T/resume_ok.out" '"step.replayed"' "the completed steps replay"
hasnt "$T/resume_ok.out" 'another-value-9' "the new value is not in the events"
hits=$(grep -rlaF -- another-value-9 "$SUMMIT_STATE_DIR" || true)
eq "${hits:-none}" none "nor in the state directory"

say "part 1: a rerun reads the secret param again"
sm rerun_none rerun "$RUN1"
expect_rc 2 rerun_none "a rerun without the secret param"
has "$T/rerun_none.err" "db_pass" "it names the missing secret"
sm rerun_ok rerun "$RUN1" -p "db_pass=$DB_PASS" --json
expect_rc 0 rerun_ok "a rerun with it"
soft_has "$T/rerun_ok.out" '[secret:db_pass]' "the rerun redacts it too"
hits=$(grep -rlaF -- "$DB_PASS" "$SUMMIT_STATE_DIR" "$T/rerun_ok.out" || true)
soft_eq "${hits:-none}" none "the rerun leaves it nowhere"

say "part 2: summit.lua secrets from an environment variable and a file"
export SX_API_TOKEN=apiTok-998877-zz
printf 'file\\Secret"77\n' >db.secret
cat >summit.lua <<'LUA'
return {
  secrets = { api = { env = "SX_API_TOKEN" }, dbfile = { file = "db.secret" } },
}
LUA
cat >two.lua <<'LUA'
return runbook {
  name = "config-secrets", version = "1.0.0",
  run = function(p)
    log.warn("api %s file %s", env.secrets.api, env.secrets.dbfile)
    step("result", function()
      return { api = env.secrets.api, file = env.secrets.dbfile }
    end)
    -- The command reads the variable itself: its output is redacted too.
    step("echo", function()
      return exec({ "sh", "-c", 'echo "env $SX_API_TOKEN file $F" >&2; [ ! -e fail.flag ]' },
        { env = { F = env.secrets.dbfile } })
    end)
    local issued = step("issue", function()
      local r = exec({ "sh", "-c", 'echo "issued-$((6000 + 4242))-cred"' }, { secret_output = true })
      return { length = #r.stdout, starts = r.stdout:sub(1, 6) }
    end)
    return issued
  end,
}
LUA
touch fail.flag
sm run_two run two.lua --json
expect_rc 1 run_two "the exec fails"
RUN2=$(newest_run)
leaks "the env secret" "$SX_API_TOKEN" "$RUN2"
leaks "the file secret" 'file\Secret"77' "$RUN2"
has "$T/run_two.out" '[secret:api]' "events name the env secret"
has "$T/run_two.out" '[secret:dbfile]' "events name the file secret"
has "$T/leak_status.out" '[secret:api]' "status --json (the step result) names it"
rm -f fail.flag
sm resume_two resume "$RUN2" --json
expect_rc 0 resume_two "a resume reads summit.lua's secrets again"
# journal KEY: the results of RUN2's completed rows KEY, read from the real
# database (no command shows a journal row's result: state_sql).
journal() {
  state_sql "SELECT result FROM journal WHERE run_id = ? AND key = ? AND state = 'completed'" "$RUN2" "$1"
}
journal 3 >"$T/step3.txt"
has "$T/step3.txt" '"starts":"issued"' "secret_output: the caller got the output"
journal 3/1 >"$T/exec3.txt"
want=$(printf 'issued-10242-cred\n' | sha256sum | cut -d' ' -f1)
has "$T/exec3.txt" "\"stdout_sha256\":\"$want\"" "secret_output: the journal holds the output's SHA-256"
hasnt "$T/exec3.txt" '"stdout"' "secret_output: and no stdout"
hits=$(grep -rlaF -- issued-10242-cred "$SUMMIT_STATE_DIR" "$T/resume_two.out" || true)
eq "${hits:-none}" none "secret_output: the output itself is nowhere"

say "a secret shorter than 4 bytes is refused"
sm short run one.lua -p db_pass=abc
expect_rc 2 short "a 3-byte secret param"
has "$T/short.err" "shorter than 4 bytes" "it says why"

