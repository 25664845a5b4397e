/* Unit tests for core/io/ws.c: Sec-WebSocket-Accept (the RFC 6455
 * example), frame headers for payload lengths 0/125/126/65535/65536,
 * masking (encoded bytes and the round trip), a sample stream of
 * fragmented, masked and control frames decoded identically whatever the
 * split (every two-chunk split, a byte at a time), the maximum message
 * size, a callback that stops, and every protocol error (sticky). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/ws.h"

/* Collects "op:payload|" so frame boundaries show. */
typedef struct {
  char out[300000];
  size_t n;
  int calls;
  int stop_at;
} sink_t;

static int on_frame(void *ud, int op, const char *data, size_t len) {
  sink_t *s = ud;
  cr_assert_eq(data[len], '\0', "payload must be NUL-terminated");
  cr_assert_lt(s->n + len + 8, sizeof s->out);
  s->n += (size_t)sprintf(s->out + s->n, "%d:", op);
  memcpy(s->out + s->n, data, len);
  s->n += len;
  s->out[s->n++] = '|';
  s->out[s->n] = '\0';
  s->calls++;
  return s->calls == s->stop_at ? 9 : 0;
}

static const uint8_t KEY[4] = {0x37, 0xfa, 0x21, 0x3d};

Test(ws, accept_rfc_example) {
  char out[29];
  cr_assert_eq(ws_accept("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
  cr_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

Test(ws, rfc_examples) {
  /* RFC 6455 5.7: unmasked and masked "Hello". */
  uint8_t buf[32];
  size_t n = ws_encode(buf, 1, WS_OP_TEXT, "Hello", 5, NULL);
  cr_assert_eq(n, 7);
  cr_assert_eq(memcmp(buf, "\x81\x05\x48\x65\x6c\x6c\x6f", 7), 0);
  n = ws_encode(buf, 1, WS_OP_TEXT, "Hello", 5, KEY);
  cr_assert_eq(n, 11);
  cr_assert_eq(memcmp(buf, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
                      11), 0);
  sink_t *s = calloc(1, sizeof *s);
  ws_decoder d;
  ws_decoder_init(&d, 0, 1);
  cr_assert_eq(ws_decode(&d, (char *)buf, n, on_frame, s), 0);
  cr_assert_str_eq(s->out, "1:Hello|");
  ws_decoder_free(&d);
  free(s);
}

static void check_len(size_t len, size_t hdr, const uint8_t *want_hdr) {
  char *data = malloc(len + 1);
  for (size_t i = 0; i < len; i++) data[i] = (char)('a' + i % 26);
  uint8_t *buf = malloc(len + WS_MAX_HEADER);
  for (int masked = 0; masked < 2; masked++) {
    size_t n = ws_encode(buf, 1, WS_OP_BINARY, data, len,
                         masked ? KEY : NULL);
    cr_assert_eq(n, hdr + len + (masked ? 4 : 0), "len %zu", len);
    cr_assert_eq(buf[0], 0x82);
    cr_assert_eq(buf[1] & 0x80, masked ? 0x80 : 0);
    cr_assert_eq(buf[1] & 0x7f, want_hdr[0]);
    cr_assert_eq(memcmp(buf + 2, want_hdr + 1, hdr - 2), 0, "len %zu", len);
    ws_decoder d;
    ws_decoder_init(&d, 70000, masked);
    sink_t *s = calloc(1, sizeof *s);
    cr_assert_eq(ws_decode(&d, (char *)buf, n, on_frame, s), 0);
    cr_assert_eq(s->calls, 1);
    cr_assert_eq(s->n, len + 3);
    cr_assert_eq(memcmp(s->out + 2, data, len), 0, "len %zu", len);
    ws_decoder_free(&d);
    free(s);
  }
  free(buf);
  free(data);
}

Test(ws, lengths) {
  check_len(0, 2, (const uint8_t *)"\x00");
  check_len(125, 2, (const uint8_t *)"\x7d");
  check_len(126, 4, (const uint8_t *)"\x7e\x00\x7e");
  check_len(65535, 4, (const uint8_t *)"\x7e\xff\xff");
  check_len(65536, 10,
            (const uint8_t *)"\x7f\x00\x00\x00\x00\x00\x01\x00\x00");
}

/* Eight keys from the generator are not all the same (a constant key
 * would pass any one-key check). */
Test(ws, random_key) {
  uint8_t first[4], k[4];
  int differ = 0;
  cr_assert_eq(ws_mask_key(first), 0);
  for (int i = 0; i < 8; i++) {
    cr_assert_eq(ws_mask_key(k), 0);
    if (memcmp(first, k, 4) != 0) differ = 1;
  }
  cr_assert(differ, "eight mask keys were all equal to the first");
}

/* A stream a server decodes: masked text, a fragmented binary message
 * with a ping between its fragments, an empty message, a 300-byte
 * message (16-bit length), a close with code 1000. */
static size_t sample(uint8_t *out, char *want) {
  size_t n = 0;
  static char big[301];
  memset(big, 'x', 300);
  n += ws_encode(out + n, 1, WS_OP_TEXT, "hi", 2, KEY);
  n += ws_encode(out + n, 0, WS_OP_BINARY, "\x01one", 4, KEY);
  n += ws_encode(out + n, 1, WS_OP_PING, "p", 1, KEY);
  n += ws_encode(out + n, 0, WS_OP_CONT, "-two", 4, KEY);
  n += ws_encode(out + n, 1, WS_OP_CONT, "-three", 6, KEY);
  n += ws_encode(out + n, 1, WS_OP_BINARY, NULL, 0, KEY);
  n += ws_encode(out + n, 1, WS_OP_BINARY, big, 300, KEY);
  n += ws_encode(out + n, 1, WS_OP_CLOSE, "\x03\xe8" "bye", 5, KEY);
  sprintf(want, "1:hi|9:p|2:\x01one-two-three|2:|2:%s|8:\x03\xe8" "bye|",
          big);
  return n;
}

Test(ws, every_split) {
  uint8_t stream[1024];
  char want[1024];
  size_t n = sample(stream, want);
  size_t want_len = strlen(want);
  sink_t *s = calloc(1, sizeof *s);
  for (size_t cut = 0; cut <= n; cut++) {
    ws_decoder d;
    ws_decoder_init(&d, 0, 1);
    memset(s, 0, sizeof *s);
    cr_assert_eq(ws_decode(&d, (char *)stream, cut, on_frame, s), 0);
    cr_assert_eq(ws_decode(&d, (char *)stream + cut, n - cut, on_frame, s),
                 0);
    cr_assert_eq(s->n, want_len, "split at %zu", cut);
    cr_assert_eq(memcmp(s->out, want, want_len), 0, "split at %zu", cut);
    ws_decoder_free(&d);
  }
  ws_decoder d;
  ws_decoder_init(&d, 0, 1);
  memset(s, 0, sizeof *s);
  for (size_t i = 0; i < n; i++)
    cr_assert_eq(ws_decode(&d, (char *)stream + i, 1, on_frame, s), 0);
  cr_assert_eq(memcmp(s->out, want, want_len), 0);
  ws_decoder_free(&d);
  free(s);
}

Test(ws, callback_stops) {
  uint8_t stream[1024];
  char want[1024];
  size_t n = sample(stream, want);
  sink_t *s = calloc(1, sizeof *s);
  s->stop_at = 2;
  ws_decoder d;
  ws_decoder_init(&d, 0, -1);
  cr_assert_eq(ws_decode(&d, (char *)stream, n, on_frame, s), 9);
  cr_assert_str_eq(s->out, "1:hi|9:p|");
  ws_decoder_free(&d);
  free(s);
}

Test(ws, max_message) {
  uint8_t buf[64];
  ws_decoder d;
  sink_t *s = calloc(1, sizeof *s);
  ws_decoder_init(&d, 8, 0);
  size_t n = ws_encode(buf, 1, WS_OP_TEXT, "12345678", 8, NULL);
  cr_assert_eq(ws_decode(&d, (char *)buf, n, on_frame, s), 0);
  /* Two fragments of 5: each fits, the message does not. */
  n = ws_encode(buf, 0, WS_OP_TEXT, "12345", 5, NULL);
  n += ws_encode(buf + n, 1, WS_OP_CONT, "12345", 5, NULL);
  cr_assert_eq(ws_decode(&d, (char *)buf, n, on_frame, s), WS_ETOOBIG);
  cr_assert_eq(ws_decode(&d, "", 0, on_frame, s), WS_ETOOBIG, "sticky");
  ws_decoder_free(&d);
  /* Refused from the header alone, before the payload arrives. */
  ws_decoder_init(&d, 8, 0);
  n = ws_encode(buf, 1, WS_OP_TEXT, "123456789", 9, NULL);
  cr_assert_eq(ws_decode(&d, (char *)buf, 2, on_frame, s), WS_ETOOBIG);
  ws_decoder_free(&d);
  free(s);
}

static int decode_raw(const char *bytes, size_t n, int masked) {
  ws_decoder d;
  sink_t *s = calloc(1, sizeof *s);
  ws_decoder_init(&d, 0, masked);
  int rc = ws_decode(&d, bytes, n, on_frame, s);
  ws_decoder_free(&d);
  free(s);
  return rc;
}

Test(ws, protocol_errors) {
  cr_assert_eq(decode_raw("\xc1\x00", 2, 0), WS_EPROTO, "RSV1");
  cr_assert_eq(decode_raw("\x83\x00", 2, 0), WS_EPROTO, "opcode 3");
  cr_assert_eq(decode_raw("\x8b\x00", 2, 0), WS_EPROTO, "opcode 0xB");
  cr_assert_eq(decode_raw("\x89\x7e\x00\x7e", 4, 0), WS_EPROTO,
               "control > 125");
  cr_assert_eq(decode_raw("\x09\x00", 2, 0), WS_EPROTO, "fragmented ping");
  cr_assert_eq(decode_raw("\x80\x00", 2, 0), WS_EPROTO, "lone CONT");
  cr_assert_eq(decode_raw("\x01\x00\x81\x00", 4, 0), WS_EPROTO,
               "new message inside a fragmented one");
  cr_assert_eq(decode_raw("\x81\x00", 2, 1), WS_EPROTO, "server: unmasked");
  cr_assert_eq(decode_raw("\x81\x80\x01\x02\x03\x04", 6, 0), WS_EPROTO,
               "client: masked");
  cr_assert_eq(decode_raw("\x88\x01\x03", 3, 0), WS_EPROTO, "1-byte close");
  cr_assert_eq(decode_raw("\x88\x02\x03\xed", 4, 0), WS_EPROTO,
               "close 1005 on the wire");
  cr_assert_eq(decode_raw("\x88\x02\x03\xe8", 4, 0), 0, "close 1000");
  cr_assert_eq(decode_raw("\x88\x02\x0f\xa0", 4, 0), 0, "close 4000");
  cr_assert_eq(decode_raw("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 10,
                          0), WS_EPROTO, "64-bit length MSB");
  cr_assert_eq(decode_raw("\x82\x7f\x00\x00\x00\x01\x00\x00\x00\x00", 10,
                          0), WS_ETOOBIG, "4 GiB");
  cr_assert_eq(ws_close_code("", 0), 1005);
  cr_assert_eq(ws_close_code("\x03\xe9", 2), 1001);
}
