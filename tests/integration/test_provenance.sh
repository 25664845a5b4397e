#!/usr/bin/env bash
# summit provenance RUN: an in-toto Statement v1 with an SLSA Provenance v1
# predicate; its digests match the runbook file and the git commit, secret
# params are masked, approvals and the outcome are in it, and a signed
# statement verifies with ssh-keygen -Y verify (and a changed one does not).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
REPO=$T/wd/repo
mkdir -p "$REPO"
cd "$REPO"
git init -q -b main .
git config user.name Tester
git config user.email tester@example.com
cat >summit.lua <<'LUA'
return {
  approvers = { alice = { "platform-lead" }, bob = { "senior-engineer" } },
}
LUA
cat >deploy.lua <<'LUA'
return runbook {
  name = "deploy", version = "1.4.2",
  params = {
    image = { type = "string", required = true },
    api_token = { type = "string", default = "s3cr3t-value" },
    db_pass = { type = "string", default = "pg-hunter2-value" },
    bypass = { type = "string", default = "not-a-secret" },
    fail = { type = "boolean", default = false },
  },
  run = function(p)
    step("build", function() return { image = p.image } end)
    approval.require{ gate = "production", count = 1, bind = { image = p.image } }
    step("deploy", function()
      if p.fail then fail("the rollout did not converge") end
      return "ok"
    end)
  end,
}
LUA
git add summit.lua deploy.lua
git commit -qm "runbooks"
HEAD_SHA=$(git rev-parse HEAD)
FILE_SHA=$(sha256sum deploy.lua | cut -d' ' -f1)
IMG="registry.example.com/web@sha256:$(printf 'web v2' | sha256sum | cut -d' ' -f1)"

say "a run with an approval"
sm run run deploy.lua -p image="$IMG" --detach
expect_rc 3 run "the run suspends at the gate"
RUN=$(newest_run)
SUMMIT_USER=alice sm approve approve "$RUN" --gate production --comment "looks good"
expect_rc 0 approve "alice approves"
sm resume resume "$RUN"
expect_rc 0 resume "the run finishes"

say "the statement"
sm prov provenance "$RUN"
expect_rc 0 prov "summit provenance"
py '
import base64, json, re, sys
st = json.load(open(sys.argv[1]))
run, file_sha, head, img = sys.argv[2:6]
def need(cond, what):
    if not cond:
        sys.exit("provenance: " + what + "\n" + json.dumps(st, indent=1))
# in-toto Statement v1
need(st["_type"] == "https://in-toto.io/Statement/v1", "_type")
need(isinstance(st["subject"], list) and st["subject"], "subject list")
for s in st["subject"]:
    need(isinstance(s.get("name"), str) and isinstance(s.get("digest"), dict) and s["digest"], "subject name+digest")
    for alg, v in s["digest"].items():
        need(alg == "sha256" and re.fullmatch("[0-9a-f]{64}", v), "subject digest is lowercase hex sha256")
need(st["predicateType"] == "https://slsa.dev/provenance/v1", "predicateType")
subj = {s["name"]: s["digest"]["sha256"] for s in st["subject"]}
need(subj.get("runbook:deploy@1.4.2") == file_sha, "the runbook subject digest is the file sha256")
need(subj.get("registry.example.com/web") == img.split("sha256:")[1], "the image is a subject")
# SLSA Provenance v1 layout
p = st["predicate"]
bd, rd = p["buildDefinition"], p["runDetails"]
need(isinstance(bd["buildType"], str) and ":" in bd["buildType"], "buildType is a URI")
need(isinstance(bd["externalParameters"], dict), "externalParameters")
ext = bd["externalParameters"]
need(ext["runbook"] == {"name": "deploy", "version": "1.4.2", "path": "deploy.lua"}, "runbook name/version/path")
need(ext["params"]["image"] == img, "params kept")
need(ext["params"]["api_token"] == "***", "secret param masked")
need(ext["params"]["db_pass"] == "***", "a param named db_pass (pass as a word of its name) masked")
need(ext["params"]["bypass"] == "not-a-secret", "bypass is not a secret name")
deps = bd["resolvedDependencies"]
need(any(d.get("digest", {}).get("sha256") == file_sha for d in deps), "runbook source digest in resolvedDependencies")
git = [d for d in deps if "gitCommit" in d.get("digest", {})]
need(git and git[0]["digest"]["gitCommit"] == head, "git commit of the work tree")
need(git[0]["uri"].startswith("git+file://") and git[0]["uri"].endswith("@refs/heads/main"), "git uri names the branch")
need(git[0]["annotations"]["dirty"] is False, "clean work tree")
appr = bd["internalParameters"]["approvals"]
need(len(appr) == 1 and appr[0]["actor"] == "alice" and appr[0]["gate"] == "production"
     and appr[0]["decision"] == "approve" and appr[0]["bind"] == {"image": img}
     and appr[0]["comment"] == "looks good", "the approval")
need(isinstance(rd["builder"]["id"], str) and ":" in rd["builder"]["id"], "builder.id is a URI")
md = rd["metadata"]
need(md["invocationId"] == run, "invocationId is the run")
rfc = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"
need(re.fullmatch(rfc, md["startedOn"]) and re.fullmatch(rfc, md["finishedOn"]), "RFC 3339 times")
need(md["startedOn"] <= md["finishedOn"], "start before finish")
oc = [b for b in rd["byproducts"] if b["name"] == "outcome"][0]
need(json.loads(base64.b64decode(oc["content"]))["status"] == "succeeded", "outcome content")
need(oc["annotations"]["status"] == "succeeded", "outcome annotation")
for b in rd["byproducts"]:
    need("uri" in b or "digest" in b or "content" in b, "a ResourceDescriptor has uri, digest or content")
' "$T/prov.out" "$RUN" "$FILE_SHA" "$HEAD_SHA" "$IMG"
ok "the statement has the in-toto/SLSA v1 fields, and its digests match"
hasnt "$T/prov.out" "s3cr3t-value" "the secret param value is not in the statement"
hasnt "$T/prov.out" "pg-hunter2-value" "nor the db_pass value"
sm export audit export --run "$RUN"
expect_rc 0 export "audit export --run"
py '
import json, sys
st = json.load(open(sys.argv[1]))
last = [json.loads(l) for l in open(sys.argv[2]) if l.strip()][-1]
a = [b for b in st["predicate"]["runDetails"]["byproducts"] if b["name"].startswith("audit-record:")]
assert a and a[0]["name"] == "audit-record:%d" % last["seq"], (a, last["seq"])
assert a[0]["digest"]["sha256"] == last["hash"], (a, last)
' "$T/prov.out" "$T/export.out"
ok "the audit byproduct is the hash of the run's newest audit record"

say "a failed run says so, and a dirty work tree is recorded"
echo "-- edited" >>deploy.lua
sm run2 run deploy.lua -p image="$IMG" -p fail=true --detach
RUN2=$(newest_run)
SUMMIT_USER=bob sm approve2 approve "$RUN2" --gate production
sm resume2 resume "$RUN2"
expect_rc 1 resume2 "the second run fails"
sm prov2 provenance "$RUN2"
expect_rc 0 prov2 "provenance of a failed run"
py '
import base64, json, sys
st = json.load(open(sys.argv[1]))
rd = st["predicate"]["runDetails"]
oc = [b for b in rd["byproducts"] if b["name"] == "outcome"][0]
o = json.loads(base64.b64decode(oc["content"]))
assert o["status"] == "failed", o
assert "did not converge" in o["error"]["message"], o
git = [d for d in st["predicate"]["buildDefinition"]["resolvedDependencies"] if "gitCommit" in d.get("digest", {})]
assert git[0]["annotations"]["dirty"] is True, git
' "$T/prov2.out"
ok "outcome failed with its error; dirty tree recorded"
git checkout -q deploy.lua

say "signed"
ssh_keys "$T" alice mallory >/dev/null
signer summit-release "$T/alice" >"$T/allowed_signers"
sm sign provenance "$RUN" -o "$T/prov.json" --sign "$T/alice"
expect_rc 0 sign "provenance --sign"
[[ -s $T/prov.json.sig ]] || die "no signature written"
ok "the signature is next to the statement"
ssh-keygen -Y verify -f "$T/allowed_signers" -I summit-release -n summit-provenance \
  -s "$T/prov.json.sig" <"$T/prov.json" >"$T/verify.out" 2>&1 ||
  { cat "$T/verify.out" >&2; die "the signature does not verify"; }
ok "ssh-keygen -Y verify accepts the signed statement"
sed 's/succeeded/succeeded /' "$T/prov.json" >"$T/prov-edited.json"
if ssh-keygen -Y verify -f "$T/allowed_signers" -I summit-release -n summit-provenance \
  -s "$T/prov.json.sig" <"$T/prov-edited.json" >/dev/null 2>&1; then
  die "an edited statement verified"
fi
ok "an edited statement does not verify"
sm sign2 provenance "$RUN" -o "$T/prov-m.json" --sign "$T/mallory"
if ssh-keygen -Y verify -f "$T/allowed_signers" -I summit-release -n summit-provenance \
  -s "$T/prov-m.json.sig" <"$T/prov-m.json" >/dev/null 2>&1; then
  die "a statement signed by a key not in allowed_signers verified"
fi
ok "a key outside allowed_signers does not verify"

say "bad input"
sm nosuch provenance no-such-run
expect_rc 2 nosuch "an unknown run"
has "$T/nosuch.err" "no run no-such-run" "names the run"
sm nokey provenance "$RUN" --sign "$T/alice"
expect_rc 2 nokey "--sign without -o"
sm badkey provenance "$RUN" -o "$T/p3.json" --sign "$T/nonexistent-key"
expect_rc 1 badkey "a key that does not exist"
has "$T/badkey.err" "ssh-keygen" "the error names ssh-keygen"
echo "PASS ($N_CHECKS checks)"
