/* SHA-1 of one buffer, for the WebSocket handshake (see sha1.h). */
#include "io/sha1.h"

#include <stdint.h>
#include <string.h>

#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

static void block(uint32_t h[5], const unsigned char *p) {
  uint32_t w[80];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
           (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
  for (int i = 16; i < 80; i++)
    w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  for (int i = 0; i < 80; i++) {
    uint32_t f, k;
    if (i < 20) f = (b & c) | (~b & d), k = 0x5a827999;
    else if (i < 40) f = b ^ c ^ d, k = 0x6ed9eba1;
    else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
    else f = b ^ c ^ d, k = 0xca62c1d6;
    uint32_t t = ROL(a, 5) + f + e + k + w[i];
    e = d; d = c; c = ROL(b, 30); b = a; a = t;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

void sha1(const void *data, size_t len, unsigned char md[20]) {
  uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
                   0xc3d2e1f0};
  const unsigned char *p = data;
  size_t left = len;
  for (; left >= 64; p += 64, left -= 64) block(h, p);
  unsigned char buf[128] = {0};
  memcpy(buf, p, left);
  buf[left] = 0x80;
  size_t end = left < 56 ? 64 : 128;
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++)
    buf[end - 1 - i] = (unsigned char)(bits >> (8 * i));
  block(h, buf);
  if (end == 128) block(h, buf + 64);
  for (int i = 0; i < 5; i++) {
    md[4 * i] = (unsigned char)(h[i] >> 24);
    md[4 * i + 1] = (unsigned char)(h[i] >> 16);
    md[4 * i + 2] = (unsigned char)(h[i] >> 8);
    md[4 * i + 3] = (unsigned char)h[i];
  }
}
