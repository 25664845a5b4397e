/* Unit tests for redaction by value (core/engine/secrets.c): every
 * occurrence replaced, the longest match first, a secret inside another
 * named once, overlapping ones both named, the JSON-escaped forms of a
 * value with a quote or a backslash, JSON trees (values and keys), and
 * the minimum length. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "engine/secrets.h"

static void fresh(void) { secrets_clear(); }

TestSuite(secrets, .init = fresh, .fini = fresh);

static char *red(const char *s) {
  char *r = secrets_redact(s, strlen(s), NULL);
  return r ? r : strdup(s);
}

static void add(const char *name, const char *v) {
  cr_assert_eq(secrets_add(name, v, strlen(v)), 0, "adding %s", name);
}

Test(secrets, nothing_registered_is_a_noop) {
  cr_assert_eq(secrets_count(), 0);
  cr_assert_null(secrets_redact("hunter22", 8, NULL));
}

Test(secrets, every_occurrence) {
  add("db", "hunter22");
  char *r = red("pw=hunter22 again hunter22hunter22.");
  cr_assert_str_eq(r, "pw=[secret:db] again [secret:db][secret:db].");
  free(r);
  cr_assert_null(secrets_redact("hunter2", 7, NULL));
}

Test(secrets, too_short_is_refused) {
  cr_assert_eq(secrets_add("tiny", "abc", 3), -1);
  cr_assert_eq(secrets_add("", "abcdef", 6), -1);
  cr_assert_eq(secrets_count(), 0);
  cr_assert_null(secrets_redact("abc abc", 7, NULL));
}

Test(secrets, substring_of_another_is_named_once) {
  add("long", "s3cr3t-and-more");
  add("short", "s3cr3t");
  char *r = red("[s3cr3t-and-more] [s3cr3t]");
  cr_assert_str_eq(r, "[[secret:long]] [[secret:short]]");
  free(r);
}

Test(secrets, overlapping_both_named_nothing_left) {
  add("a", "abcdef");
  add("b", "defghi");
  char *r = red("xabcdefghiy");
  cr_assert_str_eq(r, "x[secret:a][secret:b]y");
  cr_assert_null(strstr(r, "ghi"));
  free(r);
}

Test(secrets, json_escaped_forms) {
  add("q", "pa\"ss\\wd");
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "v", "x pa\"ss\\wd y");
  char *text = cJSON_PrintUnformatted(o);  /* {"v":"x pa\"ss\\wd y"} */
  cr_assert_null(strstr(text, "pa\"ss\\wd"));
  char *r = red(text);
  cr_assert_str_eq(r, "{\"v\":\"x [secret:q] y\"}");
  free(r);
  /* JSON text inside a JSON string: escaped twice. */
  cJSON *outer = cJSON_CreateObject();
  cJSON_AddStringToObject(outer, "inner", text);
  char *t2 = cJSON_PrintUnformatted(outer);
  r = red(t2);
  cr_assert_null(strstr(r, "ss\\"), "%s", r);
  cr_assert_not_null(strstr(r, "[secret:q]"), "%s", r);
  free(r);
  free(t2);
  free(text);
  cJSON_Delete(outer);
  cJSON_Delete(o);
}

Test(secrets, json_tree_values_and_keys) {
  add("k", "topsecret");
  cJSON *o = cJSON_Parse("{\"a\":[\"1 topsecret 2\",{\"topsecret\":\"x\"}],"
                         "\"n\":3,\"b\":\"clean\"}");
  cr_assert_not_null(o);
  cr_assert_eq(secrets_redact_json(o), 2);
  char *text = cJSON_PrintUnformatted(o);
  cr_assert_str_eq(text, "{\"a\":[\"1 [secret:k] 2\",{\"[secret:k]\":\"x\"}],"
                         "\"n\":3,\"b\":\"clean\"}");
  free(text);
  cJSON_Delete(o);
}

Test(secrets, owned_string) {
  add("k", "topsecret");
  char *s = strdup("a topsecret");
  secrets_redact_owned(&s);
  cr_assert_str_eq(s, "a [secret:k]");
  free(s);
}
