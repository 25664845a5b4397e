#ifndef SUMMIT_ENGINE_SECRETS_H
#define SUMMIT_ENGINE_SECRETS_H
/* The secret values of this process's run (DESIGN §13, docs/secrets.md):
 * secret params and the secrets of summit.lua. Every string that leaves the
 * run -- journal rows, audit records, events, log lines, the run record --
 * passes through secrets_redact or secrets_redact_json, which replace each
 * occurrence of a value with "[secret:NAME]". Knows nothing of Lua.
 *
 * The set is process-wide: one process executes one run (a daemon starts a
 * process per run), and the redaction must reach code that has no run
 * context (the audit's error helper, the event stream). */
#include <cJSON.h>
#include <stddef.h>

/* Values shorter than this cannot be redacted by value without mangling
 * unrelated text (a 1-byte secret would redact every "a"): refused. */
#define SECRETS_MIN_LEN 4

/* Adds value under name (both copied). Also matched: the value as it
 * appears inside JSON text (escaped once and twice), so text that was
 * encoded before it reached a redactor is caught too. Returns 0, or -1
 * when value is shorter than SECRETS_MIN_LEN or name is empty (nothing
 * added). Adding the same name and value again is a no-op. */
int secrets_add(const char *name, const char *value, size_t len);

/* Forgets every value (tests; a process that starts another run). */
void secrets_clear(void);

/* How many values are registered (0: redaction is a no-op). */
int secrets_count(void);

/* s (len bytes) with every occurrence of a secret value replaced, as a new
 * NUL-terminated string (*outlen its length, may be NULL), or NULL when
 * nothing was replaced (the caller keeps s). Where occurrences overlap,
 * the longest match at the leftmost position wins; one contained in
 * another is not named twice; partly overlapping ones are replaced
 * together, each named. Aborts on out of memory, as cJSON would. */
char *secrets_redact(const char *s, size_t len, size_t *outlen);

/* secrets_redact, in place, on every string value and object key of j.
 * Returns how many strings changed. */
int secrets_redact_json(cJSON *j);

/* Replaces *s (malloc'd) by its redacted copy if anything was replaced. */
void secrets_redact_owned(char **s);

#endif
