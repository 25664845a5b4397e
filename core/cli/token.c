/* summit token create|list|revoke: the API tokens of summit serve
 * (DESIGN §12, docs/serve.md). A token is shown once, at creation; the
 * store keeps only its SHA-256. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli/cli.h"
#include "engine/duration.h"
#include "engine/engine.h"
#include "engine/events.h"
#include "engine/pins.h"
#include "engine/runtime.h"
#include "io/term.h"
#include "store/store.h"

static int valid_name(const char *n) {
  if (!*n || strlen(n) > 64) return 0;
  for (const char *p = n; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || strchr("._-@", *p)))
      return 0;
  return 1;
}

/* "summit_" and 64 hex digits of the kernel's randomness (256 bits). */
static int new_token(char out[72]) {
  unsigned char rnd[32];
  if (uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL) != 0) return -1;
  static const char HEX[] = "0123456789abcdef";
  memcpy(out, "summit_", 7);
  for (int i = 0; i < 32; i++) {
    out[7 + 2 * i] = HEX[rnd[i] >> 4];
    out[8 + 2 * i] = HEX[rnd[i] & 15];
  }
  out[71] = '\0';
  return 0;
}

/* --roles r1,r2: each viewer or operator, the roles this version of the
 * server knows (approval roles come with approvals over HTTP), no empty
 * item. */
static int valid_roles(const char *roles) {
  if (!*roles || strlen(roles) > 255) return 0;
  const char *p = roles;
  for (;;) {
    size_t n = strcspn(p, ",");
    if (!((n == 6 && !strncmp(p, "viewer", 6)) ||
          (n == 8 && !strncmp(p, "operator", 8))))
      return 0;
    if (!p[n]) return 1;
    p += n + 1;
  }
}

/* DESIGN §12: summit token create --user U [--roles r,...] [--expires D];
 * NAME and --role are the same thing said the first way serve.md did. */
static int token_create(int argc, char **argv) {
  const char *name = NULL, *user = NULL, *role = NULL, *roles = NULL,
             *expires = NULL;
  for (int i = 0; i < argc; i++) {
    int r;
    if ((r = cli_opt(argc, argv, &i, "--user", &user)) ||
        (r = cli_opt(argc, argv, &i, "--roles", &roles)) ||
        (r = cli_opt(argc, argv, &i, "--role", &role)) ||
        (r = cli_opt(argc, argv, &i, "--expires", &expires))) {
      if (r < 0) return EXIT_USAGE;
    } else if (argv[i][0] == '-' || name) {
      return cli_usage("token", "unknown argument %s", term_str(argv[i]));
    } else name = argv[i];
  }
  if (name && user && strcmp(name, user))
    return cli_usage("token", "two names: %s and --user %s", term_str(name),
                     term_str(user));
  if (!name) name = user;
  if (!name) return cli_usage("token", "for whom? summit token create --user NAME [--roles viewer|operator,...]");
  if (!valid_name(name))
    return cli_usage("token", "token user '%s': use 1-64 letters, digits, '.', '_', '-', '@'", term_str(name));
  if (role && roles)
    return cli_usage("token", "--role and --roles together: give --roles r1,r2");
  if (!role) role = roles ? roles : "viewer";
  if (!valid_roles(role))
    return cli_usage("token", "--roles %s: each role wants viewer or operator "
                     "(a comma-separated list)", term_str(role));
  double ttl = 0;
  char err[200] = "";
  if (expires && duration_parse(expires, &ttl, err, sizeof err) != 0)
    return cli_usage("token", "--expires %s: %s", term_str(expires), err);
  if (expires && ttl < 1000)
    return cli_usage("token", "--expires %s: a token must live at least 1s",
                     term_str(expires));
  char tok[72], hash[65];
  if (new_token(tok) != 0) {
    fprintf(stderr, "summit token: no randomness from the kernel\n");
    return EXIT_FAILED;
  }
  pins_sha256_hex(tok, strlen(tok), hash);
  store_t *s = cli_open_store_rw("token");
  if (!s) return EXIT_FAILED;
  int64_t now = runtime_now_ms();
  store_token t = {.name = name, .role = role, .hash = hash,
                   .created_by = cli_user(), .created_ms = now,
                   .expires_ms = expires ? now + (int64_t)ttl : 0};
  int rc = store_token_add(s, &t);
  if (rc != STORE_OK) fprintf(stderr, "summit token: %s\n", store_errmsg(s));
  store_close(s);
  if (rc != STORE_OK) return EXIT_FAILED;
  puts(tok);
  fprintf(stderr, "summit token: token '%s' (%s) created; it is shown only "
          "this once\n", name, role);
  return EXIT_OK;
}

static int list_row(void *ud, const store_token *t) {
  int json = *(int *)ud;
  int64_t now = runtime_now_ms();
  const char *state = t->revoked_ms ? "revoked"
                      : t->expires_ms && t->expires_ms <= now ? "expired"
                                                              : "active";
  if (json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "user", t->name);
    cJSON_AddStringToObject(o, "role", t->role);
    cJSON *roles = cJSON_AddArrayToObject(o, "roles");
    for (const char *p = t->role; p && *p;) {
      size_t n = strcspn(p, ",");
      char one[65];
      snprintf(one, sizeof one, "%.*s", (int)(n < 64 ? n : 64), p);
      cJSON_AddItemToArray(roles, cJSON_CreateString(one));
      p += n + (p[n] ? 1 : 0);
    }
    cJSON_AddStringToObject(o, "state", state);
    if (t->created_by) cJSON_AddStringToObject(o, "created_by", t->created_by);
    cli_json_time(o, "created", t->created_ms);
    cli_json_time(o, "expires", t->expires_ms);
    cli_json_time(o, "revoked", t->revoked_ms);
    char *s = cJSON_PrintUnformatted(o);
    if (s) puts(s);
    free(s);
    cJSON_Delete(o);
    return 0;
  }
  char created[40], exp[40] = "never";
  events_rfc3339(t->created_ms, created, sizeof created);
  created[19] = '\0';
  if (t->expires_ms) {
    events_rfc3339(t->expires_ms, exp, sizeof exp);
    exp[19] = '\0';
  }
  printf("%-24s %-9s %-8s %-20s %s\n", term_str(t->name), term_str(t->role),
         state, created, exp);
  return 0;
}

static int token_list(int argc, char **argv) {
  int json = 0;
  for (int i = 0; i < argc; i++) {
    if (cli_flag(argv, i, "--json")) json = 1;
    else return cli_usage("token", "unknown argument %s", argv[i]);
  }
  store_t *s = cli_open_store();
  if (!s) return EXIT_FAILED;
  if (!json)
    printf("%-24s %-9s %-8s %-20s %s\n", "NAME", "ROLE", "STATE",
           "CREATED (UTC)", "EXPIRES (UTC)");
  int rc = store_token_list(s, list_row, &json);
  if (rc != STORE_OK) fprintf(stderr, "summit: %s\n", store_errmsg(s));
  store_close(s);
  return rc == STORE_OK ? EXIT_OK : EXIT_FAILED;
}

static int token_revoke(int argc, char **argv) {
  if (argc != 1 || argv[0][0] == '-')
    return cli_usage("token", "which token? summit token revoke NAME");
  store_t *s = cli_open_store();
  if (!s) return EXIT_FAILED;
  int rc = store_token_revoke(s, argv[0], runtime_now_ms());
  if (rc == STORE_NOTFOUND)
    fprintf(stderr, "summit token: no active token named '%s'\n",
            term_str(argv[0]));
  else if (rc != STORE_OK) fprintf(stderr, "summit: %s\n", store_errmsg(s));
  else printf("revoked token '%s'\n", term_str(argv[0]));
  store_close(s);
  return rc == STORE_OK ? EXIT_OK : rc == STORE_NOTFOUND ? EXIT_USAGE
                                                         : EXIT_FAILED;
}

int cmd_token(int argc, char **argv) {
  if (argc < 1)
    return cli_usage("token", "which token command? (create, list, revoke)");
  if (!strcmp(argv[0], "create")) return token_create(argc - 1, argv + 1);
  if (!strcmp(argv[0], "list")) return token_list(argc - 1, argv + 1);
  if (!strcmp(argv[0], "revoke")) return token_revoke(argc - 1, argv + 1);
  return cli_usage("token", "unknown token command '%s' (create, list, revoke)",
                   term_str(argv[0]));
}
