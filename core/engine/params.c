/* A run's params (see params.h). */
#include "engine/params.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/loader.h"
#include "engine/report.h"
#include "io/file.h"
#include "io/term.h"
#include "lua/bindings.h"

/* A JSON \u0000 escape in text: cJSON decodes it to a NUL byte, which
 * silently ends the C string. In valid JSON a backslash only appears in a
 * string, so an odd run of backslashes before "u0000" is that escape.
 * Rewrites each one to \uffff (a noncharacter, so the param that held it
 * can be named after decoding) and returns how many there were. */
static int mark_nul_escapes(char *text, size_t len) {
  int found = 0;
  for (size_t i = 0; i + 6 <= len; i++) {
    if (text[i] != '\\') continue;
    size_t j = i;
    while (j < len && text[j] == '\\') j++;
    if ((j - i) % 2 == 1 && j + 5 <= len && !memcmp(text + j, "u0000", 5)) {
      memcpy(text + j, "uffff", 5);
      found++;
    }
    i = j - 1;
  }
  return found;
}

/* Checks the strings of the value at the top of the stack (keys too, at
 * any depth): UTF-8 only (the journal, --json output and the audit chain
 * are JSON text) and, when nul_marked, none holding the \uffff that
 * mark_nul_escapes put for a NUL. path names the param. Prints why and
 * returns 0 on a bad one. */
static int param_text_ok(lua_State *L, const char *path, int nul_marked,
                         int depth) {
  if (lua_type(L, -1) == LUA_TSTRING) {
    size_t len, bad;
    const char *s = lua_tolstring(L, -1, &len);
    if (nul_marked && strstr(s, "\xef\xbf\xbf")) {
      engine_errf("param %s: a string holds a NUL character (\\u0000), "
                  "which summit cannot pass on intact; remove it", path);
      return 0;
    }
    if (memchr(s, '\0', len)) {
      engine_errf("param %s: a string holds a NUL character; remove it",
                  path);
      return 0;
    }
    if (!term_utf8_valid(s, len, &bad)) {
      engine_errf("param %s: not valid UTF-8 (byte 0x%02x at offset %zu); "
                  "params must be UTF-8 text", path,
                  (unsigned)(unsigned char)s[bad], bad);
      return 0;
    }
    return 1;
  }
  if (lua_type(L, -1) != LUA_TTABLE || depth > 32) return 1;
  lua_pushnil(L);
  while (lua_next(L, -2)) {                  /* tbl key value */
    char sub[512];
    const char *k =
        lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "[n]";
    if (*path) snprintf(sub, sizeof sub, "%s.%s", path, k);
    else snprintf(sub, sizeof sub, "%s", k);
    lua_pushvalue(L, -2);                    /* tbl key value key */
    int ok = param_text_ok(L, sub, nul_marked, depth + 1);
    lua_pop(L, 1);                           /* tbl key value */
    if (ok) ok = param_text_ok(L, sub, nul_marked, depth + 1);
    lua_pop(L, 1);                           /* tbl key */
    if (!ok) {
      lua_pop(L, 1);                         /* tbl */
      return 0;
    }
  }
  return 1;
}

/* Sets each -p key=value of params into the table on top of L (values
 * stay strings: the schema converts them). -1, having said why, for an
 * argument without a key. */
static int set_cli_params(lua_State *L, const char *const *params) {
  for (const char *const *p = params; p && *p; p++) {
    const char *eq = strchr(*p, '=');
    if (!eq || eq == *p) {
      engine_errf("-p %s: expected key=value", *p);
      return -1;
    }
    lua_pushlstring(L, *p, (size_t)(eq - *p));
    lua_pushstring(L, eq + 1);
    lua_settable(L, -3);
  }
  return 0;
}

int params_resolve(lua_State *L, int def, const engine_opts *o) {
  int nuls = 0;
  lua_newtable(L);                           /* raw */
  if (o->params_file || o->params_json) {
    size_t len = 0;
    char *text = o->params_json ? strdup(o->params_json)
                                : io_read_file(o->params_file, &len);
    if (!text) {
      engine_errf("--params-file %s: %s", o->params_file, strerror(errno));
      lua_pop(L, 1);
      return EXIT_USAGE;
    }
    if (o->params_json) len = strlen(text);
    nuls = mark_nul_escapes(text, len);
    int ok = sl_decode(L, text, len);
    free(text);
    /* A JSON array decodes to a sequence: only an object will do. */
    int object = ok && lua_istable(L, -1) && lua_objlen(L, -1) == 0;
    if (!object) {
      engine_errf("--params-file %s: not a JSON object",
                  o->params_json ? "(stored params)" : o->params_file);
      lua_pop(L, ok ? 2 : 1);
      return EXIT_USAGE;
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_settable(L, -5);
    }
    lua_pop(L, 1);
  }
  if (set_cli_params(L, o->params) != 0) {
    lua_pop(L, 1);
    return EXIT_USAGE;
  }
  /* Strings that cannot pass through the journal and JSON intact are
   * refused here, naming the param, rather than cut or written raw. */
  if (!param_text_ok(L, "", nuls, 0)) {
    lua_pop(L, 1);
    return EXIT_USAGE;
  }
  loader_push_runbook_fn(L, "resolve");
  lua_pushvalue(L, def);
  lua_pushvalue(L, -3);
  lua_call(L, 2, 2);                         /* raw params errs */
  if (lua_isnil(L, -2)) {
    engine_errf_list(L);
    lua_pop(L, 2);
    return EXIT_USAGE;
  }
  lua_pop(L, 1);
  lua_remove(L, -2);                         /* params */
  return 0;
}

char *params_seal(lua_State *L, int def, int params) {
  loader_push_runbook_fn(L, "seal");
  lua_pushvalue(L, def);
  lua_pushvalue(L, params);
  lua_call(L, 2, 2);                         /* stored|nil errs */
  if (lua_isnil(L, -2)) {
    engine_errf_list(L);
    lua_pop(L, 1);
    return NULL;
  }
  lua_pop(L, 1);
  char err[256];
  char *text = sl_encode(L, -1, err, sizeof err);
  if (!text) engine_errf("params cannot be stored: %s", err);
  lua_pop(L, 1);
  return text;
}

int params_resumed(lua_State *L, int def, const engine_opts *o,
                   const char *run_id) {
  lua_newtable(L);                           /* stored raw */
  if (set_cli_params(L, o->params) != 0) {
    lua_pop(L, 2);
    return EXIT_USAGE;
  }
  loader_push_runbook_fn(L, "resumed");
  lua_pushvalue(L, def);
  lua_pushvalue(L, -4);
  lua_pushvalue(L, -4);
  lua_call(L, 3, 2);                         /* stored raw params errs */
  if (lua_isnil(L, -2)) {
    engine_errf_list(L);
    engine_errf("run %s is unchanged; resume it with its secrets: summit "
                "resume %s -p NAME=VALUE (docs/secrets.md)", run_id, run_id);
    lua_pop(L, 3);
    return EXIT_USAGE;
  }
  lua_pop(L, 1);
  lua_replace(L, -3);                        /* params raw */
  lua_pop(L, 1);
  char *sealed = params_seal(L, def, lua_gettop(L));
  if (!sealed) {
    lua_pop(L, 1);
    return EXIT_USAGE;
  }
  free(sealed);
  return 0;
}
