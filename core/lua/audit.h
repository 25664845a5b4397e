#ifndef SUMMIT_LUA_AUDIT_H
#define SUMMIT_LUA_AUDIT_H
/* Writing to the audit trail from the engine and the bindings (audit.c;
 * docs/audit.md): secrets are masked here, before anything is hashed. */
#include <cJSON.h>

#include "engine/runtime.h"

/* Masks secrets in detail, in place: the values of credential-like keys
 * (token, secret, password, api key, authorization, cookie, ...) and
 * credential-like text inside strings (Bearer/Basic credentials, URL
 * userinfo, key=value pairs with such keys, JWTs, private keys, well-known
 * token formats). */
void audit_redact(cJSON *detail);
/* s with credential-like text masked (malloc'd), or NULL if nothing was. */
char *audit_redact_text(const char *s);

/* Appends a record to the audit trail in rt's open write transaction (it
 * rides the run's next commit): actor = the run's user, run = run_id
 * (NULL: rt->run_id), detail (taken; NULL = {}) redacted and written in
 * key order. Returns STORE_OK or STORE_ERR (store_errmsg(rt->store)). */
/* The same for a command with no run context (the daemon, summit
 * schedule, summit approve): actor named, commit != 0 commits at once.
 * Every record goes through here or audit_append. */
int audit_append_to(store_t *s, const char *actor, const char *run_id,
                    const char *action, cJSON *detail, int commit);
int audit_append(runtime_t *rt, const char *run_id, const char *action,
                 cJSON *detail);

/* A detail {kind, name, key, attempt, outcome} for an entry's outcome;
 * any of the strings may be NULL (left out). */
cJSON *audit_entry_detail(const char *kind, const char *name, const char *key,
                          long long attempt, const char *outcome);

/* Adds "error": {code, message} to detail, the message cut to 500 bytes
 * (redaction happens in audit_append). */
void audit_add_error(cJSON *detail, const char *code, const char *message);

#endif
