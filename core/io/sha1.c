/* SHA-1 through Nettle (sha1.h). */
#include "io/sha1.h"

#include <nettle/sha1.h>

void sm_sha1(const void *data, size_t len, unsigned char md[20]) {
  struct sha1_ctx c;
  sha1_init(&c);
  sha1_update(&c, len, data);
  sha1_digest(&c, SHA1_DIGEST_SIZE, md);
}
