/* summit.c.audit: the audit trail for runbooks (audit.record in api.lua)
 * and for the engine (audit.h): redaction, key order, the append.
 *
 * What is hashed can never be taken back, so secrets are masked here,
 * before store_audit_append sees them: by key name (the same names as
 * lua/summit/redact.lua, plus a few) and by the shape of the value. */
#include "lua/audit.h"

#include <ctype.h>
#include <lauxlib.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "engine/secrets.h"
#include "io/strbuf.h"
#include "lua/bindings.h"

#define MASK "[redacted]"
#define MAX_MESSAGE 500   /* error messages are cut to this many bytes */

/* ---- redaction ------------------------------------------------------ */

static const char *const SECRET_KEYS[] = {
  "authorization", "proxy-authorization", "cookie", "set-cookie",
  "x-api-key", "x-auth-token", "private-token", "x-vault-token", NULL,
};
static const char *const SECRET_PARTS[] = {
  "token", "secret", "passw", "credential", "apikey", "api-key", "api_key",
  "privatekey", "private-key", "private_key", NULL,
};

static int secret_key(const char *k) {
  char low[128];
  size_t n = 0;
  for (; k[n] && n < sizeof low - 1; n++)
    low[n] = (char)tolower((unsigned char)k[n]);
  low[n] = '\0';
  for (int i = 0; SECRET_KEYS[i]; i++)
    if (!strcmp(low, SECRET_KEYS[i])) return 1;
  for (int i = 0; SECRET_PARTS[i]; i++)
    if (strstr(low, SECRET_PARTS[i])) return 1;
  return 0;
}

/* Words that a pattern's every match contains (compared ignoring case),
 * so a text without any of them skips its regexec: a URL has "://" and
 * would otherwise run all seven (~21,000 instructions an HTTP check's
 * audit record, measured with callgrind). */
#define CRED_HINTS "token", "secret", "passw", "credential", "key"

/* Patterns of credentials inside text; group 1 (if any) is kept. */
static const struct {
  const char *re;
  int keep;          /* keep group 1, mask the rest of the match */
  const char *after; /* written after the mask */
  const char *hints[20];  /* NULL-ended; see CRED_HINTS */
} PATTERNS[] = {
  /* a credential in an Authorization header's text: all of its value */
  {"((proxy-)?authorization[\"']?[[:space:]]*[=:][[:space:]]*[\"']?)"
   "[^\"'\r\n,;]+", 1, "", {"authorization"}},
  /* a bearer token anywhere */
  {"(bearer[[:space:]]+)[^[:space:]\"',;]+", 1, "", {"bearer"}},
  /* userinfo in a URL: https://user:pass@host */
  {"([a-z][a-z0-9+.-]*://)[^/@[:space:]]+@", 1, "@", {"@"}},
  /* name=value, name: value, "name": "value" with a credential-like name */
  {"([a-z0-9_.-]*(token|secret|passw|credential|api[-_]?key|private[-_]?key)"
   "[a-z0-9_.-]*[\"']?[[:space:]]*[=:][[:space:]]*[\"']?)"
   "[^[:space:]\"'&,;]+", 1, "", {CRED_HINTS}},
  /* a command line's secret flag and the argument after it:
   * --password VALUE, --api-key VALUE (not a following flag) */
  {"((^|[[:space:]\"'])--?[a-z0-9_.-]*(token|secret|passw|credential|"
   "api[-_]?key|private[-_]?key)[a-z0-9_.-]*[[:space:]]+)"
   "[^-[:space:]\"'][^[:space:]\"'&,;]*", 1, "", {CRED_HINTS}},
  /* JSON Web Tokens */
  {"eyJ[a-z0-9_-]+\\.[a-z0-9_-]+\\.[a-z0-9_-]*", 0, "", {"eyj"}},
  /* well-known token formats: GitHub, GitLab, Slack, AWS, Stripe */
  {"(gh[pousr]_[a-z0-9]{20,}|github_pat_[a-z0-9_]{20,}|glpat-[a-z0-9_-]{20,}|"
   "xox[abprs]-[a-z0-9-]{10,}|akia[0-9a-z]{16}|sk_live_[a-z0-9]{10,})", 0, "",
   {"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xox",
    "akia", "sk_live_"}},
};
#define NPATTERNS ((int)(sizeof PATTERNS / sizeof PATTERNS[0]))

static regex_t compiled[NPATTERNS];
static int compiled_ok = -1;   /* -1: not yet; 0: failed; 1: ready */

static int compile(void) {
  if (compiled_ok >= 0) return compiled_ok;
  compiled_ok = 1;
  for (int i = 0; i < NPATTERNS; i++)
    if (regcomp(&compiled[i], PATTERNS[i].re, REG_EXTENDED | REG_ICASE) != 0) {
      for (int j = 0; j < i; j++) regfree(&compiled[j]);
      compiled_ok = 0;
      break;
    }
  return compiled_ok;
}


/* One pattern over s: a new string if it matched, else NULL. */
static char *apply(const regex_t *re, int keep, const char *after,
                   const char *s) {
  regmatch_t m[2];
  strbuf b = {0};
  const char *p = s;
  int eflags = 0;
  while (*p && regexec(re, p, 2, m, eflags) == 0 && m[0].rm_eo > 0) {
    const char *at = p + m[0].rm_so;
    if (at > s && at[-1] == '[' && !strncmp(at, "secret:", 7)) {
      /* A secret's placeholder (engine/secrets.c) says nothing more. */
      strbuf_put(&b, p, (size_t)m[0].rm_eo);
      p += m[0].rm_eo;
      eflags = REG_NOTBOL;
      continue;
    }
    strbuf_put(&b, p, (size_t)m[0].rm_so);
    if (keep && m[1].rm_so >= 0)
      strbuf_put(&b, p + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
    strbuf_put(&b, MASK, strlen(MASK));
    strbuf_put(&b, after, strlen(after));
    p += m[0].rm_eo;
    eflags = REG_NOTBOL;
  }
  if (!b.p) return NULL;
  strbuf_put(&b, p, strlen(p));
  return b.p;
}

/* Whether the text may hold a match of pattern i: most text (step names,
 * keys, URLs) holds none of its hints, and a few substring searches are
 * much cheaper than the regular expression. low is the text in lower case
 * (strstr is several times cheaper than strcasestr), or NULL. */
static int suspicious(int i, const char *s, const char *low) {
  for (int h = 0; PATTERNS[i].hints[h]; h++)
    if (low ? strstr(low, PATTERNS[i].hints[h]) != NULL
            : strcasestr(s, PATTERNS[i].hints[h]) != NULL)
      return 1;
  return 0;
}

static char *lower_copy(const char *s) {
  size_t n = strlen(s);
  char *l = malloc(n + 1);
  if (!l) return NULL;
  for (size_t i = 0; i <= n; i++) l[i] = (char)tolower((unsigned char)s[i]);
  return l;
}

char *audit_redact_text(const char *s) {
  char *cur = NULL;
  /* A private key block: everything from its BEGIN line goes. */
  const char *pem = strstr(s, "-----BEGIN ");
  if (pem && strstr(pem, "PRIVATE KEY-----")) {
    strbuf b = {0};
    strbuf_put(&b, s, (size_t)(pem - s));
    strbuf_put(&b, MASK, strlen(MASK));
    const char *end = strstr(pem, "-----END ");
    const char *tail = end ? strstr(end + 9, "-----") : NULL;
    if (tail) strbuf_put(&b, tail + 5, strlen(tail + 5));
    cur = b.p;
  }
  char *low = NULL;  /* of cur ? cur : s, made once it is needed */
  for (int i = 0; i < NPATTERNS; i++) {
    if (!low) low = lower_copy(cur ? cur : s);
    if (!suspicious(i, cur ? cur : s, low)) continue;
    if (!compile()) {
      /* Cannot check the text: mask all of it rather than risk a leak. */
      free(low);
      free(cur);
      return strdup(MASK);
    }
    char *next = apply(&compiled[i], PATTERNS[i].keep, PATTERNS[i].after,
                       cur ? cur : s);
    if (next) {
      free(cur);
      cur = next;
      free(low);
      low = NULL;
    }
  }
  free(low);
  return cur;
}

static void redact_tree(cJSON *v);

void audit_redact(cJSON *v) {
  if (!v) return;
  /* The run's secret values first (engine/secrets.c): the patterns below
   * only guess by shape and name. */
  secrets_redact_json(v);
  redact_tree(v);
}

static void redact_tree(cJSON *v) {
  if (!v) return;
  if (cJSON_IsString(v)) {
    char *r = audit_redact_text(v->valuestring);
    if (r) {
      cJSON_SetValuestring(v, r);
      free(r);
    }
    return;
  }
  if (!cJSON_IsObject(v) && !cJSON_IsArray(v)) return;
  cJSON *next;
  for (cJSON *c = v->child; c; c = next) {
    next = c->next;
    if (cJSON_IsObject(v) && c->string && secret_key(c->string) &&
        !cJSON_IsNull(c) && !cJSON_IsBool(c)) {
      /* The value, whatever it is, becomes the mask; the key stays. */
      cJSON *m = cJSON_CreateString(MASK);
      if (!m) abort();
      m->string = c->string;
      m->type |= c->type & cJSON_StringIsConst;
      c->string = NULL;
      cJSON_ReplaceItemViaPointer(v, c, m);
      continue;
    }
    redact_tree(c);
  }
}

/* ---- canonical order and the append ----------------------------------- */

static int by_key(const void *a, const void *b) {
  return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

/* Puts the members of every object in v in byte order of their keys (the
 * order of summit's JSON, core/lua/json.c). */
static void sort_keys(cJSON *v) {
  if (!cJSON_IsObject(v) && !cJSON_IsArray(v)) return;
  int n = cJSON_GetArraySize(v);
  for (cJSON *c = v->child; c; c = c->next) sort_keys(c);
  if (!cJSON_IsObject(v) || n < 2) return;
  cJSON **items = malloc(sizeof *items * (size_t)n);
  if (!items) return;
  for (int i = 0; i < n; i++) items[i] = cJSON_DetachItemFromArray(v, 0);
  qsort(items, (size_t)n, sizeof *items, by_key);
  for (int i = 0; i < n; i++) cJSON_AddItemToArray(v, items[i]);
  free(items);
}

static const char *actor_of(runtime_t *rt) {
  return rt->user && *rt->user ? rt->user : "unknown";
}

int audit_append_to(store_t *s, const char *actor, const char *run_id,
                    const char *action, cJSON *detail, int commit) {
  if (!detail) detail = cJSON_CreateObject();
  audit_redact(detail);
  sort_keys(detail);
  char *text = cJSON_PrintUnformatted(detail);
  cJSON_Delete(detail);
  if (!text) return STORE_ERR;
  int rc = store_audit_append(s, runtime_now_ms(), actor, run_id, action,
                              text, commit);
  free(text);
  return rc;
}

int audit_append(runtime_t *rt, const char *run_id, const char *action,
                 cJSON *detail) {
  return audit_append_to(rt->store, actor_of(rt),
                         run_id ? run_id : rt->run_id, action, detail, 0);
}

void audit_add_error(cJSON *detail, const char *code, const char *message) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "code", code && *code ? code : "?");
  char *red = NULL;
  if (message) {
    /* By value before the cut, which could leave part of a secret. */
    red = secrets_redact(message, strlen(message), NULL);
    if (red) message = red;
    char cut[MAX_MESSAGE + 4];
    size_t n = strlen(message);
    if (n > MAX_MESSAGE) {
      memcpy(cut, message, MAX_MESSAGE);
      memcpy(cut + MAX_MESSAGE, "...", 4);
      message = cut;
    }
    cJSON_AddStringToObject(e, "message", message);
  }
  free(red);
  cJSON_AddItemToObject(detail, "error", e);
}

cJSON *audit_entry_detail(const char *kind, const char *name, const char *key,
                          long long attempt, const char *outcome) {
  cJSON *d = cJSON_CreateObject();
  /* Already in key order. */
  if (attempt > 0) cJSON_AddNumberToObject(d, "attempt", (double)attempt);
  if (key) cJSON_AddStringToObject(d, "key", key);
  if (kind) cJSON_AddStringToObject(d, "kind", kind);
  if (name) cJSON_AddStringToObject(d, "name", name);
  if (outcome) cJSON_AddStringToObject(d, "outcome", outcome);
  return d;
}

/* ---- the module ---------------------------------------------------------- */

/* encode(detail) -> the redacted canonical JSON text of the table, or nil
 * and what cannot be recorded ("a function at .x"). */
static int l_encode(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  char err[256];
  cJSON *j = sl_to_json(L, 1, err, sizeof err);
  if (!j) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  if (!cJSON_IsObject(j)) {
    /* A list: recorded as {"items": [...]}, so detail is an object. */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "items", j);
    j = o;
  }
  audit_redact(j);
  char *text = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  if (!text) return luaL_error(L, "out of memory");
  lua_pushstring(L, text);
  free(text);
  return 1;
}

/* record(action, text): appends with the run's user as actor; text comes
 * from encode (redacted, canonical). */
static int l_record(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  const char *action = luaL_checkstring(L, 1);
  const char *text = luaL_checkstring(L, 2);
  if (!rt->store || !rt->run_id)
    return luaL_error(L, "audit.record runs only while the runbook runs");
  if (store_audit_append(rt->store, runtime_now_ms(), actor_of(rt),
                         rt->run_id, action, text, 0) != STORE_OK)
    return luaL_error(L, "writing the audit trail: %s",
                      store_errmsg(rt->store));
  return 0;
}

static const luaL_Reg funcs[] = {
  {"encode", l_encode},
  {"record", l_record},
  {NULL, NULL}
};

int luaopen_summit_c_audit(lua_State *L) {
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  return 1;
}
