/* libFuzzer target for core/io/kubeconfig.c. The input is parsed as a
 * kubeconfig file (YAML or JSON) named /fuzz/dir/config, so relative-path
 * resolution runs too; every context it defines, and the current one, is
 * resolved; a connection with an exec plugin also builds its
 * KUBERNETES_EXEC_INFO. The same bytes are then parsed as an exec plugin's
 * ExecCredential output and as an RFC 3339 timestamp. An input holding
 * "\n#%%\n" lines is also cut there into up to three files, written to a
 * private temporary directory and merged with kubeconfig_load. Nothing
 * here reads files named by the input (a fuzzed path like /dev/stdin would
 * block).
 * Run by bench/fuzz/run.sh; regressions live in tests/unit/fuzz_regress/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/kubeconfig.h"
#include "io/rfc3339.h"

static void check_err(const char *err) {
  /* Every failure must say something, NUL-terminated within the buffer. */
  if (err[0] == '\0') abort();
}

static void resolve_one(const kubeconfig *kc, const char *ctx) {
  char err[512];
  kube_conn c;
  err[0] = '\0';
  if (kubeconfig_resolve(kc, ctx, &c, err, sizeof err) != 0) {
    check_err(err);
    if (c.server || c.source) abort();   /* zeroed on failure */
    return;
  }
  if (!c.server || !c.ns || !c.source) abort();
  if (c.ca_data && strlen(c.ca_data) > c.ca_data_len) abort();
  kube_conn_free(&c);
}

static void resolve_all(kubeconfig *kc, const char *err) {
  if (!kc) {
    check_err(err);
    return;
  }
  resolve_one(kc, NULL);
  size_t n = kubeconfig_context_count(kc);
  for (size_t i = 0; i < n && i < 64; i++)
    resolve_one(kc, kubeconfig_context_name(kc, i));
  kubeconfig_free(kc);
}

/* Cuts the input at "\n#%%\n" into files a, b, c of a temporary directory
 * (made once per process) and loads them merged, with a missing file in
 * the list. */
static char dir[64];

static void remove_dir(void) {
  rmdir(dir);
}

static void merge_files(const char *data, size_t size) {
  static const char sep[] = "\n#%%\n";
  const char *cut = memmem(data, size, sep, sizeof sep - 1);
  if (!cut) return;
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "/tmp/fuzz-kc-XXXXXX");
    if (!mkdtemp(dir)) abort();
    atexit(remove_dir);
  }
  char names[4][96];
  const char *paths[4];
  size_t n = 0, off = 0;
  while (n < 3) {
    const char *p = n < 2 ? memmem(data + off, size - off, sep,
                                   sizeof sep - 1) : NULL;
    size_t len = p ? (size_t)(p - (data + off)) : size - off;
    snprintf(names[n], sizeof names[n], "%s/%c", dir, 'a' + (int)n);
    FILE *f = fopen(names[n], "wb");
    if (!f) abort();
    if (len) fwrite(data + off, 1, len, f);
    fclose(f);
    paths[n] = names[n];
    n++;
    if (!p) break;
    off += len + sizeof sep - 1;
  }
  snprintf(names[n], sizeof names[n], "%s/missing", dir);
  paths[n] = names[n];
  char err[512];
  err[0] = '\0';
  resolve_all(kubeconfig_load(paths, n + 1, err, sizeof err), err);
  for (size_t i = 0; i < n; i++) unlink(names[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  err[0] = '\0';
  resolve_all(kubeconfig_parse((const char *)data, size, "/fuzz/dir/config",
                               err, sizeof err), err);
  merge_files((const char *)data, size);

  kube_credential cr;
  err[0] = '\0';
  if (kube_exec_credential_parse((const char *)data, size, &cr, err,
                                 sizeof err) == 0) {
    if (!cr.token && !(cr.client_cert_data && cr.client_key_data)) abort();
    kube_credential_free(&cr);
  } else {
    check_err(err);
  }

  char ts[64];
  size_t n = size < sizeof ts - 1 ? size : sizeof ts - 1;
  memcpy(ts, data, n);
  ts[n] = '\0';
  int64_t ms;
  (void)rfc3339_parse_ms(ts, 0, &ms);
  (void)rfc3339_parse_ms(ts, RFC3339_LENIENT, &ms);
  return 0;
}
