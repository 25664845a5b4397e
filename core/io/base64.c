/* Standard base64 through Nettle, with a strict shape check of our own
 * (see base64.h): Nettle's decoder skips whitespace, which a signature or
 * a WebSocket key must not contain. */
#include "io/base64.h"

#include <nettle/base64.h>
#include <string.h>

size_t base64_encode(char *out, const void *in, size_t n) {
  size_t len = BASE64_ENCODE_RAW_LENGTH(n);
  base64_encode_raw(out, n, in);
  out[len] = '\0';
  return len;
}

/* Only the alphabet, '=' only as the last one or two characters. */
static int strict_shape(const char *in, size_t n) {
  static const char ALPHABET[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (n % 4) return 0;
  size_t pad = 0;
  while (pad < 2 && pad < n && in[n - 1 - pad] == '=') pad++;
  for (size_t i = 0; i < n - pad; i++)
    if (!in[i] || !strchr(ALPHABET, in[i])) return 0;
  return 1;
}

long base64_decode(unsigned char *out, const char *in, size_t n) {
  if (!strict_shape(in, n)) return -1;
  struct base64_decode_ctx c;
  size_t done = n / 4 * 3;
  base64_decode_init(&c);
  if (!base64_decode_update(&c, &done, out, n, in) || !base64_decode_final(&c))
    return -1;
  return (long)done;
}
