#ifndef SUMMIT_ENGINE_APPROVAL_H
#define SUMMIT_ENGINE_APPROVAL_H
/* Judging approval gates (docs/approvals.md).
 *
 * A gate's request is the JSON object stored in waits.request when the gate
 * opens: the policy (count, roles, distinct, allow_self, signed, bind,
 * deadline, on_timeout), the run's starter, the approvers -> roles map and
 * allowed_signers path resolved from summit.lua at that moment, and what a
 * signature covers (run, key, attempt, source hash). approval_judge() is a
 * pure function of that request and the decisions recorded on the gate: the
 * CLI uses it to refuse a decision at once, the run to decide. It knows
 * nothing of Lua or the store; signature checks happen before (the caller
 * runs ssh-keygen and passes each decision's signature state). */
#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* The SSH signature namespace of approvals (ssh-keygen -n). */
#define APPROVAL_NAMESPACE "summit-approval"
/* ... and of signed starts (summit run --sign). */
#define START_NAMESPACE "summit-start"

typedef enum {
  APPR_SIG_NONE,       /* no signature */
  APPR_SIG_VALID,      /* ssh-keygen -Y verify accepted it for the actor */
  APPR_SIG_BAD,        /* it did not (sig_error says why) */
  APPR_SIG_UNCHECKED   /* present, not checked: counted as valid (listings) */
} appr_sig;

/* One decision on the gate, in the order they were recorded. */
typedef struct {
  const char *actor;
  const char *decision;   /* "approve" or "reject" */
  const char *bind;       /* canonical JSON of the values approved; NULL: {} */
  const char *comment;    /* may be NULL */
  int64_t ts_ms;
  appr_sig sig;
  const char *sig_error;  /* APPR_SIG_BAD: why */
} appr_decision;

typedef enum {
  APPR_COUNTED,     /* an approval that counts */
  APPR_DUPLICATE,   /* the same actor again on a distinct gate: counted once */
  APPR_REFUSED,     /* does not count; reason says why */
  APPR_REJECTS,     /* a valid rejection: the gate fails */
  APPR_AFTER        /* came after the gate was decided: no effect */
} appr_verdict;

typedef struct {
  appr_verdict verdict;
  char reason[512];       /* APPR_REFUSED, APPR_DUPLICATE, APPR_AFTER */
} appr_judgement;

typedef enum { APPR_WAITING, APPR_APPROVED, APPR_REJECTED } appr_state;

typedef struct {
  appr_state state;
  int have, need;         /* approvals counted, approvals needed */
  int decided_by;         /* index of the decision that decided, or -1 */
  char needs[512];        /* APPR_WAITING: what is missing, in words */
} appr_outcome;

typedef struct appr_policy appr_policy;

/* Parses a request (the text of waits.request). NULL with a message in err
 * when it is not a valid request. */
appr_policy *approval_policy_new(const char *request_json, char *err,
                                 size_t errlen);
void approval_policy_free(appr_policy *p);
/* The parsed request (owned by p): for fields judging does not use. */
const cJSON *approval_request(const appr_policy *p);
const char *approval_gate(const appr_policy *p);
/* The request's bind as canonical JSON ("{}" when it binds nothing). */
const char *approval_bind(const appr_policy *p);
int approval_signed(const appr_policy *p);

/* Judges decisions d[0..n-1] in order: fills j[i] for each and *o. The
 * first valid rejection fails the gate; approvals count until the need is
 * met. A decision is refused when its signature is missing or bad on a
 * signed gate, it approves other bound values, it came after the deadline
 * (unless on_timeout = "pause"), the starter approves without allow_self,
 * or the actor can fill none of the places still open (roles). */
void approval_judge(const appr_policy *p, const appr_decision *d, int n,
                    appr_judgement *j, appr_outcome *o);

/* What is known of who started the run, for allow_self = false on a
 * signed gate: APPR_SIG_VALID when the run's start signature verified for
 * its started_by (summit run --sign), APPR_SIG_UNCHECKED when it is there
 * but was not checked (listings), APPR_SIG_BAD (why says) or APPR_SIG_NONE
 * (the default): then nobody's approval counts there, since nobody can
 * tell the starter from the others. who: the started_by the signature
 * covers (the run record's, not the request's). Unsigned gates keep comparing with
 * the claimed started_by. */
void approval_set_starter(appr_policy *p, appr_sig state, const char *who,
                          const char *why);
int approval_allow_self(const appr_policy *p);

/* "2 approvals, 1 from platform-lead": what the gate needs, in words. */
void approval_describe(const appr_policy *p, char *buf, size_t len);
/* The roles actor holds per the request's approvers map (a JSON array owned
 * by p), or NULL. */
const cJSON *approval_roles_of(const appr_policy *p, const char *actor);

/* The exact text an approver signs for decision ("approve" or "reject"):
 * it binds the run id, the gate, the journal key and attempt of the
 * request, the bound values and the runbook's source hash. Malloc'd. */
char *approval_message(const appr_policy *p, const char *decision);

/* The exact text a starter signs with summit run --sign: the run id, the
 * runbook's source hash, the SHA-256 of the params as canonical JSON and
 * the user the run is started as. Malloc'd; NULL if params_json is not
 * JSON or out of memory. */
char *approval_start_message(const char *run, const char *source_sha256,
                             const char *params_json, const char *user);

/* v as canonical JSON: object keys in byte order at every level, no
 * spaces (malloc'd; NULL if v is NULL or out of memory). */
char *approval_canonical(const cJSON *v);

/* 1 if principal (an allowed-signers principal, or a decision's actor)
 * names one identity; 0 for an ssh pattern ("*", "*@example.com", "?",
 * "!x"), which matches many names and so cannot be who decided. */
int approval_principal_is_name(const char *principal);

/* ssh-keygen argument lists (NULL-terminated, pointing into the
 * arguments). argv must hold 12 entries. */
void approval_verify_argv(const char **argv, const char *allowed_signers,
                          const char *principal, const char *sig_file);
void approval_find_argv(const char **argv, const char *allowed_signers,
                        const char *sig_file);
void approval_sign_argv(const char **argv, const char *key_file);
/* The same for a start (namespace START_NAMESPACE). */
void approval_start_verify_argv(const char **argv, const char *allowed_signers,
                                const char *principal, const char *sig_file);
void approval_start_sign_argv(const char **argv, const char *key_file);

/* Writes sig to a new private temporary file; its path goes into path
 * (size len). Returns 0, or -1 with errno set. */
int approval_sig_file(const char *sig, char *path, size_t len);

#endif
