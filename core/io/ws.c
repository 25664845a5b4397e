/* RFC 6455 framing (see ws.h).
 *
 * The decoder is a two-state machine: it collects a frame header (2 to 14
 * bytes, validated as soon as its first two bytes are in, so a bad frame
 * fails before its payload arrives), then the payload, unmasked on the
 * fly. Data frame payloads go straight into the message buffer (reserved
 * for the whole frame once its length is known and checked against the
 * maximum); control frames (at most 125 bytes) into a small fixed buffer.
 * A message is delivered when its final fragment completes. */
#include "io/ws.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "io/base64.h"
#include "io/sha1.h"

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

size_t ws_encode(uint8_t *out, int fin, int opcode, const void *data,
                 size_t len, const uint8_t *key) {
  assert(out && (data || len == 0) && opcode == (opcode & 0x0f));
  size_t h = 0;
  out[h++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
  uint8_t mbit = key ? 0x80 : 0;
  if (len < 126) {
    out[h++] = (uint8_t)(mbit | len);
  } else if (len <= 0xffff) {
    out[h++] = (uint8_t)(mbit | 126);
    out[h++] = (uint8_t)(len >> 8);
    out[h++] = (uint8_t)len;
  } else {
    out[h++] = (uint8_t)(mbit | 127);
    uint64_t l = len;
    for (int i = 7; i >= 0; i--) out[h++] = (uint8_t)(l >> (8 * i));
  }
  if (key) {
    memcpy(out + h, key, 4);
    h += 4;
  }
  if (len) memcpy(out + h, data, len);
  if (key)
    for (size_t i = 0; i < len; i++) out[h + i] ^= key[i & 3];
  return h + len;
}

int ws_mask_key(uint8_t key[4]) {
  return uv_random(NULL, NULL, key, 4, 0, NULL);
}

void ws_decoder_init(ws_decoder *d, size_t max, int masked) {
  memset(d, 0, sizeof *d);
  d->max = max ? max : WS_DEFAULT_MAX;
  d->masked = masked;
}

void ws_decoder_free(ws_decoder *d) {
  free(d->msg);
  d->msg = NULL;
  d->msg_len = d->msg_cap = 0;
}

static int is_control(int op) { return op >= 0x8; }

static int valid_close_code(int code) {
  if (code >= 3000 && code <= 4999) return 1;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011);
}

int ws_close_code(const char *data, size_t len) {
  if (len < 2) return 1005;
  return ((unsigned char)data[0] << 8) | (unsigned char)data[1];
}

/* Header bytes needed once the first two are known. */
static size_t header_size(const uint8_t *h) {
  size_t l7 = h[1] & 0x7f;
  return 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + (h[1] & 0x80 ? 4 : 0);
}

/* Checks the first two header bytes. */
static int check_start(ws_decoder *d) {
  int b0 = d->hdr[0], b1 = d->hdr[1];
  int op = b0 & 0x0f, fin = (b0 & 0x80) != 0;
  if (b0 & 0x70) return WS_EPROTO;                  /* RSV: no extensions */
  if (op > 0xA || (op > 0x2 && op < 0x8)) return WS_EPROTO;
  int masked = (b1 & 0x80) != 0;
  if (d->masked >= 0 && masked != d->masked) return WS_EPROTO;
  if (is_control(op)) {
    if (!fin || (b1 & 0x7f) > 125) return WS_EPROTO;
  } else if (op == WS_OP_CONT) {
    if (!d->msg_op) return WS_EPROTO;              /* nothing to continue */
  } else if (d->msg_op) {
    return WS_EPROTO;                              /* unfinished message */
  }
  return 0;
}

/* The whole header is in: lengths, key, buffer. */
static int begin_payload(ws_decoder *d) {
  assert(!d->in_payload && d->hlen == header_size(d->hdr));
  const uint8_t *h = d->hdr;
  size_t l7 = h[1] & 0x7f, i = 2;
  uint64_t len = l7;
  if (l7 == 126) {
    len = ((uint64_t)h[2] << 8) | h[3];
    i = 4;
  } else if (l7 == 127) {
    len = 0;
    for (int k = 0; k < 8; k++) len = (len << 8) | h[2 + k];
    if (len >> 63) return WS_EPROTO;
    i = 10;
  }
  d->has_key = (h[1] & 0x80) != 0;
  if (d->has_key) memcpy(d->key, h + i, 4);
  d->fin = (h[0] & 0x80) != 0;
  d->opcode = h[0] & 0x0f;
  d->left = len;
  d->pos = 0;
  d->in_payload = 1;
  if (is_control(d->opcode)) {
    d->ctl_len = 0;
    return 0;
  }
  if (d->opcode != WS_OP_CONT) {
    d->msg_op = d->opcode;
    d->msg_len = 0;
  }
  if (len > d->max || d->msg_len > d->max - (size_t)len) return WS_ETOOBIG;
  size_t want = d->msg_len + (size_t)len + 1;
  if (want > d->msg_cap) {
    char *p = realloc(d->msg, want);
    if (!p) return WS_ENOMEM;
    d->msg = p;
    d->msg_cap = want;
  }
  return 0;
}

/* The frame's payload is complete: deliver what it finishes. */
static int end_frame(ws_decoder *d, ws_frame_cb cb, void *ud) {
  assert(d->in_payload && d->left == 0);
  d->in_payload = 0;
  d->hlen = 0;
  if (is_control(d->opcode)) {
    d->ctl[d->ctl_len] = '\0';
    if (d->opcode == WS_OP_CLOSE &&
        (d->ctl_len == 1 ||
         (d->ctl_len >= 2 && !valid_close_code(ws_close_code(d->ctl, 2)))))
      return WS_EPROTO;
    return cb(ud, d->opcode, d->ctl, d->ctl_len);
  }
  if (!d->fin) return 0;
  int op = d->msg_op;
  d->msg_op = 0;
  d->msg[d->msg_len] = '\0';
  return cb(ud, op, d->msg, d->msg_len);
}

int ws_decode(ws_decoder *d, const char *data, size_t len, ws_frame_cb cb,
              void *ud) {
  size_t i = 0;
  int rc;
  if (d->err) return d->err;
  while (i < len || (d->in_payload && d->left == 0)) {
    if (!d->in_payload) {
      if (d->hlen < 2) {
        while (d->hlen < 2 && i < len) d->hdr[d->hlen++] = (uint8_t)data[i++];
        if (d->hlen < 2) break;
        if ((rc = check_start(d)) != 0) goto failed;
      }
      size_t need = header_size(d->hdr);
      while (d->hlen < need && i < len) d->hdr[d->hlen++] = (uint8_t)data[i++];
      if (d->hlen < need) break;
      if ((rc = begin_payload(d)) != 0) goto failed;
      continue;
    }
    size_t k = len - i;
    if ((uint64_t)k > d->left) k = (size_t)d->left;
    char *dst = is_control(d->opcode) ? d->ctl + d->ctl_len
                                      : d->msg + d->msg_len;
    /* check_start bounds a control payload, begin_payload reserved the
     * message's room (and its NUL). */
    assert(is_control(d->opcode) ? d->ctl_len + k < sizeof d->ctl
                                 : d->msg_len + k < d->msg_cap);
    if (k) memcpy(dst, data + i, k);
    if (d->has_key)
      for (size_t j = 0; j < k; j++) dst[j] ^= (char)d->key[(d->pos + j) & 3];
    if (is_control(d->opcode)) d->ctl_len += k;
    else d->msg_len += k;
    d->pos += k;
    d->left -= k;
    i += k;
    if (d->left == 0) {
      rc = end_frame(d, cb, ud);
      if (rc < 0) goto failed;
      if (rc) return rc;
    }
  }
  return 0;
failed:
  d->err = rc;
  return rc;
}

int ws_accept(const char *key, char out[29]) {
  unsigned char md[20];
  size_t kl = strlen(key);
  char *buf = malloc(kl + sizeof GUID);
  if (!buf) return -1;
  memcpy(buf, key, kl);
  memcpy(buf + kl, GUID, sizeof GUID);
  sm_sha1(buf, kl + sizeof GUID - 1, md);
  free(buf);
  base64_encode(out, md, 20);   /* 28 chars + NUL */
  return 0;
}
