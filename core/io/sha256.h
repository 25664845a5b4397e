#ifndef SUMMIT_IO_SHA256_H
#define SUMMIT_IO_SHA256_H
/* SHA-256 (FIPS 180-4), self-contained: the journal, the pins, the audit
 * chain and start signatures hash with it on every run. OpenSSL's EVP
 * digests cost a run ~1.3 ms on their first call (config file, providers,
 * name tables: docs/performance.md), several times the hashing itself.
 * Blocks use the CPU's SHA extensions when it has them (sha256.c). */
#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t h[8];
  uint64_t len;            /* bytes hashed so far */
  unsigned char buf[64];   /* a partial block */
  size_t nbuf;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
void sha256_final(sha256_ctx *c, unsigned char md[32]);
/* md of data, in one call */
void sha256(const void *data, size_t len, unsigned char md[32]);
/* HMAC-SHA-256 (RFC 2104) of data under key */
void hmac_sha256(const void *key, size_t klen, const void *data, size_t dlen,
                 unsigned char md[32]);
/* md as 64 lower-case hex digits and a NUL */
void sha256_hex(const unsigned char md[32], char out[65]);

#endif
