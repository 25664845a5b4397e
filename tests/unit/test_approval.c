/* Unit tests for core/engine/approval.c: the policy of approval gates
 * (count, distinct, roles as a list and as per-role minimums, allow_self,
 * bind, signatures, deadlines, rejections, duplicates), the signed message
 * and canonical JSON. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/approval.h"

#define APPROVERS                                                         \
  "\"approvers\":{\"alice\":[\"platform-lead\"],\"bob\":[\"senior-engineer\"],"\
  "\"carol\":[\"platform-lead\",\"senior-engineer\"],\"dave\":[]}"

static appr_policy *policy(const char *json) {
  char err[256] = "";
  appr_policy *p = approval_policy_new(json, err, sizeof err);
  cr_assert_not_null(p, "request %s should parse: %s", json, err);
  return p;
}

static appr_decision ok(const char *actor) {
  return (appr_decision){.actor = actor, .decision = "approve", .bind = NULL,
                         .ts_ms = 1000};
}

static appr_decision no(const char *actor) {
  appr_decision d = ok(actor);
  d.decision = "reject";
  d.comment = "not today";
  return d;
}

/* Judges and returns the outcome; verdicts go to j. */
static appr_outcome judge(appr_policy *p, appr_decision *d, int n,
                          appr_judgement *j) {
  appr_outcome o;
  approval_judge(p, d, n, j, &o);
  return o;
}

static void has(const char *text, const char *part) {
  cr_assert_not_null(strstr(text, part), "'%s' should contain '%s'", text,
                     part);
}

Test(approval, count_two_distinct_people) {
  appr_policy *p = policy("{\"gate\":\"production\",\"count\":2,"
                          "\"started_by\":\"tester\"}");
  appr_decision d[] = {ok("alice"), ok("alice"), ok("bob")};
  appr_judgement j[3];
  appr_outcome o = judge(p, d, 1, j);
  cr_assert_eq(o.state, APPR_WAITING);
  cr_assert_eq(o.have, 1);
  cr_assert_eq(o.need, 2);
  has(o.needs, "1 more approval");
  o = judge(p, d, 2, j);
  cr_assert_eq(o.state, APPR_WAITING, "the same person twice counts once");
  cr_assert_eq(j[1].verdict, APPR_DUPLICATE);
  has(j[1].reason, "counted once");
  cr_assert_eq(o.have, 1);
  o = judge(p, d, 3, j);
  cr_assert_eq(o.state, APPR_APPROVED);
  cr_assert_eq(o.decided_by, 2);
  cr_assert_eq(o.have, 2);
  approval_policy_free(p);
}

Test(approval, not_distinct_counts_each_time) {
  appr_policy *p = policy("{\"gate\":\"g\",\"count\":2,\"distinct\":false}");
  appr_decision d[] = {ok("alice"), ok("alice")};
  appr_judgement j[2];
  appr_outcome o = judge(p, d, 2, j);
  cr_assert_eq(o.state, APPR_APPROVED);
  cr_assert_eq(j[1].verdict, APPR_COUNTED);
  approval_policy_free(p);
}

Test(approval, self_approval_refused_unless_allowed) {
  appr_policy *p = policy("{\"gate\":\"g\",\"started_by\":\"tester\"}");
  appr_decision d[] = {ok("tester")};
  appr_judgement j[1];
  appr_outcome o = judge(p, d, 1, j);
  cr_assert_eq(o.state, APPR_WAITING);
  cr_assert_eq(j[0].verdict, APPR_REFUSED);
  has(j[0].reason, "tester started this run");
  has(j[0].reason, "allow_self = false");
  approval_policy_free(p);

  p = policy("{\"gate\":\"g\",\"started_by\":\"tester\",\"allow_self\":true}");
  o = judge(p, d, 1, j);
  cr_assert_eq(o.state, APPR_APPROVED);
  approval_policy_free(p);
}

Test(approval, role_list_needs_one_holder) {
  /* Two approvals, at least one by a platform-lead. */
  appr_policy *p = policy("{\"gate\":\"g\",\"count\":2,"
                          "\"roles\":[\"platform-lead\"]," APPROVERS "}");
  appr_decision d[] = {ok("bob"), ok("dave"), ok("alice")};
  appr_judgement j[3];
  appr_outcome o = judge(p, d, 3, j);
  cr_assert_eq(j[0].verdict, APPR_COUNTED, "bob fills the place open to anyone");
  cr_assert_eq(j[1].verdict, APPR_REFUSED, "dave cannot fill the lead's place");
  has(j[1].reason, "platform-lead");
  cr_assert_eq(j[2].verdict, APPR_COUNTED);
  cr_assert_eq(o.state, APPR_APPROVED);
  approval_policy_free(p);
}

Test(approval, role_restricted_gate_refuses_outsiders) {
  appr_policy *p = policy("{\"gate\":\"g\",\"roles\":[\"platform-lead\","
                          "\"sre\"]," APPROVERS "}");
  appr_decision d[] = {ok("bob"), ok("erin"), ok("alice")};
  appr_judgement j[3];
  appr_outcome o = judge(p, d, 2, j);
  cr_assert_eq(o.state, APPR_WAITING);
  cr_assert_eq(j[0].verdict, APPR_REFUSED);
  has(j[0].reason, "bob holds none of the roles");
  has(j[0].reason, "platform-lead or sre");
  has(j[0].reason, "gives bob: senior-engineer");
  cr_assert_eq(j[1].verdict, APPR_REFUSED);
  has(j[1].reason, "erin is not listed in approvers");
  appr_decision dave = ok("dave");
  o = judge(p, &dave, 1, j);
  has(j[0].reason, "summit.lua gives dave: no roles");
  has(o.needs, "1 more from platform-lead or sre");
  o = judge(p, d, 3, j);
  cr_assert_eq(o.state, APPR_APPROVED);
  approval_policy_free(p);
}

Test(approval, empty_roles_written_as_an_object) {
  appr_policy *p = policy("{\"gate\":\"g\",\"roles\":[\"lead\"],"
                          "\"approvers\":{\"dave\":{}}}");
  appr_decision d[] = {ok("dave")};
  appr_judgement j[1];
  judge(p, d, 1, j);
  has(j[0].reason, "summit.lua gives dave: no roles");
  approval_policy_free(p);
}

Test(approval, per_role_minimums) {
  appr_policy *p = policy("{\"gate\":\"g\",\"count\":3,\"roles\":"
                          "{\"platform-lead\":1,\"senior-engineer\":1},"
                          APPROVERS "}");
  appr_decision d[] = {ok("carol"), ok("alice"), ok("dave"), ok("erin")};
  appr_judgement j[4];
  appr_outcome o = judge(p, d, 1, j);
  cr_assert_eq(o.need, 3);
  has(o.needs, "1 more from senior-engineer");
  has(o.needs, "1 more from anyone");
  /* carol holds both roles but counts once; alice takes the lead's place
   * and carol moves to the senior engineer's. */
  o = judge(p, d, 2, j);
  cr_assert_eq(o.have, 2);
  cr_assert_eq(o.state, APPR_WAITING);
  has(o.needs, "1 more from anyone");
  o = judge(p, d, 3, j);
  cr_assert_eq(j[2].verdict, APPR_COUNTED, "dave fills the open place");
  cr_assert_eq(o.state, APPR_APPROVED);
  o = judge(p, d, 4, j);
  cr_assert_eq(o.state, APPR_APPROVED);
  cr_assert_eq(o.decided_by, 2);
  cr_assert_eq(j[3].verdict, APPR_AFTER, "erin came after the gate was decided");
  approval_policy_free(p);
}

Test(approval, per_role_minimums_set_the_count) {
  appr_policy *p = policy("{\"gate\":\"g\",\"count\":1,\"roles\":"
                          "{\"platform-lead\":2}," APPROVERS "}");
  appr_decision d[] = {ok("alice"), ok("bob"), ok("carol")};
  appr_judgement j[3];
  appr_outcome o = judge(p, d, 2, j);
  cr_assert_eq(o.need, 2, "two leads needed even though count is 1");
  cr_assert_eq(j[1].verdict, APPR_REFUSED);
  has(j[1].reason, "bob holds none");
  o = judge(p, d, 3, j);
  cr_assert_eq(o.state, APPR_APPROVED);
  approval_policy_free(p);
}

Test(approval, bind_mismatch_is_void) {
  appr_policy *p = policy("{\"gate\":\"g\",\"bind\":{\"version\":\"v2\","
                          "\"digest\":\"sha256:ab\"}}");
  cr_assert_str_eq(approval_bind(p), "{\"digest\":\"sha256:ab\",\"version\":\"v2\"}");
  appr_decision d[] = {ok("alice"), ok("bob")};
  d[0].bind = "{\"digest\":\"sha256:ab\",\"version\":\"v1\"}";
  d[1].bind = "{\"digest\":\"sha256:ab\",\"version\":\"v2\"}";
  appr_judgement j[2];
  appr_outcome o = judge(p, d, 1, j);
  cr_assert_eq(o.state, APPR_WAITING);
  cr_assert_eq(j[0].verdict, APPR_REFUSED);
  has(j[0].reason, "\"version\":\"v1\"");
  has(j[0].reason, "asks about");
  o = judge(p, d, 2, j);
  cr_assert_eq(o.state, APPR_APPROVED);
  approval_policy_free(p);
}

Test(approval, reject_fails_the_gate) {
  appr_policy *p = policy("{\"gate\":\"g\",\"count\":2," APPROVERS "}");
  appr_decision d[] = {ok("alice"), no("bob"), ok("carol")};
  appr_judgement j[3];
  appr_outcome o = judge(p, d, 3, j);
  cr_assert_eq(o.state, APPR_REJECTED);
  cr_assert_eq(o.decided_by, 1);
  cr_assert_eq(j[1].verdict, APPR_REJECTS);
  cr_assert_eq(j[2].verdict, APPR_AFTER);
  approval_policy_free(p);
}

Test(approval, reject_needs_someone_allowed_to_approve) {
  appr_policy *p = policy("{\"gate\":\"g\",\"roles\":[\"platform-lead\"],"
                          "\"started_by\":\"tester\"," APPROVERS "}");
  appr_decision d[] = {no("bob"), no("tester"), ok("alice")};
  appr_judgement j[3];
  appr_outcome o = judge(p, d, 3, j);
  cr_assert_eq(j[0].verdict, APPR_REFUSED, "bob holds no role of the gate");
  cr_assert_eq(j[1].verdict, APPR_REFUSED, "the starter may not decide");
  cr_assert_eq(o.state, APPR_APPROVED);
  approval_policy_free(p);
}

Test(approval, signed_gate_needs_valid_signatures) {
  appr_policy *p = policy("{\"gate\":\"g\",\"signed\":true}");
  cr_assert(approval_signed(p));
  approval_set_starter(p, APPR_SIG_VALID, "tester", NULL);
  appr_decision d[] = {ok("alice"), ok("alice"), ok("alice")};
  d[1].sig = APPR_SIG_BAD;
  d[1].sig_error = "incorrect signature";
  d[2].sig = APPR_SIG_VALID;
  appr_judgement j[3];
  appr_outcome o = judge(p, d, 2, j);
  cr_assert_eq(o.state, APPR_WAITING);
  has(j[0].reason, "signed decisions only");
  has(j[1].reason, "incorrect signature");
  o = judge(p, d, 3, j);
  cr_assert_eq(o.state, APPR_APPROVED);
  approval_policy_free(p);

  /* An unsigned gate ignores signatures. */
  p = policy("{\"gate\":\"g\"}");
  o = judge(p, d, 2, j);
  cr_assert_eq(o.state, APPR_APPROVED);
  approval_policy_free(p);
}

/* Issue 12: on a signed gate that forbids self-approval, the starter is
 * the user of a verified start signature, never the claimed started_by. */
Test(approval, signed_gate_knows_its_starter_only_from_a_signed_start) {
  const char *req = "{\"gate\":\"g\",\"signed\":true,\"started_by\":\"alice\"}";
  appr_decision d[] = {ok("bob"), ok("alice")};
  d[0].sig = d[1].sig = APPR_SIG_VALID;
  appr_judgement j[2];

  appr_policy *p = policy(req);               /* unsigned start */
  appr_outcome o = judge(p, d, 2, j);
  cr_assert_eq(o.state, APPR_WAITING);
  cr_assert_eq(j[0].verdict, APPR_REFUSED, "nobody counts: starter unknown");
  cr_assert_eq(j[1].verdict, APPR_REFUSED);
  has(j[0].reason, "start was not signed");
  has(j[0].reason, "--sign KEYFILE");
  approval_policy_free(p);

  p = policy(req);                            /* a start that does not verify */
  approval_set_starter(p, APPR_SIG_BAD, "alice", "incorrect signature");
  o = judge(p, d, 2, j);
  cr_assert_eq(o.state, APPR_WAITING);
  has(j[0].reason, "does not verify (incorrect signature)");
  approval_policy_free(p);

  p = policy(req);                            /* alice signed her start */
  approval_set_starter(p, APPR_SIG_VALID, "alice", NULL);
  o = judge(p, d, 2, j);
  cr_assert_eq(j[0].verdict, APPR_COUNTED, "bob counts");
  cr_assert_eq(o.state, APPR_APPROVED);
  approval_policy_free(p);
  appr_decision self[] = {ok("alice")};
  self[0].sig = APPR_SIG_VALID;
  p = policy(req);
  approval_set_starter(p, APPR_SIG_UNCHECKED, "alice", NULL);
  o = judge(p, self, 1, j);
  cr_assert_eq(j[0].verdict, APPR_REFUSED, "alice started it");
  has(j[0].reason, "alice started this run");
  approval_policy_free(p);

  /* The verified name wins over the request's claim. */
  p = policy(req);
  approval_set_starter(p, APPR_SIG_VALID, "bob", NULL);
  o = judge(p, d, 2, j);
  cr_assert_eq(j[0].verdict, APPR_REFUSED, "bob signed the start");
  cr_assert_eq(j[1].verdict, APPR_COUNTED, "alice only claimed it");
  approval_policy_free(p);

  /* A trusted starter without a name is no starter. */
  p = policy(req);
  approval_set_starter(p, APPR_SIG_VALID, NULL, NULL);
  o = judge(p, d, 2, j);
  cr_assert_eq(o.state, APPR_WAITING);
  approval_policy_free(p);

  /* allow_self = true, or an unsigned gate: as before. */
  p = policy("{\"gate\":\"g\",\"signed\":true,\"allow_self\":true,"
             "\"started_by\":\"alice\"}");
  o = judge(p, self, 1, j);
  cr_assert_eq(o.state, APPR_APPROVED);
  approval_policy_free(p);
  p = policy("{\"gate\":\"g\",\"started_by\":\"alice\"}");
  o = judge(p, d, 2, j);
  cr_assert_eq(j[0].verdict, APPR_COUNTED);
  cr_assert_eq(o.state, APPR_APPROVED);
  approval_policy_free(p);
}

Test(approval, late_decisions) {
  appr_policy *p = policy("{\"gate\":\"g\",\"deadline\":5000}");
  appr_decision d[] = {ok("alice")};
  d[0].ts_ms = 6000;
  appr_judgement j[1];
  appr_outcome o = judge(p, d, 1, j);
  cr_assert_eq(j[0].verdict, APPR_REFUSED);
  has(j[0].reason, "after the gate's deadline");
  cr_assert_eq(o.state, APPR_WAITING);
  approval_policy_free(p);
  p = policy("{\"gate\":\"g\",\"deadline\":5000,\"on_timeout\":\"pause\"}");
  o = judge(p, d, 1, j);
  cr_assert_eq(o.state, APPR_APPROVED, "a paused gate takes late approvals");
  approval_policy_free(p);
}

Test(approval, bad_requests) {
  const char *bad[] = {
      "[]", "{}", "{\"gate\":\"\"}", "{\"gate\":\"g\",\"count\":0}",
      "{\"gate\":\"g\",\"count\":1.5}", "{\"gate\":\"g\",\"roles\":[1]}",
      "{\"gate\":\"g\",\"roles\":{\"x\":0}}", "{\"gate\":\"g\",\"roles\":7}",
      "{\"gate\":\"g\",\"bind\":[1]}", "not json",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char err[256] = "";
    appr_policy *p = approval_policy_new(bad[i], err, sizeof err);
    cr_assert_null(p, "%s should be refused", bad[i]);
    has(err, "invalid approval request");
  }
}

Test(approval, describe) {
  appr_policy *p = policy("{\"gate\":\"g\",\"count\":2,\"signed\":true,"
                          "\"roles\":[\"platform-lead\",\"sre\"]}");
  char buf[200];
  approval_describe(p, buf, sizeof buf);
  cr_assert_str_eq(buf, "2 approvals (1 from platform-lead or sre), signed");
  approval_policy_free(p);
}

Test(approval, message_binds_everything) {
  appr_policy *p = policy(
      "{\"gate\":\"production\",\"run\":\"r1\",\"key\":\"3/1\",\"attempt\":2,"
      "\"bind\":{\"version\":\"v2\"},\"source_sha256\":\"abc\"}");
  char *m = approval_message(p, "approve");
  cr_assert_str_eq(m, "summit-approval v1\n"
                      "decision: approve\n"
                      "run: r1\n"
                      "gate: production\n"
                      "key: 3/1\n"
                      "attempt: 2\n"
                      "bind: {\"version\":\"v2\"}\n"
                      "source-sha256: abc\n");
  free(m);
  approval_policy_free(p);
}

Test(approval, canonical_json) {
  cJSON *v = cJSON_Parse("{\"b\":1,\"a\":{\"z\":[{\"y\":1,\"x\":2}],\"c\":true}}");
  char *t = approval_canonical(v);
  cr_assert_str_eq(t, "{\"a\":{\"c\":true,\"z\":[{\"x\":2,\"y\":1}]},\"b\":1}");
  free(t);
  /* Still a well-formed cJSON tree afterwards: the copy was sorted. */
  cJSON_AddNumberToObject(v, "0", 0);
  t = cJSON_PrintUnformatted(v);
  cr_assert_str_eq(t, "{\"b\":1,\"a\":{\"z\":[{\"y\":1,\"x\":2}],\"c\":true},\"0\":0}");
  free(t);
  cJSON_Delete(v);
}

Test(approval, sig_file) {
  char path[512];
  cr_assert_eq(approval_sig_file("-----BEGIN SSH SIGNATURE-----\n", path,
                                 sizeof path), 0);
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f);
  char buf[64] = "";
  cr_assert_not_null(fgets(buf, sizeof buf, f));
  fclose(f);
  remove(path);
  cr_assert_str_eq(buf, "-----BEGIN SSH SIGNATURE-----\n");
}
