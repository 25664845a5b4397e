/* Worker labels and a run's requirements (labels.h, docs/workers.md). */
#include "engine/labels.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys and values stay plain words (like Kubernetes labels): they are
 * shown in `summit runs` and matched byte for byte. */
static int label_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_' ||
         ch == '/' || ch == ':';
}

static int word_ok(const char *s, size_t n) {
  if (n == 0 || n > 63) return 0;
  for (size_t i = 0; i < n; i++)
    if (!label_char(s[i])) return 0;
  return 1;
}

/* Adds one "k=v" item (n bytes at item) to obj; 0, or -1 with err set. */
static int add_item(cJSON *obj, const char *item, size_t n, const char *opt,
                    char *err, size_t errlen) {
  const char *eq = memchr(item, '=', n);
  if (!eq) {
    snprintf(err, errlen, "%s '%.*s': not KEY=VALUE (like region=eu)", opt,
             (int)n, item);
    return -1;
  }
  size_t kn = (size_t)(eq - item), vn = n - kn - 1;
  if (!word_ok(item, kn) || !word_ok(eq + 1, vn)) {
    snprintf(err, errlen, "%s '%.*s': the %s must be 1 to 63 letters, "
             "digits or . - _ / :", opt, (int)n, item,
             word_ok(item, kn) ? "value" : "key");
    return -1;
  }
  char key[64], val[64];
  snprintf(key, sizeof key, "%.*s", (int)kn, item);
  snprintf(val, sizeof val, "%.*s", (int)vn, eq + 1);
  if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
    snprintf(err, errlen, "%s '%.*s': label '%s' is given twice", opt,
             (int)n, item, key);
    return -1;
  }
  cJSON_AddStringToObject(obj, key, val);
  return 0;
}

char *labels_add(char *obj_json, const char *text, char sep, const char *opt,
                 char *err, size_t errlen) {
  cJSON *obj = obj_json ? cJSON_Parse(obj_json) : cJSON_CreateObject();
  free(obj_json);
  if (!obj) {
    snprintf(err, errlen, "%s: out of memory", opt);
    return NULL;
  }
  const char *p = text;
  int rc = 0;
  do {
    const char *end = sep ? strchr(p, sep) : NULL;
    size_t n = end ? (size_t)(end - p) : strlen(p);
    rc = add_item(obj, p, n, opt, err, errlen);
    p = end ? end + 1 : NULL;
  } while (rc == 0 && p);
  char *out = rc == 0 ? cJSON_PrintUnformatted(obj) : NULL;
  cJSON_Delete(obj);
  return out;
}

int labels_match(const char *need, const char *labels) {
  cJSON *n = need ? cJSON_Parse(need) : NULL;
  if (need && !n) return 0;  /* unreadable requirements: nobody */
  cJSON *have = labels ? cJSON_Parse(labels) : NULL;
  int ok = 1;
  const cJSON *item;
  cJSON_ArrayForEach(item, n) {
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(have, item->string);
    if (!cJSON_IsString(item) || !cJSON_IsString(h) ||
        strcmp(h->valuestring, item->valuestring) != 0) {
      ok = 0;
      break;
    }
  }
  cJSON_Delete(n);
  cJSON_Delete(have);
  return ok;
}

void labels_text(const char *need, char *out, size_t outlen) {
  cJSON *n = need ? cJSON_Parse(need) : NULL;
  size_t len = 0;
  out[0] = '\0';
  const cJSON *item;
  cJSON_ArrayForEach(item, n) {
    if (!cJSON_IsString(item)) continue;
    int w = snprintf(out + len, outlen - len, "%s%s=%s", len ? "," : "",
                     item->string, item->valuestring);
    if (w < 0 || (size_t)w >= outlen - len) break;
    len += (size_t)w;
  }
  if (!len) snprintf(out, outlen, "any worker");
  cJSON_Delete(n);
}
