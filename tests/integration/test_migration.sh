#!/usr/bin/env bash
# runbooks/migration.lua (issue 7, part 4) against `summit sim serve`. The
# sim's scripted exec commands keep the "database" in a ConfigMap
# (sim-exec: schema, dirty), so the real kubectl shows what a migration,
# its rollback migration and a human's repair did:
#   migrate up      schema=42 (with break=true in the ConfigMap: exits 1,
#                   leaving schema=42 dirty=true)
#   migrate down    schema=41, not dirty
#   migrate status  exits 1 while dirty; prints "schema N"
#   migrate repair  not dirty (what a human runs with kubectl exec)
# Backup, restore and integrity are summit.lua commands writing files.
#  1. a migration without a rollback migration (not irreversible): refused,
#     nothing done.
#  2. success: staging first (its ConfigMap says 42), production migrated,
#     MAINTENANCE_MODE=false at the end, the backup taken; audit.
#  3. a migration failing in staging: production untouched, run failed.
#     A failing migration with restore_backup: the rollback migration ran
#     (schema 41, not dirty), the backup was restored, maintenance off
#     (kubectl), run rolled_back; audit.
#  4. an irreversible migration that fails: the run suspends at the gate
#     migration-repair in maintenance mode; a second migration meanwhile
#     cannot take the lock db-migrations; a human repairs with kubectl
#     exec and approves; the resumed run verifies again and finishes.
#  5. SIGKILL while the (slow) migration runs: the resume stops as
#     needs_attention instead of running it again; --skip verifies and
#     finishes. An irreversible failure rejected: no rollback migration (still dirty,
#     migration.rollback_skipped audited), maintenance off, rolled_back.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v kubectl >/dev/null || die "kubectl is needed (the real peer of this test)"
MIGRATION=$(cd "$HERE/../.." && pwd)/runbooks/migration.lua

cat >"$T/scenario.lua" <<'LUA'
return {
  rollout_seconds_per_pod = 2,
  namespaces = { "staging", "prod" },
  deployments = {
    { name = "web", namespace = "staging", image = "registry/web:v1", replicas = 1 },
    { name = "web", namespace = "prod", image = "registry/web:v1", replicas = 2 },
  },
  exec = {
    { match = { "migrate", "up" }, when = { ["break"] = "true" }, set = { schema = "42", dirty = "true" },
      stderr = "ERROR: column users.email_verified already exists\n", exit_code = 1 },
    { match = { "migrate", "up" }, set = { schema = "42" }, stdout = "applied 042_email_verified\n" },
    { match = { "migrate", "up-slow" }, set = { schema = "42" }, stdout = "applied 042\n", delay_seconds = 500 },
    { match = { "migrate", "down" }, set = { schema = "41", dirty = false }, stdout = "reverted 042\n" },
    { match = { "migrate", "status" }, when = { dirty = "true" }, stdout = "schema 42 (dirty)\n", exit_code = 1 },
    { match = { "migrate", "status" }, when = { schema = "42" }, stdout = "schema 42\n" },
    { match = { "migrate", "status" }, stdout = "schema 41\n" },
    { match = { "migrate", "repair" }, set = { dirty = false }, stdout = "repaired\n" },
  },
}
LUA
start_sim sim --memory --scenario "$T/scenario.lua" --time-scale 50 --kubeconfig "$T/kubeconfig"

W=$T/wd
cat >"$W/summit.lua" <<'LUA'
return {
  environments = {
    prod = { cluster = "k", namespace = "prod", app = "web" },
    stg = { cluster = "k", namespace = "staging", app = "web" },
  },
  -- The deploy runbook's roles, and the status command it shares.
  defaults = { release = {
    environments = { staging = "stg", production = "prod" },
    migration_status = { "migrate", "status" },
  } },
  clusters = { k = { kubeconfig = "../kubeconfig" } },
  commands = {
    backup_database = { "python3", "-c",
      "import os, sys; os.makedirs('backups', exist_ok=True); open('backups/' + sys.argv[2], 'w').write('dump')" },
    restore_database = { "python3", "-c", "import sys; open('restored', 'a').write(sys.argv[2] + '\\n')" },
    verify_data_integrity = { "python3", "-c", "import sys; sys.exit(0)" },
  },
}
LUA
cd "$W"

# sim_db FIELD [NS]: a field of the simulated "database" (cm/sim-exec).
sim_db() { kget "${2:-prod}" cm/sim-exec "{.data.$1}"; }
maint() { kget prod deploy/web '{.spec.template.spec.containers[0].env[?(@.name=="MAINTENANCE_MODE")].value}'; }
# The prod "database" as the test wants it before a run.
set_db() {
  k del -n prod delete cm sim-exec --ignore-not-found
  krc 0 del "kubectl delete cm sim-exec"
  k mk -n prod create configmap sim-exec "$@"
  krc 0 mk "kubectl create configmap sim-exec $*"
}
# (the status command comes from defaults.release.migration_status)
CMDS=(-p "migrate_command=migrate up" -p "status_contains=schema 42")

say "no rollback migration and not irreversible: refused"
sm norb run "$MIGRATION" --env prod -p migration=v42 "${CMDS[@]}"
expect_rc 1 norb "a migration without a rollback migration"
has "$T/norb.out" "migration v42 has no rollback migration: give -p rollback_command=" "the refusal says what to give"
sm nocmd run "$MIGRATION" --env prod -p migration=v42 "${CMDS[@]}" -p "rollback_command=migrate down" \
  -p restore_backup=true -p restore=restore_db
expect_rc 1 nocmd "a restore command summit.lua does not define"
has "$T/nocmd.out" "summit.lua's commands do not define 'restore_db'" "refused before anything is done"
sm noenv run "$MIGRATION" -p migration=v42 "${CMDS[@]}" -p "rollback_command=migrate down"
expect_rc 2 noenv "a migration without an environment"
has "$T/noenv.err" "give the environment to migrate: -p environment=NAME (or --env NAME)" "it asks for one"
[[ ! -e backups ]] || die "a refused migration took a backup"
ok "nothing was done (no backup)"

say "a successful migration: staging first, then production"
sm good run "$MIGRATION" -p environment=production -p migration=v42 "${CMDS[@]}" \
  -p "rollback_command=migrate down"
expect_rc 0 good "the migration"
R1=$(newest_run)
expect_status "$R1" succeeded "the migration run"
eq "$(sim_db schema staging)" 42 "staging was migrated first (kubectl: staging's sim-exec schema=42)"
eq "$(sim_db schema)" 42 "production is at schema 42"
eq "$(sim_db dirty)" "" "and not dirty"
eq "$(maint)" false "MAINTENANCE_MODE=false on deployment/web at the end"
eq "$(kget prod deploy/web '{.status.updatedReplicas}/{.status.readyReplicas}')" 2/2 "web rolled out, 2 ready"
[[ -f backups/pre-migration-v42 ]] || die "no backup was taken"
ok "the backup pre-migration-v42 was taken"
has "$T/good.out" "maintenance on" "maintenance mode was turned on"
audit_of "$R1"
has "$T/audit.jsonl" '"action":"migration"' "the audit has the migration record"
has "$T/audit.jsonl" '"name":"db-migrations"' "the lock db-migrations is audited"
has "$T/audit.jsonl" '"name":"backup_database"' "the backup is audited"
hasnt "$T/audit.jsonl" '"name":"undo ' "no undo ran"
audit_verify "after the migration"

say "a migration that fails in staging stops before production"
k stg -n staging patch cm sim-exec --type merge -p '{"data":{"break":"true"}}'
krc 0 stg "kubectl patch: break=true in staging's sim-exec"
set_db --from-literal=schema=41
sm stgfail run "$MIGRATION" --env prod -p migration=v42b "${CMDS[@]}" -p "rollback_command=migrate down"
expect_rc 1 stgfail "the migration failing in staging"
expect_status "$(newest_run)" failed "the run (nothing to undo yet)"
has "$T/stgfail.out" "staging (stg): run migrations" "it failed in staging"
eq "$(sim_db schema)" 41 "production was not migrated (kubectl)"
eq "$(maint)" false "production's maintenance mode was not touched (still false from before)"
eq "$(sim_db dirty staging)" true "staging is left as the migration left it, to look at"

say "a failing migration: rollback migration, backup restored, maintenance off"
set_db --from-literal=schema=41 --from-literal=break=true
sm bad run "$MIGRATION" --env prod -p migration=v43 "${CMDS[@]}" -p "rollback_command=migrate down" \
  -p staging= -p restore_backup=true
expect_rc 1 bad "the failing migration"
R2=$(newest_run)
expect_status "$R2" rolled_back "the failed migration"
has "$T/bad.out" "column users.email_verified already exists" "the migration's error is shown"
eq "$(sim_db schema)" 41 "the rollback migration ran: schema 41 (kubectl)"
eq "$(sim_db dirty)" "" "not dirty"
eq "$(maint)" false "maintenance is off again: MAINTENANCE_MODE=false (kubectl)"
eq "$(cat restored)" pre-migration-v43 "the backup pre-migration-v43 was restored"
audit_of "$R2"
py 'import json,sys
names = [json.loads(l)["detail"].get("name") for l in open(sys.argv[1])]
undos = [n for n in names if n and n.startswith("undo ")]
want = ["undo rollback migration ready", "undo restore point pre-migration-v43", "undo maintenance on"]
got = [n for n in undos if n in want]
sys.exit(0 if got == want else "undo order: %r" % undos)' "$T/audit.jsonl" || die "the undo steps are not audited in order"
ok "audited undo path: rollback migration, restore, maintenance off, in that order"
has "$T/audit.jsonl" '"status":"rolled_back"' "the run's end is audited as rolled_back"
audit_verify "after the rolled back migration"

say "SIGKILL while the migration runs: needs attention, never run twice"
set_db --from-literal=schema=41
bg_start crash run "$MIGRATION" --env prod -p migration=v47 -p "migrate_command=migrate up-slow" \
  -p "status_command=migrate status" -p "status_contains=schema 42" -p "rollback_command=migrate down" \
  -p staging=
CPID=$BG_PID
wait_until 30 "the migration to start" grep -q "run migrations" "$T/crash.out"
R5=$(newest_run)
wait_until 30 "the exec to be in flight" journal_has "$R5" "$(
  "$SUMMIT" status "$R5" --json | py 'import json,sys
for e in json.load(sys.stdin)["entries"]:
    if e.get("name") == "run migrations": print(e["key"] + "/1")')" started
kill -9 "$CPID"
bg_wait "$CPID"
eq "$RC" 137 "summit was killed (SIGKILL) inside the migration"
eq "$(sim_db schema)" 42 "the migration itself ran in the pod (kubectl: schema 42)"
eq "$(maint)" true "maintenance is on"
sm cr1 resume "$R5"
expect_rc 6 cr1 "resume: the cut-off migration is not run again"
expect_status "$R5" needs_attention "the killed migration"
has "$T/cr1.out" "run migrations" "it names the step"
sm cr2 resume "$R5" --skip
expect_rc 0 cr2 "resume --skip once the operator has seen that it ran"
expect_status "$R5" succeeded "the migration, verified after the skip"
has "$T/cr2.out" "migration status" "the status was verified"
eq "$(maint)" false "maintenance off"
audit_of "$R5"
has "$T/audit.jsonl" '"action":"step.skipped"' "the skip is audited"
MKEY=$("$SUMMIT" status "$R5" --json | py 'import json,sys
for e in json.load(sys.stdin)["entries"]:
    if e.get("name") == "run migrations": print(e["key"])')
eq "$(py 'import json,sys
print(sum(1 for l in open(sys.argv[1]) for r in [json.loads(l)]
          if r["action"] == "cluster.completed" and r["detail"]["key"].startswith(sys.argv[2] + "/")))' \
  "$T/audit.jsonl" "$MKEY")" 0 "no exec inside 'run migrations' ever completed: the migration was not run a second time"
eq "$(started_rows "$R5" "$MKEY/1")" 1 "the migration's exec was started once (the journal)"

say "an irreversible migration that fails pauses for a human"
set_db --from-literal=schema=41 --from-literal=break=true
sm irr run "$MIGRATION" --env prod -p migration=v44 "${CMDS[@]}" -p irreversible=true \
  -p staging= --detach
expect_rc 3 irr "the irreversible failure suspends"
R3=$(newest_run)
expect_status "$R3" suspended "the irreversible migration"
has "$T/irr.out" "migration-repair" "it waits on the gate migration-repair"
has "$T/irr.out" "notify: irreversible migration v44 failed in prod and waits for a repair" \
  "the notification (logged: no channels in this summit.lua)"
eq "$(sim_db dirty)" true "no rollback migration ran: still dirty"
eq "$(maint)" true "maintenance stays on while a human repairs"

say "meanwhile another migration cannot start: db-migrations is held"
sm second run "$MIGRATION" --env stg -p migration=v45 "${CMDS[@]}" -p irreversible=true -p lock_timeout=2s
[[ -e backups/pre-migration-v45 ]] && die "the second migration took a backup while the lock was held"
has "$T/second.out" "lock 'db-migrations' is still held by run $R3" "the second migration waits for the lock, then gives up"
expect_rc 1 second "the second migration"

say "the human repairs (kubectl exec) and approves; the run verifies again and finishes"
k repair -n prod exec deploy/web -- migrate repair
krc 0 repair "kubectl exec deploy/web -- migrate repair"
has "$T/repair.out" repaired "kubectl exec prints the scripted output"
eq "$(sim_db dirty)" "" "the repair cleared dirty (kubectl)"
SUMMIT_USER=alice sm appr approve "$R3" --gate migration-repair --comment "fixed the column by hand"
expect_rc 0 appr "alice approves the repair"
sm res resume "$R3"
expect_rc 0 res "the resumed migration"
expect_status "$R3" succeeded "the repaired migration"
has "$T/res.out" "after repair: migration status" "the status was checked again"
eq "$(maint)" false "maintenance off at the end"
audit_of "$R3"
has "$T/audit.jsonl" '"action":"migration.failed"' "the failure is audited"
has "$T/audit.jsonl" '"action":"approval.granted"' "the approval is audited"
has "$T/audit.jsonl" '"repaired":true' "the migration record says it was repaired"

say "an irreversible failure rejected: no rollback migration, maintenance off"
set_db --from-literal=schema=41 --from-literal=break=true
sm irr2 run "$MIGRATION" --env prod -p migration=v46 "${CMDS[@]}" -p irreversible=true \
  -p staging= --detach
expect_rc 3 irr2 "suspended at the gate"
R4=$(newest_run)
SUMMIT_USER=alice sm rej reject "$R4" --gate migration-repair --comment "restore from DR instead"
expect_rc 0 rej "alice rejects"
sm res2 resume "$R4"
expect_rc 1 res2 "the rejected run fails"
expect_status "$R4" rolled_back "the rejected migration"
eq "$(sim_db dirty)" true "no rollback migration: still dirty"
eq "$(maint)" false "maintenance off"
audit_of "$R4"
has "$T/audit.jsonl" '"action":"migration.rollback_skipped"' "the skipped rollback migration is audited"
audit_verify "at the end"

cd "$T"
stop_sim sim
