#ifndef SUMMIT_IO_SHA1_H
#define SUMMIT_IO_SHA1_H
/* SHA-1 by Nettle, only for the WebSocket handshake's
 * Sec-WebSocket-Accept (RFC 6455 §4.2.2), where the protocol fixes it. */
#include <stddef.h>

void sm_sha1(const void *data, size_t len, unsigned char md[20]);

#endif
