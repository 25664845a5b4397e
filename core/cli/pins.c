/* What a run pinned besides its runbook (DESIGN §14): the stdlib and team
 * modules it loaded and summit's version when it started, as `summit
 * status` and `summit provenance` show them. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "io/term.h"
#include "store/store.h"

static int add_module(void *ud, const store_module *m) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", m->name);
  if (m->path) cJSON_AddStringToObject(o, "path", m->path);
  cJSON_AddStringToObject(o, "sha256", m->sha256);
  cJSON_AddItemToArray(ud, o);
  return 0;
}

cJSON *cli_pins(store_t *s, const char *run_id) {
  cJSON *pins = cJSON_CreateObject();
  char *version = NULL;
  if (store_run_summit_version(s, run_id, &version) == STORE_OK && version)
    cJSON_AddStringToObject(pins, "summit_version", version);
  free(version);
  cJSON *mods = cJSON_AddArrayToObject(pins, "modules");
  if (store_module_each(s, run_id, add_module, mods) != STORE_OK)
    fprintf(stderr, "summit: %s\n", store_errmsg(s));
  return pins;
}

void cli_pins_print(const cJSON *pins) {
  const cJSON *v = cJSON_GetObjectItem(pins, "summit_version");
  printf("summit   %s\n", cJSON_IsString(v) ? term_str(v->valuestring)
                                            : "(started before summit "
                                              "recorded its version)");
  const cJSON *m;
  const char *label = "modules ";
  cJSON_ArrayForEach(m, cJSON_GetObjectItem(pins, "modules")) {
    const cJSON *path = cJSON_GetObjectItem(m, "path");
    printf("%s %-22s sha256 %.12s", label,
           term_str(cJSON_GetObjectItem(m, "name")->valuestring),
           cJSON_GetObjectItem(m, "sha256")->valuestring);
    if (cJSON_IsString(path)) printf("  %s", term_str(path->valuestring));
    putchar('\n');
    label = "        ";
  }
}
