#ifndef SUMMIT_IO_SHA256_H
#define SUMMIT_IO_SHA256_H
/* SHA-256 and HMAC-SHA-256, by Nettle: the journal, the pins, the audit
 * chain and start signatures hash on every run. Nettle, not OpenSSL's EVP
 * digests, whose first call costs a run ~1.3 ms (openssl.cnf, providers,
 * name tables: docs/performance.md) for a hash of a few hundred bytes;
 * Nettle has no set-up and uses the CPU's SHA extensions itself. */
#include <nettle/sha2.h>
#include <stddef.h>

typedef struct sha256_ctx sm_sha256_ctx;

void sm_sha256_init(sm_sha256_ctx *c);
void sm_sha256_update(sm_sha256_ctx *c, const void *data, size_t len);
void sm_sha256_final(sm_sha256_ctx *c, unsigned char md[32]);
/* md of data, in one call */
void sm_sha256(const void *data, size_t len, unsigned char md[32]);
/* HMAC-SHA-256 (RFC 2104) of data under key */
void sm_hmac_sha256(const void *key, size_t klen, const void *data,
                    size_t dlen, unsigned char md[32]);
/* md as 64 lower-case hex digits and a NUL */
void sha256_hex(const unsigned char md[32], char out[65]);

#endif
