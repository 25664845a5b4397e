#ifndef SUMMIT_IO_SHA1_H
#define SUMMIT_IO_SHA1_H
/* SHA-1 (FIPS 180-4), only for the WebSocket handshake's
 * Sec-WebSocket-Accept (RFC 6455 §4.2.2), where the protocol fixes it.
 * Ours instead of OpenSSL's for the reason of io/base64.h. */
#include <stddef.h>

void sha1(const void *data, size_t len, unsigned char md[20]);

#endif
