/* libFuzzer target for core/io/ws.c.
 *
 * Input: byte 0 picks the masking rule (masked, unmasked, either) and the
 * maximum message size (1..64, or the default), byte 1 seeds the chunk
 * sizes, the rest is the stream. The stream is decoded twice, in one call
 * and in pseudo-random chunks: the messages delivered and the error must
 * be the same either way, whatever the chunking, and no message may
 * exceed the maximum. Every message is also re-encoded (masked) and
 * decoded again, which must give it back. Any difference aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunks.h"
#include "io/ws.h"

typedef struct {
  char *out;
  size_t n, cap;
  size_t max;
} rec_t;

static int record(void *ud, int op, const char *data, size_t len) {
  rec_t *r = ud;
  if (data[len] != '\0') abort();
  if (op < 0x8 && len > r->max) abort();
  if (op >= 0x8 && len > 125) abort();
  if (r->n + len + 16 > r->cap) {
    r->cap = (r->n + len + 16) * 2;
    r->out = realloc(r->out, r->cap);
  }
  r->out[r->n++] = (char)op;
  memcpy(r->out + r->n, &len, sizeof len);
  r->n += sizeof len;
  memcpy(r->out + r->n, data, len);
  r->n += len;
  return 0;
}

typedef struct {
  int op;
  const char *data;
  size_t len;
  int seen;
} echo_t;

static int echo(void *ud, int op, const char *data, size_t len) {
  echo_t *e = ud;
  if (op != e->op || len != e->len || memcmp(data, e->data, len)) abort();
  e->seen++;
  return 0;
}

static int roundtrip(void *ud, int op, const char *data, size_t len) {
  static const uint8_t key[4] = {1, 2, 3, 4};
  size_t max = *(size_t *)ud;
  uint8_t *buf = malloc(len + WS_MAX_HEADER);
  size_t n = ws_encode(buf, 1, op, data, len, key);
  ws_decoder d;
  ws_decoder_init(&d, max, 1);
  echo_t e = {op, data, len, 0};
  if (ws_decode(&d, (char *)buf, n, echo, &e) != 0 || e.seen != 1) abort();
  ws_decoder_free(&d);
  free(buf);
  return 0;
}

typedef struct {
  ws_decoder *d;
  rec_t *rec;
} parts_t;

static int decode_part(void *ud, const char *p, size_t len) {
  parts_t *pt = ud;
  return ws_decode(pt->d, p, len, record, pt->rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  int masked = data[0] % 3 - 1;
  size_t max = (data[0] / 3) % 65;
  unsigned seed = data[1];
  const char *s = (const char *)data + 2;
  size_t n = size - 2;

  ws_decoder whole, parts;
  ws_decoder_init(&whole, max, masked);
  ws_decoder_init(&parts, max, masked);
  max = whole.max;
  rec_t a = {NULL, 0, 0, max}, b = {NULL, 0, 0, max};
  int rc_a = ws_decode(&whole, s, n, record, &a);
  parts_t pb = {&parts, &b};
  int rc_b = fuzz_feed_chunks(seed, 23, s, n, decode_part, &pb);
  if (rc_a != rc_b || a.n != b.n || (a.n && memcmp(a.out, b.out, a.n)))
    abort();
  if (rc_a && ws_decode(&whole, "", 0, record, &a) != rc_a) abort();
  ws_decoder_free(&whole);
  ws_decoder_free(&parts);

  ws_decoder_init(&whole, max, masked);
  ws_decode(&whole, s, n, roundtrip, &max);
  ws_decoder_free(&whole);
  free(a.out);
  free(b.out);
  return 0;
}
