/* summit store show | migrate --to URL: which store the commands use, and
 * copying a SQLite state into a team's PostgreSQL (docs/team.md). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "io/term.h"
#include "store/store.h"

static void copied(void *ud, const char *table, int64_t rows) {
  (void)ud;
  printf("  %-12s %lld rows\n", table, (long long)rows);
}

static int migrate(int argc, char **argv) {
  const char *to = NULL, *from = NULL;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--to") && i + 1 < argc) to = argv[++i];
    else if (!strcmp(argv[i], "--from") && i + 1 < argc) from = argv[++i];
    else if (!strcmp(argv[i], "--to") || !strcmp(argv[i], "--from"))
      return cli_usage("store", "%s needs a value", argv[i]);
    else
      return cli_usage("store", "migrate: unknown argument '%s'",
                       term_str(argv[i]));
  }
  if (!to) return cli_usage("store", "migrate: where to? --to URL");
  char src[4200], err[1024];
  if (from) snprintf(src, sizeof src, "%s", from);
  else store_target(cli_state_dir(), src, sizeof src);
  if (store_is_url(src) && store_is_url(to) && !strcmp(src, to))
    return cli_usage("store", "migrate: --to is the store itself");
  store_t *a = store_open(src, 0, STORE_DURABILITY_FULL, err, sizeof err);
  if (!a) {
    fprintf(stderr, "summit store: %s\n", term_str(err));
    return EXIT_FAILED;
  }
  store_t *b = store_open(to, 1, STORE_DURABILITY_FULL, err, sizeof err);
  if (!b) {
    fprintf(stderr, "summit store: %s\n", term_str(err));
    store_close(a);
    return EXIT_FAILED;
  }
  printf("copying %s (%s) into %s (%s)\n", term_str(store_name(a)),
         store_kind(a), term_str(store_name(b)), store_kind(b));
  int rc = store_copy(a, b, copied, NULL, err, sizeof err);
  if (rc != STORE_OK) {
    fprintf(stderr, "summit store: nothing was copied: %s\n", term_str(err));
  } else {
    printf("done; check it with: SUMMIT_STORE=%s summit audit verify\n",
           term_str(store_name(b)));
  }
  store_close(b);
  store_close(a);
  return rc == STORE_OK ? EXIT_OK : EXIT_FAILED;
}

static int show(int argc, char **argv) {
  if (argc) return cli_usage("store", "show: unknown argument '%s'",
                             term_str(argv[0]));
  char target[4200], err[1024];
  store_target(cli_state_dir(), target, sizeof target);
  store_t *s = store_open(target, 0, STORE_DURABILITY_FULL, err, sizeof err);
  if (!s) {
    fprintf(stderr, "summit store: %s\n", term_str(err));
    return EXIT_FAILED;
  }
  printf("%s %s (schema %d)\n", store_kind(s), term_str(store_name(s)),
         store_schema_version());
  store_close(s);
  return EXIT_OK;
}

int cmd_store(int argc, char **argv) {
  if (argc < 1)
    return cli_usage("store", "which? summit store show | migrate --to URL");
  if (!strcmp(argv[0], "migrate")) return migrate(argc - 1, argv + 1);
  if (!strcmp(argv[0], "show")) return show(argc - 1, argv + 1);
  return cli_usage("store", "unknown subcommand '%s' (show, migrate)",
                   term_str(argv[0]));
}
