/* Unit tests for core/io/sha256.c, core/io/sha1.c and core/io/base64.c,
 * summit's own digests and base64 (it links no libcrypto): published test
 * vectors, then every length from 0 to 300 bytes, and SHA-256 fed in
 * pieces, against OpenSSL's implementations (linked by the tests only). */
#include <criterion/criterion.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "io/base64.h"
#include "io/sha1.h"
#include "io/sha256.h"

static void hex(const unsigned char *md, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", md[i]);
}

Test(sha256, fips_vectors) {
  unsigned char md[32];
  char h[65];
  sm_sha256("", 0, md);
  sha256_hex(md, h);
  cr_assert_str_eq(
      h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  sm_sha256("abc", 3, md);
  sha256_hex(md, h);
  cr_assert_str_eq(
      h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  sm_sha256(two, strlen(two), md);
  sha256_hex(md, h);
  cr_assert_str_eq(
      h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(sha256, every_length_and_split_matches_openssl) {
  unsigned char buf[300];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(i * 131 + 7);
  for (size_t n = 0; n <= sizeof buf; n++) {
    unsigned char ours[32], theirs[32];
    SHA256(buf, n, theirs);
    sm_sha256(buf, n, ours);
    cr_assert_eq(memcmp(ours, theirs, 32), 0, "length %zu", n);
    /* the same bytes in three pieces, cut anywhere */
    size_t a = n / 3, b = n - n / 5;
    sm_sha256_ctx c;
    sm_sha256_init(&c);
    sm_sha256_update(&c, buf, a);
    sm_sha256_update(&c, buf + a, b - a);
    sm_sha256_update(&c, buf + b, n - b);
    sm_sha256_final(&c, ours);
    cr_assert_eq(memcmp(ours, theirs, 32), 0, "length %zu in pieces", n);
  }
}

Test(hmac_sha256, rfc4231_and_openssl) {
  unsigned char md[32], theirs[32];
  char h[65];
  /* RFC 4231 test case 2 */
  sm_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, md);
  sha256_hex(md, h);
  cr_assert_str_eq(
      h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  /* keys shorter than, as long as, and longer than a block */
  unsigned char key[150], data[200];
  for (size_t i = 0; i < sizeof key; i++) key[i] = (unsigned char)(i * 7 + 1);
  for (size_t i = 0; i < sizeof data; i++) data[i] = (unsigned char)(i * 5);
  for (size_t kl = 0; kl <= sizeof key; kl += 10) {
    for (size_t dl = 0; dl <= sizeof data; dl += 37) {
      unsigned int n = 0;
      sm_hmac_sha256(key, kl, data, dl, md);
      HMAC(EVP_sha256(), key, (int)kl, data, dl, theirs, &n);
      cr_assert_eq(n, 32u);
      cr_assert_eq(memcmp(md, theirs, 32), 0, "key %zu, data %zu", kl, dl);
    }
  }
}

Test(sha1, vectors_and_openssl) {
  unsigned char md[20], theirs[20];
  char h[41];
  sm_sha1("abc", 3, md);
  hex(md, 20, h);
  cr_assert_str_eq(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
  unsigned char buf[300];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(i * 17 + 3);
  for (size_t n = 0; n <= sizeof buf; n++) {
    sm_sha1(buf, n, md);
    SHA1(buf, n, theirs);
    cr_assert_eq(memcmp(md, theirs, 20), 0, "length %zu", n);
  }
}

Test(base64, encode_matches_openssl_and_decodes_back) {
  unsigned char buf[100], back[100];
  char ours[140], theirs[140];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(i * 77 + 1);
  for (size_t n = 0; n <= sizeof buf; n++) {
    size_t len = base64_encode(ours, buf, n);
    int tl = EVP_EncodeBlock((unsigned char *)theirs, buf, (int)n);
    cr_assert_eq(len, (size_t)tl, "length %zu", n);
    cr_assert_str_eq(ours, theirs, "length %zu", n);
    cr_assert_eq(base64_decode(back, ours, len), (long)n, "length %zu", n);
    cr_assert_eq(memcmp(back, buf, n), 0, "length %zu", n);
  }
  cr_assert_str_eq((base64_encode(ours, "foobar", 6), ours), "Zm9vYmFy");
}

Test(base64, decode_refuses_bad_input) {
  unsigned char out[16];
  cr_assert_eq(base64_decode(out, "Zm9", 3), -1, "not a multiple of 4");
  cr_assert_eq(base64_decode(out, "Zm9v!mFy", 8), -1, "a character outside");
  cr_assert_eq(base64_decode(out, "Zg==Zm9v", 8), -1, "padding in the middle");
  cr_assert_eq(base64_decode(out, "Z===", 4), -1, "three padding characters");
  cr_assert_eq(base64_decode(out, "Zg==", 4), 1);
  cr_assert_eq(out[0], 'f');
}
