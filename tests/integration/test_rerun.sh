#!/usr/bin/env bash
# Issue 8 / summit rerun RUN [--latest]:
#  - a rerun runs the version RUN was pinned to with RUN's params, even after
#    the file changed; --latest runs the file as it is now, with RUN's
#    params; both record rerun_of = RUN (status --json, runs --json, audit);
#  - a rerun of an unknown run, or --latest when the file is gone, exits 2.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
cd "$T/wd"

write_rb() {
  cat >rb.lua <<EOF
return runbook {
  name = "rerun-me", version = "$1",
  params = { who = { type = "string", required = true },
             n = { type = "integer", default = 1 } },
  run = function(p)
    step("say", function()
      exec({ "sh", "-c", 'echo "\$1 \$2 \$3" >> out', "sh", "$1", p.who, tostring(p.n) })
    end)
  end,
}
EOF
}

write_rb 1.0.0
sm first run rb.lua -p who=ann -p n=3
expect_rc 0 first "the first run"
run1=$(newest_run)
eq "$(tail -n 1 out)" "1.0.0 ann 3" "the first run's effect"

write_rb 2.0.0
sm pinned rerun "$run1"
expect_rc 0 pinned "rerun"
run2=$(newest_run)
[[ $run2 != "$run1" ]] || die "rerun made no new run"
eq "$(tail -n 1 out)" "1.0.0 ann 3" "rerun: the pinned version with the same params"
eq "$(run_field "$run2" version)" 1.0.0 "rerun records the pinned version"
eq "$(run_field "$run2" rerun_of)" "$run1" "rerun records rerun_of"
eq "$(run_field "$run2" source_sha256)" "$(run_field "$run1" source_sha256)" \
  "rerun: the same source digest"

sm latest rerun "$run1" --latest
expect_rc 0 latest "rerun --latest"
run3=$(newest_run)
eq "$(tail -n 1 out)" "2.0.0 ann 3" "--latest: the file as it is now, the same params"
eq "$(run_field "$run3" version)" 2.0.0 "--latest records the new version"
eq "$(run_field "$run3" rerun_of)" "$run1" "--latest records rerun_of"
"$SUMMIT" audit export --run "$run3" 2>/dev/null >"$T/audit.out"
has "$T/audit.out" "\"rerun_of\":\"$run1\"" "run.started in the audit trail names the run re-run"

sm again rerun "$run2"
expect_rc 0 again "a rerun of a rerun"
eq "$(run_field "$(newest_run)" rerun_of)" "$run2" "rerun_of is the run named, not the first"
eq "$(lines out)" 4 "each run did its effect once"

sm unknown rerun NOSUCHRUN
expect_rc 2 unknown "an unknown run"
has "$T/unknown.err" "no run NOSUCHRUN" "names the run"
rm rb.lua
sm gone rerun "$run1" --latest
expect_rc 2 gone "--latest with the file gone"
has "$T/gone.err" "cannot be read now" "says the file cannot be read"
sm pinned2 rerun "$run1"
expect_rc 0 pinned2 "a pinned rerun needs no file"
eq "$(tail -n 1 out)" "1.0.0 ann 3" "the pinned source again"
sm noarg rerun
expect_rc 2 noarg "rerun without a run"
