/* SHA-256 and HMAC-SHA-256 through Nettle (sha256.h says why). */
#include "io/sha256.h"

#include <nettle/hmac.h>

void sm_sha256_init(sm_sha256_ctx *c) { sha256_init(c); }

void sm_sha256_update(sm_sha256_ctx *c, const void *data, size_t len) {
  sha256_update(c, len, data);
}

void sm_sha256_final(sm_sha256_ctx *c, unsigned char md[32]) {
  sha256_digest(c, SHA256_DIGEST_SIZE, md);
}

void sm_sha256(const void *data, size_t len, unsigned char md[32]) {
  struct sha256_ctx c;
  sha256_init(&c);
  sha256_update(&c, len, data);
  sha256_digest(&c, SHA256_DIGEST_SIZE, md);
}

void sm_hmac_sha256(const void *key, size_t klen, const void *data,
                    size_t dlen, unsigned char md[32]) {
  struct hmac_sha256_ctx c;
  hmac_sha256_set_key(&c, klen, key);
  hmac_sha256_update(&c, dlen, data);
  hmac_sha256_digest(&c, SHA256_DIGEST_SIZE, md);
}

void sha256_hex(const unsigned char md[32], char out[65]) {
  static const char HEX[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[2 * i] = HEX[md[i] >> 4];
    out[2 * i + 1] = HEX[md[i] & 15];
  }
  out[64] = '\0';
}
