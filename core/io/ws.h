#ifndef SUMMIT_IO_WS_H
#define SUMMIT_IO_WS_H
/* RFC 6455 WebSocket framing, for Kubernetes' exec protocol
 * (v5.channel.k8s.io / v4.channel.k8s.io) on both sides: the simulated API
 * server and summit's cluster client. Frames are encoded into a caller's
 * buffer; an incremental decoder takes bytes in arbitrary chunks and hands
 * back whole messages (fragments joined) and control frames. Payloads are
 * capped so a peer cannot make us buffer without bound. Also the
 * Sec-WebSocket-Accept computation. Knows nothing of Lua or the loop
 * (uv_random only, for mask keys). No extensions (no permessage-deflate),
 * and text messages are not checked for UTF-8. */
#include <stddef.h>
#include <stdint.h>

#define WS_MAX_HEADER 14                     /* 2 + 8 length + 4 mask */
#define WS_DEFAULT_MAX ((size_t)16 << 20)    /* 16 MiB per message */

enum {
  WS_OP_CONT = 0x0,
  WS_OP_TEXT = 0x1,
  WS_OP_BINARY = 0x2,
  WS_OP_CLOSE = 0x8,
  WS_OP_PING = 0x9,
  WS_OP_PONG = 0xA
};

enum {
  WS_EPROTO = -1,     /* a frame broke RFC 6455 (close code 1002) */
  WS_ETOOBIG = -2,    /* a message exceeded the maximum (close code 1009) */
  WS_ENOMEM = -3
};

/* Encodes one frame into out, which has room for len + WS_MAX_HEADER
 * bytes; returns the frame's length. key: the 4-byte masking key (a
 * client must mask every frame), or NULL for an unmasked (server) frame.
 * data may be NULL when len is 0. */
size_t ws_encode(uint8_t *out, int fin, int opcode, const void *data,
                 size_t len, const uint8_t *key);

/* Fills key with 4 random bytes (uv_random). Returns 0 or a libuv error. */
int ws_mask_key(uint8_t key[4]);

/* Called once per whole message (opcode TEXT or BINARY, fragments joined)
 * and per control frame (CLOSE, PING, PONG). data is owned by the decoder
 * and valid only during the call; it is followed by a NUL not counted in
 * len. Return 0 to go on, a positive value to stop: ws_decode returns it
 * at once and the rest of its input is dropped. */
typedef int (*ws_frame_cb)(void *ud, int opcode, const char *data,
                           size_t len);

typedef struct {
  size_t max;          /* longest message accepted */
  int masked;          /* frames must be masked (1), must not be (0), -1 any */
  int err;             /* sticky WS_E* */
  uint8_t hdr[WS_MAX_HEADER];
  size_t hlen;         /* header bytes collected */
  int in_payload;
  int fin, opcode;
  uint8_t key[4];
  int has_key;
  uint64_t left;       /* payload bytes still to come */
  size_t pos;          /* payload bytes of this frame so far (mask index) */
  char ctl[126];       /* a control frame's payload */
  size_t ctl_len;
  char *msg;           /* the data message being assembled */
  size_t msg_len, msg_cap;
  int msg_op;          /* its opcode; 0 when no message is open */
} ws_decoder;

/* Prepares d: max 0 means WS_DEFAULT_MAX; masked as above (a server
 * requires 1, a client 0). Release with ws_decoder_free. */
void ws_decoder_init(ws_decoder *d, size_t max, int masked);
void ws_decoder_free(ws_decoder *d);

/* Decodes len bytes and calls cb for each message or control frame
 * completed. Returns 0, a WS_E* error (sticky: every later call returns it
 * too), or the callback's positive value. A close frame's payload is
 * checked (no 1-byte payload, a valid code). */
int ws_decode(ws_decoder *d, const char *data, size_t len, ws_frame_cb cb,
              void *ud);

/* The status code of a close frame's payload: 1005 (none) when empty. */
int ws_close_code(const char *data, size_t len);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key GUID)),
 * 28 characters and a NUL into out. Returns 0, -1 on an OpenSSL failure. */
int ws_accept(const char *key, char out[29]);

#endif
