/* Fuzz regressions: every file under tests/unit/fuzz_regress/<target>/
 * (crashes the fuzzers found, minimized, and a sample of the corpora they
 * grew) is fed to the very harness the fuzzer ran, bench/fuzz/<target>.c,
 * included here with its entry point renamed. The harnesses abort on any
 * broken invariant (fuzz_lines compares against a reference splitter), so
 * under ASan/UBSan a regression is a crashed test. Run with --verbose to
 * see which file is being fed. $SUMMIT_FUZZ_REGRESS overrides the folder. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LLVMFuzzerTestOneInput fuzz_kubeconfig_one
#include "../../bench/fuzz/fuzz_kubeconfig.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_lines_one
#include "../../bench/fuzz/fuzz_lines.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_ws_one
#define record fuzz_ws_record
#include "../../bench/fuzz/fuzz_ws.c"
#undef record
#undef LLVMFuzzerTestOneInput

/* The fuzz_regress folder: next to this source file. */
static void regress_dir(const char *target, char *out, size_t len) {
  const char *env = getenv("SUMMIT_FUZZ_REGRESS");
  if (env && *env) {
    snprintf(out, len, "%s/%s", env, target);
    return;
  }
  char here[PATH_MAX];
  snprintf(here, sizeof here, "%s", __FILE__);
  char *slash = strrchr(here, '/');
  if (slash) *slash = '\0';
  else snprintf(here, sizeof here, ".");
  int n = snprintf(out, len, "%s/fuzz_regress/%s", here, target);
  cr_assert(n > 0 && (size_t)n < len, "the regress path is too long");
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Feeds every regular file of the target's folder to fn, in name order.
 * Returns how many were fed. */
static size_t feed_all(const char *target,
                       int (*fn)(const uint8_t *, size_t)) {
  char folder[PATH_MAX], path[PATH_MAX + 256];
  regress_dir(target, folder, sizeof folder);
  DIR *d = opendir(folder);
  cr_assert_not_null(d, "cannot open %s", folder);
  char **names = NULL;
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    names = realloc(names, (n + 1) * sizeof *names);
    names[n++] = strdup(de->d_name);
  }
  closedir(d);
  if (n) qsort(names, n, sizeof *names, name_cmp);
  for (size_t i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", folder, names[i]);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    /* An exact-size heap copy, so ASan sees any read past the end. */
    uint8_t *buf = malloc(size > 0 ? (size_t)size : 1);
    size_t got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    cr_assert_eq(got, (size_t)size, "%s", path);
    cr_log_info("%s: %s (%ld bytes)", target, names[i], size);
    fn(buf, got);
    free(buf);
    free(names[i]);
  }
  free(names);
  return n;
}

Test(fuzz_regress, kubeconfig, .timeout = 60) {
  size_t n = feed_all("fuzz_kubeconfig", fuzz_kubeconfig_one);
  cr_assert_gt(n, 0, "no regression inputs found");
}

Test(fuzz_regress, lines, .timeout = 60) {
  size_t n = feed_all("fuzz_lines", fuzz_lines_one);
  cr_assert_gt(n, 0, "no regression inputs found");
}

Test(fuzz_regress, ws, .timeout = 60) {
  size_t n = feed_all("fuzz_ws", fuzz_ws_one);
  cr_assert_gt(n, 0, "no regression inputs found");
}
