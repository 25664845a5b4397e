#!/usr/bin/env bash
# Issue 5 / the git primitive, against real git repositories: a bare repo
# as the remote and clones of it, with repo-local identities (no global or
# system git config). A wrapper first in PATH logs every git command summit
# runs (then runs the real git), so the test can tell whether git ran.
#
#  1. Release (runbooks/git_release.lua, run from another directory with
#     --config pointing at the clone's summit.lua, so the calls' default cwd
#     is that clone): create a branch, commit, annotated tag (message read
#     back with `git cat-file`), push of branch and tag (the bare remote has
#     both, at the right commits), describe, log. Every call is one journal
#     entry of kind git. Then the same with an SSH-signed tag (ssh-keygen,
#     gpg.format=ssh in the repo's config), verified with `git tag -v`.
#  2. Fetch: another clone pushes a commit (a modify, an add, a rename, a
#     delete); fetch + status shows behind = 1; pull fast-forwards; log,
#     is_ancestor, changed_files (also limited to a path), describe, tags.
#  3. Dirty tree: status lists staged/modified/deleted/untracked/odd-named
#     files (spaces, quotes, UTF-8, a newline); untracked = false leaves
#     the untracked ones out; require_clean and a checkout that would lose
#     local changes raise EDIRTY with the files.
#  4. Merge conflict: ECONFLICT with the conflicting files and git's
#     output; abort = true leaves a clean tree; uncaught, the run fails
#     (exit 1) with ECONFLICT and the file in its error.
#  5. Replay: SIGKILL after a tag step, resume: git tag is not run again
#     (no "already exists"); the entry is kind git, completed at attempt 1.
#     SIGKILL while git tag is in flight (the wrapper blocks after the real
#     git made the tag): the resumed entry runs again as attempt 2 and
#     accepts the tag it finds on the same commit.
#  6. Errors: misuse raises at once naming the argument (with the runbook
#     line); a failing command raises EGIT with git's stderr, exit_code and
#     argv; a diverged push raises EREJECTED; an uncaught git error fails
#     the run (exit 1) with git's stderr in the message. A remote given as
#     a URL with a password: masked in the error, the entry's name and
#     every journal row; remote_url masks it too.
#  7. A remote that answers 401: git fails at once with "terminal prompts
#     disabled" instead of waiting for a password.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v git >/dev/null || die "git is needed (make deps)"
REAL_GIT=$(command -v git)

# Isolation: no global or system config, messages in English.
export HOME=$T/home GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 LC_ALL=C
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_SSH_COMMAND
mkdir -p "$HOME" "$T/bin"
g() { "$REAL_GIT" "$@"; }

# The wrapper: logs "$*" to $T/git-calls.log; for a `tag` command naming
# $GIT_WRAP_BLOCK it runs the real git, then blocks until $T/go-tag exists.
cat >"$T/bin/git" <<EOF
#!/usr/bin/env bash
printf '%s\n' "\$*" >>"$T/git-calls.log"
if [[ -n \${GIT_WRAP_BLOCK:-} && " \$* " == *" tag "*" \$GIT_WRAP_BLOCK "* && ! -e "$T/go-tag" ]]; then
  "$REAL_GIT" "\$@"
  rc=\$?
  echo \$\$ >"$T/pids/gitwrap"
  touch "$T/tag-blocked"
  while [[ ! -e "$T/go-tag" ]]; do sleep 0.05; done
  exit \$rc
fi
exec "$REAL_GIT" "\$@"
EOF
chmod +x "$T/bin/git"
export PATH=$T/bin:$PATH
calls() { grep -cE -- "$1" "$T/git-calls.log" 2>/dev/null || true; }

# named_result NAME FILE: the JSON a runbook printed as "RESULT NAME {...}".
named_result() {
  sed -n "s/^ *info RESULT $1 //p" "$2" | head -n 1
}
# jq-ish: JSON on stdin, a Python expression over `d` -> printed.
jv() {
  py 'import json,sys
d = json.loads(sys.stdin.read())
v = eval(sys.argv[1])
print(json.dumps(v, sort_keys=True) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1"
}

clone() { # clone DIR: a clone of the remote with a local identity
  g clone -q "$T/remote.git" "$1"
  g -C "$1" config user.name "Test Person"
  g -C "$1" config user.email "tester@example.com"
}

say "setup: a bare remote and clones"
g init -q --bare -b main "$T/remote.git"
clone "$T/seed" 2>/dev/null
mkdir -p "$T/seed/docs"
echo 'return {}' >"$T/seed/summit.lua"
echo "# app" >"$T/seed/README.md"
echo "one" >"$T/seed/keep.txt"
echo "old name" >"$T/seed/old.txt"
echo "going away" >"$T/seed/gone.txt"
echo "base" >"$T/seed/conflict.txt"
echo "guide" >"$T/seed/docs/guide.md"
g -C "$T/seed" add -A
g -C "$T/seed" commit -qm "Initial commit"
g -C "$T/seed" tag -a v0.9.0 -m "Release v0.9.0"
g -C "$T/seed" push -q origin main v0.9.0
clone "$T/a"
clone "$T/b"
ok "remote $T/remote.git with clones a and b"

# -------------------------------------------------------------------
say "1. release: branch, commit, annotated tag, push (default cwd: summit.lua's directory)"
: >"$T/git-calls.log"
cd "$T/wd"
sm release run "$RUNBOOKS/git_release.lua" --config "$T/a/summit.lua" -p version=1.0.0
expect_rc 0 release "release runbook"
run=$(newest_run)
eq "$(named_result root "$T/release.out" | jv d)" "$T/a" "git.root() with no cwd is the clone holding summit.lua"
commit=$(named_result commit "$T/release.out" | jv 'd["commit"]')
eq "$(g -C "$T/a" rev-parse release/1.0.0)" "$commit" "the commit is on release/1.0.0"
eq "$(g -C "$T/a" log -1 --format=%s "$commit")" "Release notes for 1.0.0" "commit message"
eq "$(g -C "$T/a" show "$commit:NOTES.md")" "Release 1.0.0" "the committed file"
eq "$(g -C "$T/a" cat-file -t v1.0.0)" "tag" "v1.0.0 is an annotated tag object"
g -C "$T/a" cat-file -p v1.0.0 >"$T/tagobj.txt"
has "$T/tagobj.txt" "object $commit" "the tag object points at the commit"
has "$T/tagobj.txt" "Release v1.0.0" "the tag message (git cat-file -p)"
eq "$(g --git-dir "$T/remote.git" rev-parse refs/heads/release/1.0.0)" "$commit" "the remote has the branch at the commit"
eq "$(g --git-dir "$T/remote.git" rev-parse 'refs/tags/v1.0.0^{commit}')" "$commit" "the remote has the tag on the commit"
eq "$(g --git-dir "$T/remote.git" cat-file -t refs/tags/v1.0.0)" "tag" "the remote's tag is annotated"
eq "$(g -C "$T/a" rev-parse --abbrev-ref 'release/1.0.0@{upstream}')" "origin/release/1.0.0" "set_upstream set the branch's upstream"
eq "$(named_result push "$T/release.out" | jv '[u["ref"] for u in d["updates"]]')" \
  '["refs/heads/release/1.0.0", "refs/tags/v1.0.0"]' "push result lists the updated refs"
eq "$(named_result log "$T/release.out" | jv '[d[0]["subject"], d[0]["author"], d[0]["email"], d[1]["subject"]]')" \
  '["Release notes for 1.0.0", "Test Person", "tester@example.com", "Initial commit"]' "log: subjects, author, email"
"$SUMMIT" status "$run" --json | py 'import json,sys
d = json.load(sys.stdin)
git = [e for e in d["entries"] if e["kind"] == "git"]
names = [e["name"] for e in git]
assert all(e["state"] == "completed" and e["attempt"] == 1 for e in git), git
for want in ["git require_clean", "git checkout release/1.0.0", "git add NOTES.md",
             "git commit Release notes for 1.0.0", "git tag v1.0.0",
             "git push origin release/1.0.0 v1.0.0", "git describe", "git log"]:
    assert want in names, (want, names)
assert [e["kind"] for e in d["entries"]].count("exec") == 1
print(len(git))' >"$T/n_entries" || die "journal entries of kind git"
ok "every git call is one completed journal entry of kind git ($(cat "$T/n_entries") entries)"
eq "$(calls ' tag --annotate --message=Release v1.0.0 --end-of-options v1.0.0 ')" 1 "git tag ran once"

say "1b. a signed tag: gpg.format=ssh with a key made by ssh-keygen"
command -v ssh-keygen >/dev/null || die "ssh-keygen is needed for the signed tag (openssh-client)"
ssh-keygen -q -t ed25519 -N "" -C tester@example.com -f "$T/signkey"
g -C "$T/a" config gpg.format ssh
g -C "$T/a" config user.signingkey "$T/signkey"
echo "tester@example.com $(cat "$T/signkey.pub")" >"$T/allowed_signers"
g -C "$T/a" checkout -q main
sm release2 run "$RUNBOOKS/git_release.lua" --config "$T/a/summit.lua" -p version=1.1.0 -p sign=true
expect_rc 0 release2 "release runbook with sign = true"
eq "$(named_result tag "$T/release2.out" | jv 'd["signed"]')" "true" "the result says signed"
g -C "$T/a" cat-file -p v1.1.0 >"$T/tagobj2.txt"
has "$T/tagobj2.txt" "BEGIN SSH SIGNATURE" "the tag object carries an SSH signature"
g -C "$T/a" -c gpg.ssh.allowedSignersFile="$T/allowed_signers" tag -v v1.1.0 >"$T/verify.out" 2>&1 ||
  { cat "$T/verify.out" >&2; die "git tag -v v1.1.0 failed"; }
has "$T/verify.out" 'Good "git" signature for tester@example.com' "git tag -v verifies the signature"

# -------------------------------------------------------------------
say "2. fetch: another clone pushes; status shows behind = 1; pull; log/is_ancestor/changed_files"
old=$(g -C "$T/b" rev-parse HEAD)
echo "two" >>"$T/b/keep.txt"
echo "new" >"$T/b/added.txt"
g -C "$T/b" mv old.txt renamed.txt
g -C "$T/b" rm -q gone.txt
echo "more" >>"$T/b/docs/guide.md"
g -C "$T/b" add -A
g -C "$T/b" commit -qm "Change things from b"
g -C "$T/b" push -q origin main
new=$(g -C "$T/b" rev-parse HEAD)
g -C "$T/a" checkout -q main
eq "$(g -C "$T/a" rev-parse HEAD)" "$old" "clone a is at the old commit"
sm sync run "$RUNBOOKS/git_sync.lua" -p repo="$T/a"
expect_rc 0 sync "sync runbook"
eq "$(named_result before "$T/sync.out" | jv '[d["clean"], d["branch"], d["upstream"], d["ahead"], d["behind"]]')" \
  '[true, "main", "origin/main", 0, 0]' "before fetch: clean, in sync as far as it knows"
eq "$(named_result fetched "$T/sync.out" | jv '[d["ahead"], d["behind"], d["commit"]]')" \
  "[0, 1, \"$old\"]" "after fetch: behind = 1, ahead = 0"
eq "$(named_result pulled "$T/sync.out" | jv '[d["before"], d["commit"], d["updated"]]')" \
  "[\"$old\", \"$new\", true]" "pull fast-forwarded to b's commit"
eq "$(named_result after "$T/sync.out" | jv '[d["behind"], d["commit"]]')" "[0, \"$new\"]" "after pull: behind = 0"
eq "$(named_result log "$T/sync.out" | jv '[c["subject"] for c in d]')" '["Change things from b"]' "log old..HEAD"
eq "$(named_result ancestor "$T/sync.out" | jv d)" '[true, false, true]' "is_ancestor(old), is_ancestor(HEAD, old), is_ancestor(old, HEAD)"
eq "$(named_result changed "$T/sync.out" | jv 'sorted((f["status"], f["path"], f.get("old_path")) for f in d)')" \
  '[["added", "added.txt", null], ["deleted", "gone.txt", null], ["modified", "docs/guide.md", null], ["modified", "keep.txt", null], ["renamed", "renamed.txt", "old.txt"]]' \
  "changed_files: added, deleted, modified, renamed (with old_path)"
eq "$(named_result changed_docs "$T/sync.out" | jv '[f["path"] for f in d]')" '["docs/guide.md"]' "changed_files limited to paths"
eq "$(named_result describe "$T/sync.out" | jv d)" "v0.9.0-1-g$(g -C "$T/a" rev-parse --short=7 HEAD)" "describe{tags=true}"
eq "$(named_result tags "$T/sync.out" | jv d)" '["v1.1.0", "v1.0.0", "v0.9.0"]' "tags{pattern, sort = -version:refname}"

# -------------------------------------------------------------------
say "3. dirty tree: status lists the files; require_clean and checkout raise EDIRTY"
g -C "$T/a" checkout -q -b other
echo "other readme" >"$T/a/README.md"
g -C "$T/a" commit -qam "README on other"
g -C "$T/a" checkout -q main
echo "changed" >>"$T/a/README.md"               # modified, not staged
echo "staged" >>"$T/a/keep.txt"
g -C "$T/a" add keep.txt                        # modified, staged
g -C "$T/a" rm -q --cached docs/guide.md        # deleted, staged (file stays, untracked)
rm "$T/a/renamed.txt"                           # deleted, not staged
echo x >"$T/a/new file.txt"
echo x >"$T/a/quo\"te.txt"
echo x >"$T/a/ünïcödé.txt"
printf x >"$T/a/line
break.txt"
sm dirty run "$RUNBOOKS/git_dirty.lua" -p repo="$T/a"
expect_rc 0 dirty "dirty runbook"
named_result status "$T/dirty.out" >"$T/dirty.json"
eq "$(jv 'd["clean"]' <"$T/dirty.json")" "false" "status.clean is false"
eq "$(jv 'sorted([f["path"], f["status"], f["staged"]] for f in d["files"])' <"$T/dirty.json")" \
  '[["README.md", "modified", false], ["docs/guide.md", "deleted", true], ["docs/guide.md", "untracked", false], ["keep.txt", "modified", true], ["line\nbreak.txt", "untracked", false], ["new file.txt", "untracked", false], ["quo\"te.txt", "untracked", false], ["renamed.txt", "deleted", false], ["\u00fcn\u00efc\u00f6d\u00e9.txt", "untracked", false]]' \
  "status.files: path, status, staged for each change (odd names intact)"
eq "$(named_result tracked_only "$T/dirty.out" | jv 'sorted(f["path"] for f in d["files"])')" \
  '["README.md", "docs/guide.md", "keep.txt", "renamed.txt"]' "untracked = false leaves untracked files out"
eq "$(named_result require_clean "$T/dirty.out" | jv '[d["code"], len(d["files"])]')" '["EDIRTY", 9]' "require_clean: EDIRTY with the 9 files"
has "$T/dirty.out" 'has changes: README.md (modified)' "require_clean's message names files"
eq "$(named_result checkout "$T/dirty.out" | jv '[d["code"], [f["path"] for f in d["files"]]]')" '["EDIRTY", ["README.md"]]' \
  "checkout over a local change: EDIRTY naming README.md"
named_result checkout "$T/dirty.out" | jv 'd["stderr"]' >"$T/dirty_stderr.txt"
has "$T/dirty_stderr.txt" "would be overwritten by checkout" "EDIRTY carries git's stderr"
eq "$(g -C "$T/a" rev-parse --abbrev-ref HEAD)" "main" "still on main"
# Clean up for the next part.
g -C "$T/a" reset -q --hard
g -C "$T/a" clean -qfd

# -------------------------------------------------------------------
say "4. merge conflict: ECONFLICT with the conflicting files"
g -C "$T/a" checkout -q -b feature
echo "feature side" >"$T/a/conflict.txt"
echo "feature only" >"$T/a/feature.txt"
g -C "$T/a" add -A && g -C "$T/a" commit -qm "feature edits"
g -C "$T/a" checkout -q main
echo "main side" >"$T/a/conflict.txt"
g -C "$T/a" commit -qam "main edits"
sm conflict run "$RUNBOOKS/git_conflict.lua" -p repo="$T/a"
expect_rc 0 conflict "conflict runbook (merge caught with pcall)"
named_result merge "$T/conflict.out" >"$T/merge.json"
eq "$(jv '[d["code"], d["files"], d["exit_code"]]' <"$T/merge.json")" '["ECONFLICT", ["conflict.txt"], 1]' \
  "ECONFLICT, files = {conflict.txt}, exit_code 1"
jv 'd["output"] + "\n" + d["message"]' <"$T/merge.json" >"$T/merge_text.txt"
has "$T/merge_text.txt" "CONFLICT (content): Merge conflict in conflict.txt" "the error carries git's output"
eq "$(named_result status "$T/conflict.out" | jv 'sorted([f["path"], f["status"]] for f in d["files"])')" \
  '[["conflict.txt", "conflicted"], ["feature.txt", "added"]]' "status after the conflict: conflicted and added files"
g -C "$T/a" merge --abort
sm conflict2 run "$RUNBOOKS/git_conflict.lua" -p repo="$T/a" -p abort=true
expect_rc 0 conflict2 "conflict runbook with abort = true"
eq "$(named_result merge "$T/conflict2.out" | jv '[d["code"], d["files"], d["aborted"]]')" '["ECONFLICT", ["conflict.txt"], true]' \
  "abort = true: ECONFLICT, aborted = true"
eq "$(named_result status "$T/conflict2.out" | jv 'd["clean"]')" "true" "the tree is clean after the abort"
sm conflict3 run "$RUNBOOKS/git_conflict.lua" -p repo="$T/a" -p raise=true -p abort=true
expect_rc 1 conflict3 "an uncaught conflict fails the run"
has "$T/conflict3.out" "ECONFLICT" "the run's error has the code"
has "$T/conflict3.out" "conflict.txt" "the run's error names the file"
eq "$(g -C "$T/a" status --porcelain)" "" "clean again"

# -------------------------------------------------------------------
say "5a. replay: SIGKILL after the tag step, resume: git tag does not run again"
: >"$T/git-calls.log"
mkdir -p "$T/crash/pids"
prev=$(newest_run)
bg_start crash run "$RUNBOOKS/git_crash.lua" -p repo="$T/a" -p dir="$T/crash" -p tag=v2.0.0
pid=$BG_PID
wait_until 30 "the wait step to start" test -e "$T/crash/blocked"
wait_new_run "$prev"
run=$NEW_RUN
kill -9 "$pid"
bg_wait "$pid"
eq "$RC" 137 "summit was killed"
kill -9 "$(cat "$T/crash/pids/wait")" 2>/dev/null || true
eq "$(calls ' tag --annotate .*v2\.0\.0')" 1 "git tag ran once before the kill"
before=$(calls 'v2\.0\.0')
touch "$T/crash/go"
sm crash_resume resume "$run"
expect_rc 0 crash_resume "resume after the kill"
expect_status "$run" succeeded "the resumed run"
hasnt "$T/crash_resume.err" "already exists" "no 'tag already exists'"
eq "$(calls ' tag --annotate .*v2\.0\.0')" 1 "git tag did not run again"
eq "$(calls 'v2\.0\.0')" "$before" "no git command about v2.0.0 ran on resume (not even a check)"
eq "$(entry_field "$run" 1/1 kind)" "git" "the tag's entry is of kind git"
eq "$(entry_field "$run" 1/1 name)" "git tag v2.0.0" "its name"
eq "$(entry_field "$run" 1/1 attempt)" "1" "completed at attempt 1"
eq "$(named_result tag "$T/crash_resume.out" | jv '[d["name"], d["commit"]]')" \
  "[\"v2.0.0\", \"$(g -C "$T/a" rev-parse HEAD)\"]" "the replayed result is the recorded one"

say "5b. SIGKILL while git tag is in flight: the recovered entry accepts its own tag"
: >"$T/git-calls.log"
mkdir -p "$T/crash2/pids"
touch "$T/crash2/go"
prev=$(newest_run)
GIT_WRAP_BLOCK=v3.0.0 bg_start crash2 run "$RUNBOOKS/git_crash.lua" -p repo="$T/a" -p dir="$T/crash2" -p tag=v3.0.0
pid=$BG_PID
wait_until 30 "git tag v3.0.0 to be in flight" test -e "$T/tag-blocked"
wait_new_run "$prev"
run=$NEW_RUN
kill -9 "$pid"
bg_wait "$pid"
eq "$RC" 137 "summit was killed with git tag in flight"
kill -9 "$(cat "$T/pids/gitwrap")" 2>/dev/null || true
eq "$(g -C "$T/a" cat-file -t v3.0.0)" "tag" "the tag was made before the kill"
touch "$T/go-tag"
sm crash2_resume resume "$run"
expect_rc 0 crash2_resume "resume after a kill inside git tag"
eq "$(entry_field "$run" 1/1 attempt)" "2" "the in-flight tag entry ran again as attempt 2"
eq "$(entry_field "$run" 1/1 state)" "completed" "and completed"
eq "$(named_result tag "$T/crash2_resume.out" | jv '[d["recovered"], d["commit"]]')" \
  "[true, \"$(g -C "$T/a" rev-parse HEAD)\"]" "recovered = true: the tag on the same commit was accepted"
eq "$(calls ' tag --annotate .*v3\.0\.0')" 1 "git tag itself was not run a second time"

# -------------------------------------------------------------------
say "6. errors: misuse at once; EGIT with git's stderr; EREJECTED"
echo "local" >"$T/a/local.txt"
g -C "$T/a" add local.txt && g -C "$T/a" commit -qm "local commit"
echo "remote" >"$T/b/remote.txt"
g -C "$T/b" add remote.txt && g -C "$T/b" commit -qm "remote commit" && g -C "$T/b" push -q origin main
secret=tok3n$RANDOM$RANDOM
g -C "$T/a" remote add creds "https://ci:$secret@git.example.com/app.git"
sm errors run "$RUNBOOKS/git_errors.lua" -p repo="$T/a" -p secret="$secret"
expect_rc 0 errors "errors runbook (misuse checks and caught errors)"
run=$(newest_run)
named_result checkout "$T/errors.out" >"$T/egit.json"
eq "$(jv '[d["exit_code"], d["argv"][0], "no-such-branch" in d["argv"]]' <"$T/egit.json")" '[128, "git", true]' \
  "EGIT: exit_code 128, argv"
jv 'd["stderr"]' <"$T/egit.json" >"$T/egit_stderr.txt"
has "$T/egit_stderr.txt" "no-such-branch" "EGIT.stderr is git's stderr"
jv 'd["message"]' <"$T/egit.json" >"$T/egit_msg.txt"
has "$T/egit_msg.txt" "exited with code 128: fatal: invalid reference: no-such-branch" "the message includes git's stderr"
has "$T/errors.out" "not a git repository" "outside a repository: git's message"
eq "$(named_result push "$T/errors.out" | jv '[d["code"], [r["ref"] for r in d["rejected"]]]')" '["EREJECTED", ["refs/heads/main"]]' \
  "a diverged push: EREJECTED listing refs/heads/main"
has "$T/errors.out" "failed to push some refs" "EREJECTED carries git's stderr"
eq "$(named_result push_url "$T/errors.out" | jv '"[redacted]@127.0.0.1" in d["message"] and "https://[redacted]@127.0.0.1:1/x.git" in d["argv"]')" \
  "true" "a remote URL's credentials are masked in the error's message and argv"
eq "$(named_result remote_url "$T/errors.out" | jv d)" "https://[redacted]@git.example.com/app.git" "remote_url masks credentials"
# Every column of every row, as stored (state_sql): no command shows them all.
state_sql "SELECT * FROM journal" >"$T/journal_rows"
[[ -s $T/journal_rows ]] || die "no journal rows"
! grep -qF -- "$secret" "$T/journal_rows" || die "the secret of a remote URL is in the journal"
ok "no journal row holds the URL's secret"
"$SUMMIT" log "$run" >"$T/errors_log.txt"
"$SUMMIT" log "$run" --json >>"$T/errors_log.txt"
hasnt "$T/errors_log.txt" "$secret" "summit log does not show it (the run's params do: it was passed as one)"
has "$T/errors_log.txt" "git push https://[redacted]@127.0.0.1:1/x.git main" "the entry's name has the masked URL"
sm errors2 run "$RUNBOOKS/git_errors.lua" -p repo="$T/a" -p fail=true
expect_rc 1 errors2 "an uncaught git error fails the run"
has "$T/errors2.out" "EGIT: git checkout --quiet no-such-branch -- exited with code 128: fatal: invalid reference: no-such-branch" \
  "the run's error shows git's stderr"
run=$(newest_run)
"$SUMMIT" log "$run" --json >"$T/errors2.log"
has "$T/errors2.log" '"stderr":"fatal: invalid reference: no-such-branch\n"' "the journal keeps git's stderr"

# -------------------------------------------------------------------
say "7. a remote that asks for a password: git fails at once (no prompt)"
cat >"$T/auth_server.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
# Started from a subshell, so it is not a job of this shell (lib.sh's
# cleanup waits for jobs); cleanup kills it through $T/pids.
(python3 "$T/auth_server.py" >"$T/auth_port" & echo $! >"$T/pids/auth_server")
wait_until 10 "the test HTTP server" test -s "$T/auth_port"
cat >"$T/wd/prompt.lua" <<'LUA'
return runbook { name = "git-prompt", params = { repo = { type = "string" }, url = { type = "string" } },
  run = function(p) git.fetch(p.url, { cwd = p.repo, timeout = "30s" }) end }
LUA
sm prompt run "$T/wd/prompt.lua" -p repo="$T/a" -p url="http://127.0.0.1:$(cat "$T/auth_port")/app.git"
expect_rc 1 prompt "fetch from a remote that wants a password fails"
has "$T/prompt.out" "terminal prompts disabled" "git did not prompt (GIT_TERMINAL_PROMPT=0)"
hasnt "$T/prompt.out" "ETIMEDOUT" "and did not hang until the timeout"
