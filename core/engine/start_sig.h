#ifndef SUMMIT_ENGINE_START_SIG_H
#define SUMMIT_ENGINE_START_SIG_H
/* Signed starts (summit run --sign KEY, docs/approvals.md): the starter
 * signs approval_start_message() with ssh-keygen -Y sign (namespace
 * summit-start) and the signature is checked against summit.lua's
 * allowed_signers for the user the run starts as, before the run is
 * recorded. A signed gate that forbids self-approval trusts started_by
 * only when this signature verifies (checked again by the run and by
 * summit approve: the database is not trusted). */
#include <stddef.h>
#include <uv.h>

/* Signs msg with key_file and verifies the signature for user against
 * allowed_signers, running ssh-keygen on loop (nothing else runs yet).
 * Returns the signature (malloc'd), or NULL with why. */
char *start_sig_make(uv_loop_t *loop, const char *key_file,
                     const char *allowed_signers, const char *user,
                     const char *msg, char *why, size_t len);

#endif
