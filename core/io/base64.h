#ifndef SUMMIT_IO_BASE64_H
#define SUMMIT_IO_BASE64_H
/* Standard base64 (RFC 4648 §4, padded), by Nettle, in place of OpenSSL's
 * EVP_EncodeBlock/EVP_DecodeBlock: with io/sha256.c and io/sha1.c summit
 * links no libcrypto, whose ~4,000 symbol relocations cost every process
 * ~1 ms before main() (docs/performance.md). */
#include <stddef.h>

/* Writes 4 * ((n + 2) / 3) characters and a NUL to out; returns how many
 * characters (the NUL not counted). */
size_t base64_encode(char *out, const void *in, size_t n);
/* Decodes n characters (a multiple of 4, padding '=' only at the end) into
 * out, which has room for n / 4 * 3 bytes. Returns the bytes written
 * (padding excluded), or -1 for any other character or shape. */
long base64_decode(unsigned char *out, const char *in, size_t n);

#endif
