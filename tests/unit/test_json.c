/* Unit tests for core/lua/json.c: Lua <-> JSON conversion (sl_to_json,
 * sl_push_json, sl_encode, sl_decode) and the runbooks' json module, on a
 * plain lua_State. Arrays vs objects, nesting, scalars, nil/null, round
 * trips, and the errors that name the path of what cannot be converted.
 * Every conversion must leave the Lua stack as it found it. */
#include <criterion/criterion.h>

#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lua/bindings.h"

static lua_State *L;

static void setup(void) {
  L = luaL_newstate();
  cr_assert_not_null(L);
  luaL_openlibs(L);
}

static void teardown(void) {
  if (L) lua_close(L);
  L = NULL;
}

TestSuite(json, .init = setup, .fini = teardown);

/* Evaluates a Lua expression and pushes its value. */
static void push_expr(const char *expr) {
  char code[2048];
  snprintf(code, sizeof code, "return %s", expr);
  cr_assert_eq(luaL_loadstring(L, code), 0, "%s", lua_tostring(L, -1));
  cr_assert_eq(lua_pcall(L, 0, 1, 0), 0, "%s", lua_tostring(L, -1));
}

/* Encodes a Lua expression; returns a malloc'd string (NULL on error with
 * the message in err). Checks the stack is balanced. */
static char *encode(const char *expr, char *err, size_t errlen) {
  int top = lua_gettop(L);
  push_expr(expr);
  char *s = sl_encode(L, -1, err, errlen);
  cr_assert_eq(lua_gettop(L), top + 1, "sl_encode must not move the stack");
  lua_pop(L, 1);
  return s;
}

static void expect_json(const char *expr, const char *want) {
  char err[512] = "";
  char *s = encode(expr, err, sizeof err);
  cr_assert_not_null(s, "encoding %s: %s", expr, err);
  cr_assert_str_eq(s, want, "encoding %s", expr);
  free(s);
}

static void expect_error(const char *expr, const char *want) {
  char err[512] = "";
  char *s = encode(expr, err, sizeof err);
  cr_assert_null(s, "encoding %s should fail, got %s", expr, s ? s : "");
  cr_assert_str_eq(err, want, "error for %s", expr);
}

/* Lua-side check: runs `code` with the value on top of the stack bound to
 * `v`; the code must return true. Pops the value. */
static void check_lua(const char *code) {
  char chunk[2048];
  snprintf(chunk, sizeof chunk, "local v = ...; %s", code);
  cr_assert_eq(luaL_loadstring(L, chunk), 0, "%s", lua_tostring(L, -1));
  lua_insert(L, -2);
  cr_assert_eq(lua_pcall(L, 1, 1, 0), 0, "%s", lua_tostring(L, -1));
  cr_assert(lua_toboolean(L, -1), "check failed: %s", code);
  lua_pop(L, 1);
}

/* ---- Lua -> JSON -------------------------------------------------------- */

Test(json, scalars) {
  expect_json("nil", "null");
  expect_json("true", "true");
  expect_json("false", "false");
  expect_json("42", "42");
  expect_json("-7", "-7");
  expect_json("1.5", "1.5");
  expect_json("0", "0");
  expect_json("2^52", "4503599627370496");
  expect_json("1234567890123456", "1234567890123456");
  expect_json("'hello'", "\"hello\"");
  expect_json("''", "\"\"");
  expect_json("'quote\" back\\\\ nl\\n tab\\t'",
              "\"quote\\\" back\\\\ nl\\n tab\\t\"");
  expect_json("'caf\\195\\169'", "\"caf\xc3\xa9\"");
}

Test(json, arrays) {
  expect_json("{1, 2, 3}", "[1,2,3]");
  expect_json("{'a', true, 1.25}", "[\"a\",true,1.25]");
  expect_json("{[1]='x', [2]='y'}", "[\"x\",\"y\"]");
  expect_json("{{1}, {2, {3}}}", "[[1],[2,[3]]]");
}

Test(json, objects) {
  expect_json("{a = 1}", "{\"a\":1}");
  expect_json("{a = {b = {c = 'deep'}}}", "{\"a\":{\"b\":{\"c\":\"deep\"}}}");
  expect_json("{list = {1, 2}}", "{\"list\":[1,2]}");
  /* nil values are absent keys in Lua, so they vanish. */
  expect_json("{a = nil}", "{}");
}

Test(json, empty_table_is_object) {
  expect_json("{}", "{}");
  expect_json("{x = {}}", "{\"x\":{}}");
}

Test(json, non_sequence_tables_are_objects) {
  /* A hole, a zero or a fractional index make it an object whose keys are
   * the numbers' decimal text. */
  expect_json("{[2] = 'b'}", "{\"2\":\"b\"}");
  expect_json("{[0] = 'z'}", "{\"0\":\"z\"}");
  expect_json("{[1.5] = 'h'}", "{\"1.5\":\"h\"}");
  expect_json("{[-1] = 'n'}", "{\"-1\":\"n\"}");
  expect_json("{[1e10] = 'big'}", "{\"10000000000\":\"big\"}");
  char err[256];
  char *s = encode("{[1] = 'a', [3] = 'c'}", err, sizeof err);
  cr_assert_not_null(s, "%s", err);
  cJSON *h = cJSON_Parse(s);
  cr_assert(cJSON_IsObject(h), "a table with a hole -> object: %s", s);
  cr_assert_eq(cJSON_GetArraySize(h), 2);
  cr_assert_str_eq(cJSON_GetObjectItem(h, "1")->valuestring, "a");
  cr_assert_str_eq(cJSON_GetObjectItem(h, "3")->valuestring, "c");
  cJSON_Delete(h);
  free(s);
  s = encode("{1, 2, x = 'y'}", err, sizeof err);
  cr_assert_not_null(s, "%s", err);
  cJSON *j = cJSON_Parse(s);
  cr_assert(cJSON_IsObject(j), "mixed table -> object: %s", s);
  cr_assert_eq(cJSON_GetArraySize(j), 3);
  cr_assert_str_eq(cJSON_GetObjectItem(j, "x")->valuestring, "y");
  cr_assert_eq(cJSON_GetObjectItem(j, "1")->valuedouble, 1);
  cr_assert_eq(cJSON_GetObjectItem(j, "2")->valuedouble, 2);
  cJSON_Delete(j);
  free(s);
}

Test(json, json_null_sentinel) {
  lua_pushlightuserdata(L, NULL);
  lua_setglobal(L, "NULL");
  expect_json("NULL", "null");
  expect_json("{a = NULL}", "{\"a\":null}");
  expect_json("{1, NULL, 3}", "[1,null,3]");
}

Test(json, to_json_returns_tree) {
  char err[256];
  push_expr("{name = 'x', n = 3, ok = true, list = {1, 'two'}}");
  int top = lua_gettop(L);
  cJSON *j = sl_to_json(L, -1, err, sizeof err);
  cr_assert_eq(lua_gettop(L), top);
  cr_assert_not_null(j, "%s", err);
  cr_assert(cJSON_IsObject(j));
  cr_assert_str_eq(cJSON_GetObjectItem(j, "name")->valuestring, "x");
  cr_assert_eq(cJSON_GetObjectItem(j, "n")->valuedouble, 3);
  cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")));
  cJSON *list = cJSON_GetObjectItem(j, "list");
  cr_assert(cJSON_IsArray(list));
  cr_assert_eq(cJSON_GetArraySize(list), 2);
  cr_assert_str_eq(cJSON_GetArrayItem(list, 1)->valuestring, "two");
  cJSON_Delete(j);
  /* Positive and negative indexes name the same value. */
  j = sl_to_json(L, top, err, sizeof err);
  cr_assert_not_null(j);
  cr_assert(cJSON_IsObject(j));
  cJSON_Delete(j);
  lua_pop(L, 1);
}

Test(json, to_json_below_top) {
  /* The value need not be on top; the stack above it is untouched. */
  char err[256];
  push_expr("{1, 2}");
  lua_pushstring(L, "above");
  cJSON *j = sl_to_json(L, -2, err, sizeof err);
  cr_assert_not_null(j, "%s", err);
  cr_assert(cJSON_IsArray(j));
  cJSON_Delete(j);
  cr_assert_str_eq(lua_tostring(L, -1), "above");
  lua_pop(L, 2);
}

/* ---- errors name the path -------------------------------------------- */

Test(json, error_function_paths) {
  expect_error("print", "a function at the top level");
  expect_error("{a = {1, print}}", "a function at .a[2]");
  expect_error("{print}", "a function at [1]");
  expect_error("{{}, {x = {y = print}}}", "a function at [2].x.y");
  expect_error("{a = {b = {1, 2, {c = print}}}}",
               "a function at .a.b[3].c");
}

Test(json, error_other_types) {
  expect_error("{f = io.stdout}", "a userdata at .f");
  expect_error("{co = coroutine.create(print)}", "a thread at .co");
  expect_error("{[true] = 1}",
               "a table key that is neither a string nor a number at the "
               "top level");
  expect_error("{a = {[{}] = 1}}",
               "a table key that is neither a string nor a number at .a");
  expect_error("{s = 'a\\0b'}", "a string with a NUL byte at .s");
}

Test(json, error_nan_inf) {
  expect_error("0/0", "a NaN or infinite number at the top level");
  expect_error("{x = 0/0}", "a NaN or infinite number at .x");
  expect_error("{1, math.huge}", "a NaN or infinite number at [2]");
  expect_error("{v = {-math.huge}}", "a NaN or infinite number at .v[1]");
}

Test(json, error_cycle) {
  char err[512] = "";
  cr_assert_eq(luaL_dostring(L, "cyc = {}; cyc.self = cyc; "
                                "arr = {}; arr[1] = arr"),
               0);
  char *s = encode("cyc", err, sizeof err);
  cr_assert_null(s);
  cr_assert_not_null(strstr(err, "nested too deep"), "%s", err);
  cr_assert_not_null(strstr(err, "at .self.self"), "%s", err);
  s = encode("arr", err, sizeof err);
  cr_assert_null(s);
  cr_assert_not_null(strstr(err, "nested too deep"), "%s", err);
  cr_assert_not_null(strstr(err, "at [1][1]"), "%s", err);
  /* Deep but acyclic nesting within the limit is fine. */
  cr_assert_eq(luaL_dostring(L, "deep = {} local t = deep "
                                "for i = 1, 60 do t.n = {} t = t.n end"),
               0);
  s = encode("deep", err, sizeof err);
  cr_assert_not_null(s, "%s", err);
  free(s);
}

Test(json, error_message_truncated_safely) {
  char err[12];
  memset(err, 'Z', sizeof err);
  char *s = encode("{a = {1, print}}", err, sizeof err);
  cr_assert_null(s);
  cr_assert_eq(strlen(err), sizeof err - 1);
}

Test(json, error_leaves_stack_balanced_in_loops) {
  /* Many failing conversions of various shapes must not grow the stack. */
  char err[256];
  const char *exprs[] = {"{a = {1, print}}", "{{}, {x = {y = print}}}",
                         "{[true] = 1}", "{1, 0/0}", "{x = {[{}] = 1}}"};
  int top = lua_gettop(L);
  for (int i = 0; i < 200; i++) {
    push_expr(exprs[i % 5]);
    cr_assert_null(sl_to_json(L, -1, err, sizeof err));
    lua_pop(L, 1);
  }
  cr_assert_eq(lua_gettop(L), top);
}

/* ---- JSON -> Lua -------------------------------------------------------- */

static void decode(const char *text) {
  int top = lua_gettop(L);
  cr_assert_eq(sl_decode(L, text, strlen(text)), 1, "decoding %s", text);
  cr_assert_eq(lua_gettop(L), top + 1);
}

Test(json, decode_scalars) {
  decode("null");
  cr_assert(lua_isnil(L, -1));
  lua_pop(L, 1);
  decode("true");
  cr_assert(lua_isboolean(L, -1) && lua_toboolean(L, -1));
  lua_pop(L, 1);
  decode("-2.5e3");
  cr_assert_eq(lua_tonumber(L, -1), -2500.0);
  lua_pop(L, 1);
  decode("\"a\\u00e9\\n\"");
  cr_assert_str_eq(lua_tostring(L, -1), "a\xc3\xa9\n");
  lua_pop(L, 1);
}

Test(json, decode_structures) {
  decode("[10, \"x\", [true], {\"k\": null, \"n\": 1}]");
  check_lua("return #v == 4 and v[1] == 10 and v[2] == 'x' and "
            "type(v[3]) == 'table' and v[3][1] == true and "
            "v[4].k == nil and v[4].n == 1");
  decode("{}");
  check_lua("return type(v) == 'table' and next(v) == nil");
  decode("[]");
  check_lua("return type(v) == 'table' and next(v) == nil");
  decode("{\"1\": \"s\"}");
  check_lua("return v['1'] == 's' and v[1] == nil");
}

Test(json, decode_invalid) {
  const char *bad[] = {"", "{", "[1,", "{\"a\" 1}", "nul", "'x'", "[1,]"};
  int top = lua_gettop(L);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cr_assert_eq(sl_decode(L, bad[i], strlen(bad[i])), 0, "'%s'", bad[i]);
    cr_assert_eq(lua_gettop(L), top, "nothing pushed for '%s'", bad[i]);
  }
}

Test(json, decode_respects_length) {
  const char *text = "[1,2]garbage";
  cr_assert_eq(sl_decode(L, text, 5), 1);
  check_lua("return #v == 2 and v[2] == 2");
  cr_assert_eq(sl_decode(L, text, 3), 0, "'[1,' is incomplete");
}

Test(json, push_json_null_pointer_is_nil) {
  sl_push_json(L, NULL);
  cr_assert(lua_isnil(L, -1));
  lua_pop(L, 1);
}

/* ---- round trips ------------------------------------------------------- */

static void roundtrip(const char *json) {
  char err[256];
  decode(json);
  char *s = sl_encode(L, -1, err, sizeof err);
  lua_pop(L, 1);
  cr_assert_not_null(s, "%s", err);
  cr_assert_str_eq(s, json, "round trip");
  free(s);
}

Test(json, roundtrip_json_lua_json) {
  roundtrip("[1,2,3]");
  roundtrip("{\"a\":{\"b\":[true,false,\"x\"]}}");
  roundtrip("[[[[\"deep\"]]]]");
  roundtrip("\"text\"");
  roundtrip("3.25");
  roundtrip("null");
  roundtrip("{}");
  roundtrip("[{\"k\":\"v\"},{\"k\":\"w\"}]");
}

Test(json, roundtrip_lua_json_lua) {
  char err[256];
  push_expr("{name = 'deploy', replicas = 3, ratio = 0.125, tags = {'a','b'},"
            " nested = {ok = true, list = {{x = 1}, {x = 2}}}}");
  char *s = sl_encode(L, -1, err, sizeof err);
  cr_assert_not_null(s, "%s", err);
  lua_pop(L, 1);
  cr_assert_eq(sl_decode(L, s, strlen(s)), 1);
  free(s);
  check_lua("return v.name == 'deploy' and v.replicas == 3 and "
            "v.ratio == 0.125 and #v.tags == 2 and v.tags[2] == 'b' and "
            "v.nested.ok == true and v.nested.list[2].x == 2");
}

Test(json, empty_table_is_object_but_decoded_empty_array_stays) {
  /* Documented: an empty Lua table is an object; [] decodes marked as an
   * array (json.array), so it comes back [] (it came back {} before). */
  char err[64];
  lua_newtable(L);
  char *s = sl_encode(L, -1, err, sizeof err);
  lua_pop(L, 1);
  cr_assert_str_eq(s, "{}");
  free(s);
  decode("[]");
  s = sl_encode(L, -1, err, sizeof err);
  lua_pop(L, 1);
  cr_assert_str_eq(s, "[]");
  free(s);
}

/* ---- the json module of runbooks -------------------------------------- */

static void open_module(void) {
  lua_pushcfunction(L, luaopen_summit_json);
  lua_call(L, 0, 1);
  lua_setglobal(L, "json");
}

Test(json, module_encode_decode) {
  open_module();
  cr_assert_eq(luaL_dostring(L,
                             "local s = json.encode({a = {1, 2}}) "
                             "assert(s == '{\"a\":[1,2]}', s) "
                             "local v = json.decode('{\"x\":[1,{\"y\":2}]}') "
                             "assert(v.x[2].y == 2) "
                             "assert(json.encode(json.null) == 'null') "
                             "assert(json.encode({json.null, 1}) == "
                             "'[null,1]')"),
               0, "%s", lua_tostring(L, -1));
}

Test(json, module_errors) {
  open_module();
  cr_assert_eq(luaL_dostring(L, "local ok, e = pcall(json.encode, "
                                "{a = {1, print}}) "
                                "return e"),
               0);
  cr_assert_not_null(strstr(lua_tostring(L, -1),
                            "json.encode: cannot encode a function at .a[2]"),
                     "%s", lua_tostring(L, -1));
  lua_pop(L, 1);
  cr_assert_eq(luaL_dostring(L, "local ok, e = pcall(json.decode, '[1, x]') "
                                "return e"),
               0);
  cr_assert_not_null(strstr(lua_tostring(L, -1),
                            "json.decode: invalid JSON at byte 4"),
                     "%s", lua_tostring(L, -1));
  lua_pop(L, 1);
  cr_assert_eq(luaL_dostring(L, "return (pcall(json.encode))"), 0);
  cr_assert_not(lua_toboolean(L, -1), "json.encode() needs an argument");
  lua_pop(L, 1);
}

/* Numbers that the journal must give back exactly (a step's result is
 * replayed from its JSON). */
static int number_roundtrips(const char *expr) {
  char err[64];
  push_expr(expr);
  double orig = lua_tonumber(L, -1);
  char *s = sl_encode(L, -1, err, sizeof err);
  cr_assert_not_null(s);
  lua_pop(L, 1);
  cr_assert_eq(sl_decode(L, s, strlen(s)), 1);
  double back = lua_tonumber(L, -1);
  lua_pop(L, 1);
  free(s);
  return back == orig;
}

Test(json, numbers_roundtrip_exactly) {
  const char *exprs[] = {"1/3", "2/3", "1e-300", "123456.789", "-0.5",
                         "1764230123456789", "2^52", "1e21", "5e-324"};
  for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++)
    cr_assert(number_roundtrips(exprs[i]), "%s changes through JSON",
              exprs[i]);
}

/* cJSON alone prints 15 digits when they read back "close enough"; json.c
 * writes 17 when needed, so a replayed step returns the exact number. */
Test(json, numbers_roundtrip_near_epsilon) {
  cr_assert(number_roundtrips("0.1 + 0.2"), "0.1 + 0.2");
  cr_assert(number_roundtrips("2^53"), "2^53");
  cr_assert(number_roundtrips("1 - 2^-52"), "1 - 2^-52");
}
