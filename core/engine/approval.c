/* Judging approval gates (see approval.h, docs/approvals.md).
 *
 * Roles are places to fill. A gate needing `need` approvals has one place
 * per role minimum (a list of roles is one place any of them fills; a map
 * {role = n} is n places per role) and `need - sum(minimums)` places anyone
 * may fill. Counted approvals are matched to places (Kuhn's augmenting
 * paths: a few dozen places at most), so an approver holding two roles is
 * never counted twice, and a later approval may move an earlier one to
 * another place it also fits. An approval that cannot raise the matching
 * fills nothing and is refused, with the places still open as the reason. */
#include "engine/approval.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/sha256.h"

#define MAX_NEED 1000
#define MAX_GROUPS 64
#define MAX_GROUP_ROLES 64

typedef struct {
  const char *roles[MAX_GROUP_ROLES];
  int nroles, min;
} group;

struct appr_policy {
  cJSON *req;
  const char *gate, *started_by, *on_timeout;
  const cJSON *approvers;       /* object: name -> [roles] (may be NULL) */
  char *bind;                   /* canonical */
  int count, distinct, allow_self, is_signed;
  int64_t deadline;
  group groups[MAX_GROUPS];
  int ngroups, need, free_places;
  appr_sig starter;             /* see approval_set_starter */
  char *starter_name, starter_why[300];
};

/* ---- canonical JSON -------------------------------------------------- */

static int by_key(const void *a, const void *b) {
  const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
  return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

/* Sorts the members of every object under v by key, in place. */
static int sort_keys(cJSON *v) {
  for (cJSON *c = v->child; c; c = c->next)
    if (sort_keys(c) != 0) return -1;
  if (!cJSON_IsObject(v) || !v->child) return 0;
  int n = 0;
  for (cJSON *c = v->child; c; c = c->next) n++;
  cJSON **items = malloc((size_t)n * sizeof *items);
  if (!items) return -1;
  int i = 0;
  for (cJSON *c = v->child; c; c = c->next) items[i++] = c;
  qsort(items, (size_t)n, sizeof *items, by_key);
  /* cJSON keeps the last item in the first item's prev. */
  for (i = 0; i < n; i++) {
    items[i]->prev = i ? items[i - 1] : items[n - 1];
    items[i]->next = i + 1 < n ? items[i + 1] : NULL;
  }
  v->child = items[0];
  free(items);
  return 0;
}

char *approval_canonical(const cJSON *v) {
  if (!v) return NULL;
  cJSON *copy = cJSON_Duplicate(v, 1);
  char *out = NULL;
  if (copy && sort_keys(copy) == 0) out = cJSON_PrintUnformatted(copy);
  cJSON_Delete(copy);
  return out;
}

/* ---- the request ----------------------------------------------------- */

static const char *str_field(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int bool_field(const cJSON *o, const char *k, int dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static int whole(const cJSON *v, int lo, int hi) {
  return cJSON_IsNumber(v) && v->valuedouble >= lo && v->valuedouble <= hi &&
         v->valuedouble == (double)(int)v->valuedouble;
}

static appr_policy *bad(appr_policy *p, char *err, size_t errlen,
                        const char *msg) {
  snprintf(err, errlen, "invalid approval request: %s", msg);
  approval_policy_free(p);
  return NULL;
}

appr_policy *approval_policy_new(const char *request_json, char *err,
                                 size_t errlen) {
  appr_policy *p = calloc(1, sizeof *p);
  if (!p) return bad(p, err, errlen, "out of memory");
  p->req = request_json ? cJSON_Parse(request_json) : NULL;
  if (!cJSON_IsObject(p->req)) return bad(p, err, errlen, "not a JSON object");
  const cJSON *r = p->req;
  p->gate = str_field(r, "gate");
  if (!p->gate || !*p->gate) return bad(p, err, errlen, "no gate");
  const cJSON *count = cJSON_GetObjectItemCaseSensitive(r, "count");
  if (count && !whole(count, 1, MAX_NEED))
    return bad(p, err, errlen, "count must be a whole number from 1 to 1000");
  p->count = count ? (int)count->valuedouble : 1;
  p->distinct = bool_field(r, "distinct", 1);
  p->allow_self = bool_field(r, "allow_self", 0);
  p->is_signed = bool_field(r, "signed", 0);
  p->started_by = str_field(r, "started_by");
  p->on_timeout = str_field(r, "on_timeout");
  if (!p->on_timeout) p->on_timeout = "fail";
  const cJSON *dl = cJSON_GetObjectItemCaseSensitive(r, "deadline");
  if (cJSON_IsNumber(dl)) p->deadline = (int64_t)dl->valuedouble;
  p->approvers = cJSON_GetObjectItemCaseSensitive(r, "approvers");
  if (p->approvers && !cJSON_IsObject(p->approvers))
    return bad(p, err, errlen, "approvers must be an object");

  const cJSON *bind = cJSON_GetObjectItemCaseSensitive(r, "bind");
  if (bind && !cJSON_IsObject(bind))
    return bad(p, err, errlen, "bind must be an object");
  p->bind = bind ? approval_canonical(bind) : strdup("{}");
  if (!p->bind) return bad(p, err, errlen, "out of memory");

  const cJSON *roles = cJSON_GetObjectItemCaseSensitive(r, "roles");
  int sum = 0;
  if (cJSON_IsArray(roles) && cJSON_GetArraySize(roles) > 0) {
    group *g = &p->groups[p->ngroups++];
    const cJSON *it;
    cJSON_ArrayForEach(it, roles) {
      if (!cJSON_IsString(it) || g->nroles == MAX_GROUP_ROLES)
        return bad(p, err, errlen, "roles must be a list of role names");
      g->roles[g->nroles++] = it->valuestring;
    }
    g->min = 1;
    sum = 1;
  } else if (cJSON_IsObject(roles)) {
    const cJSON *it;
    cJSON_ArrayForEach(it, roles) {
      if (!whole(it, 1, MAX_NEED) || p->ngroups == MAX_GROUPS)
        return bad(p, err, errlen, "roles must map role names to counts >= 1");
      group *g = &p->groups[p->ngroups++];
      g->roles[0] = it->string;
      g->nroles = 1;
      g->min = (int)it->valuedouble;
      sum += g->min;
    }
  } else if (roles && !cJSON_IsArray(roles) && !cJSON_IsNull(roles)) {
    return bad(p, err, errlen, "roles must be a list or a map of counts");
  }
  if (sum > MAX_NEED) return bad(p, err, errlen, "too many approvals needed");
  p->need = p->count > sum ? p->count : sum;
  p->free_places = p->need - sum;
  return p;
}

void approval_policy_free(appr_policy *p) {
  if (!p) return;
  cJSON_Delete(p->req);
  free(p->bind);
  free(p->starter_name);
  free(p);
}

const cJSON *approval_request(const appr_policy *p) { return p->req; }
const char *approval_gate(const appr_policy *p) { return p->gate; }
const char *approval_bind(const appr_policy *p) { return p->bind; }
int approval_signed(const appr_policy *p) { return p->is_signed; }
int approval_allow_self(const appr_policy *p) { return p->allow_self; }

void approval_set_starter(appr_policy *p, appr_sig state, const char *who,
                          const char *why) {
  free(p->starter_name);
  p->starter_name = who ? strdup(who) : NULL;
  p->starter = state;
  /* A trusted starter is a name (out of memory: nobody is trusted). */
  if ((state == APPR_SIG_VALID || state == APPR_SIG_UNCHECKED) &&
      !p->starter_name)
    p->starter = APPR_SIG_NONE;
  snprintf(p->starter_why, sizeof p->starter_why, "%s", why ? why : "");
}

const cJSON *approval_roles_of(const appr_policy *p, const char *actor) {
  if (!p->approvers || !actor) return NULL;
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(p->approvers, actor);
  /* An empty list of roles may have been written as {}. */
  return cJSON_IsArray(r) || (cJSON_IsObject(r) && !r->child) ? r : NULL;
}

static int holds(const appr_policy *p, const char *actor, const char *role) {
  const cJSON *it, *roles = approval_roles_of(p, actor);
  cJSON_ArrayForEach(it, roles)
    if (cJSON_IsString(it) && !strcmp(it->valuestring, role)) return 1;
  return 0;
}

static int fits_group(const appr_policy *p, const char *actor, int g) {
  for (int i = 0; i < p->groups[g].nroles; i++)
    if (holds(p, actor, p->groups[g].roles[i])) return 1;
  return 0;
}

/* ---- words ----------------------------------------------------------- */

typedef struct {
  char *buf;
  size_t len, used;
} sbuf;

static void put(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...) {
  assert(b->buf && b->len > 0 && b->used < b->len);
  if (b->used >= b->len) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b->buf + b->used, b->len - b->used, fmt, ap);
  va_end(ap);
  if (n > 0) b->used += (size_t)n;
  if (b->used >= b->len) b->used = b->len - 1;
  assert(n < 0 || b->buf[b->used] == '\0');
}

static void put_roles(sbuf *b, const group *g) {
  for (int i = 0; i < g->nroles; i++)
    put(b, "%s%s", i == 0 ? "" : i + 1 == g->nroles ? " or " : ", ",
        g->roles[i]);
}

static void put_all_roles(sbuf *b, const appr_policy *p) {
  for (int g = 0; g < p->ngroups; g++) {
    if (g) put(b, ", ");
    put_roles(b, &p->groups[g]);
  }
}

void approval_describe(const appr_policy *p, char *buf, size_t len) {
  sbuf b = {buf, len, 0};
  buf[0] = '\0';
  put(&b, "%d approval%s", p->need, p->need == 1 ? "" : "s");
  for (int g = 0; g < p->ngroups; g++) {
    put(&b, "%s%d from ", g ? ", " : " (", p->groups[g].min);
    put_roles(&b, &p->groups[g]);
    if (g + 1 == p->ngroups) put(&b, ")");
  }
  if (p->is_signed) put(&b, ", signed");
}

/* What the places still open need, from the matching. */
static void describe_open(const appr_policy *p, const int *place_group,
                          const int *match, char *buf, size_t len) {
  sbuf b = {buf, len, 0};
  buf[0] = '\0';
  int first = 1;
  for (int g = -1; g < p->ngroups; g++) {
    int open = 0;
    for (int s = 0; s < p->need; s++)
      if (place_group[s] == g && match[s] < 0) open++;
    if (!open) continue;
    if (g >= 0) {
      put(&b, "%s%d more from ", first ? "" : ", ", open);
      put_roles(&b, &p->groups[g]);
    } else if (p->ngroups) {
      put(&b, "%s%d more from anyone", first ? "" : ", ", open);
    } else {
      put(&b, "%s%d more approval%s", first ? "" : ", ", open,
          open == 1 ? "" : "s");
    }
    first = 0;
  }
}

/* ---- judging ---------------------------------------------------------- */

typedef struct {
  const appr_policy *p;
  const appr_decision *d;
  int *place_group;   /* place -> group, -1: anyone */
  int *match;         /* place -> unit, -1: open */
  int *unit;          /* unit -> decision index */
  char *seen;
} matching;

static int fits(const matching *m, int u, int s) {
  int g = m->place_group[s];
  return g < 0 || fits_group(m->p, m->d[m->unit[u]].actor, g);
}

static int augment(matching *m, int u) {
  for (int s = 0; s < m->p->need; s++) {
    if (m->seen[s] || !fits(m, u, s)) continue;
    m->seen[s] = 1;
    if (m->match[s] < 0 || augment(m, m->match[s])) {
      m->match[s] = u;
      return 1;
    }
  }
  return 0;
}

/* Why d cannot count, before places are looked at; NULL if it may. */
static const char *refusal(const appr_policy *p, const appr_decision *d,
                           char *buf, size_t len) {
  sbuf b = {buf, len, 0};
  buf[0] = '\0';
  if (p->is_signed && d->sig == APPR_SIG_NONE) {
    put(&b, "gate '%s' takes signed decisions only; %s's is not signed "
            "(sign with: --sign KEYFILE)", p->gate, d->actor);
    return buf;
  }
  if (p->is_signed && d->sig == APPR_SIG_BAD) {
    put(&b, "the signature of %s does not verify against the allowed "
            "signers: %s", d->actor,
        d->sig_error && *d->sig_error ? d->sig_error
                                      : "rejected by ssh-keygen");
    return buf;
  }
  const char *bind = d->bind ? d->bind : "{}";
  if (strcmp(bind, p->bind) != 0) {
    put(&b, "%s approved %s, but the gate asks about %s; an approval is "
            "for exactly the values it names", d->actor, bind, p->bind);
    return buf;
  }
  if (p->deadline && d->ts_ms > p->deadline &&
      strcmp(p->on_timeout, "pause") != 0) {
    put(&b, "the decision of %s came after the gate's deadline", d->actor);
    return buf;
  }
  /* On a signed gate the claimed starter ($SUMMIT_USER at start) counts
   * only when the start was signed by that person: anyone can claim to be
   * someone else, and then approve "their" run with their own key. */
  if (!p->allow_self && p->is_signed && p->starter != APPR_SIG_VALID &&
      p->starter != APPR_SIG_UNCHECKED) {
    if (p->starter == APPR_SIG_BAD)
      put(&b, "gate '%s' forbids self-approval and the start signature of "
              "this run does not verify (%s), so who started it is not "
              "known", p->gate, p->starter_why[0] ? p->starter_why
                                                  : "rejected by ssh-keygen");
    else
      put(&b, "gate '%s' forbids self-approval but this run's start was not "
              "signed, so who started it is not known (start it with: "
              "summit run FILE --sign KEYFILE; or allow_self = true)",
          p->gate);
    return buf;
  }
  const char *starter = p->is_signed ? p->starter_name : p->started_by;
  if (!p->allow_self && starter && !strcmp(d->actor, starter)) {
    put(&b, "%s started this run and cannot approve it (allow_self = false)",
        d->actor);
    return buf;
  }
  if (p->ngroups && !p->free_places) {
    int any = 0;
    for (int g = 0; g < p->ngroups && !any; g++)
      any = fits_group(p, d->actor, g);
    if (!any) {
      put(&b, "%s holds none of the roles gate '%s' requires (", d->actor,
          p->gate);
      put_all_roles(&b, p);
      const cJSON *mine = approval_roles_of(p, d->actor);
      if (!mine) {
        put(&b, "); %s is not listed in approvers in summit.lua", d->actor);
      } else {
        put(&b, "); summit.lua gives %s: ", d->actor);
        const cJSON *it;
        int i = 0;
        cJSON_ArrayForEach(it, mine)
          if (cJSON_IsString(it))
            put(&b, "%s%s", i++ ? ", " : "", it->valuestring);
        if (!i) put(&b, "no roles");
      }
      return buf;
    }
  }
  return NULL;
}

/* Judges decision i, given the ones before it (o, the *units counted so
 * far and their places in m): its verdict into ji, and o when it decides
 * the gate. */
static void judge_one(matching *m, int i, int *units, appr_judgement *ji,
                      appr_outcome *o) {
  const appr_policy *p = m->p;
  const appr_decision *d = m->d;
  ji->reason[0] = '\0';
  if (o->state != APPR_WAITING) {
    ji->verdict = APPR_AFTER;
    snprintf(ji->reason, sizeof ji->reason, "gate '%s' was already %s",
             p->gate, o->state == APPR_APPROVED ? "approved" : "rejected");
    return;
  }
  if (refusal(p, &d[i], ji->reason, sizeof ji->reason)) {
    ji->verdict = APPR_REFUSED;
    return;
  }
  if (!strcmp(d[i].decision, "reject")) {
    ji->verdict = APPR_REJECTS;
    o->state = APPR_REJECTED;
    o->decided_by = i;
    return;
  }
  if (strcmp(d[i].decision, "approve") != 0) {
    ji->verdict = APPR_REFUSED;
    snprintf(ji->reason, sizeof ji->reason, "unknown decision '%s'",
             d[i].decision);
    return;
  }
  int dup = 0;
  for (int u = 0; p->distinct && u < *units && !dup; u++)
    dup = !strcmp(d[m->unit[u]].actor, d[i].actor);
  if (dup) {
    ji->verdict = APPR_DUPLICATE;
    snprintf(ji->reason, sizeof ji->reason,
             "%s has already approved gate '%s'; counted once", d[i].actor,
             p->gate);
    return;
  }
  m->unit[*units] = i;
  memset(m->seen, 0, (size_t)p->need);
  if (!augment(m, *units)) {
    char open[400];
    describe_open(p, m->place_group, m->match, open, sizeof open);
    ji->verdict = APPR_REFUSED;
    snprintf(ji->reason, sizeof ji->reason,
             "the approvals gate '%s' still needs must come from other "
             "roles than %s holds: %s", p->gate, d[i].actor, open);
    return;
  }
  (*units)++;
  ji->verdict = APPR_COUNTED;
  if (*units == p->need) {
    o->state = APPR_APPROVED;
    o->decided_by = i;
  }
}

void approval_judge(const appr_policy *p, const appr_decision *d, int n,
                    appr_judgement *j, appr_outcome *o) {
  memset(o, 0, sizeof *o);
  o->need = p->need;
  o->decided_by = -1;
  o->state = APPR_WAITING;
  matching m = {.p = p, .d = d};
  m.place_group = malloc((size_t)p->need * sizeof *m.place_group);
  m.match = malloc((size_t)p->need * sizeof *m.match);
  m.unit = malloc(((size_t)n + 1) * sizeof *m.unit);
  m.seen = malloc((size_t)p->need);
  if (!m.place_group || !m.match || !m.unit || !m.seen) {
    for (int i = 0; i < n; i++) {
      j[i].verdict = APPR_REFUSED;
      snprintf(j[i].reason, sizeof j[i].reason, "out of memory");
    }
    snprintf(o->needs, sizeof o->needs, "(out of memory)");
    goto done;
  }
  /* Role places first, so an approver who holds a role fills it before a
   * place open to anyone. */
  int s = 0;
  for (int g = 0; g < p->ngroups; g++)
    for (int k = 0; k < p->groups[g].min; k++) m.place_group[s++] = g;
  while (s < p->need) m.place_group[s++] = -1;
  for (s = 0; s < p->need; s++) m.match[s] = -1;
  int units = 0;
  for (int i = 0; i < n; i++) judge_one(&m, i, &units, &j[i], o);
  o->have = units;
  if (o->state == APPR_WAITING)
    describe_open(p, m.place_group, m.match, o->needs, sizeof o->needs);
done:
  free(m.place_group);
  free(m.match);
  free(m.unit);
  free(m.seen);
}

/* ---- signatures ------------------------------------------------------- */

char *approval_message(const appr_policy *p, const char *decision) {
  const cJSON *r = p->req;
  const cJSON *att = cJSON_GetObjectItemCaseSensitive(r, "attempt");
  const char *run = str_field(r, "run"), *key = str_field(r, "key"),
             *sha = str_field(r, "source_sha256");
  const char *fmt =
      "summit-approval v1\n"
      "decision: %s\n"
      "run: %s\n"
      "gate: %s\n"
      "key: %s\n"
      "attempt: %lld\n"
      "bind: %s\n"
      "source-sha256: %s\n";
  long long a = cJSON_IsNumber(att) ? (long long)att->valuedouble : 0;
  int n = snprintf(NULL, 0, fmt, decision, run ? run : "", p->gate,
                   key ? key : "", a, p->bind, sha ? sha : "");
  char *out = n > 0 ? malloc((size_t)n + 1) : NULL;
  if (out)
    snprintf(out, (size_t)n + 1, fmt, decision, run ? run : "", p->gate,
             key ? key : "", a, p->bind, sha ? sha : "");
  return out;
}

int approval_principal_is_name(const char *principal) {
  return principal && *principal && *principal != '!' &&
         !strpbrk(principal, "*?,");
}

char *approval_start_message(const char *run, const char *source_sha256,
                             const char *params_json, const char *user) {
  cJSON *params = params_json ? cJSON_Parse(params_json) : NULL;
  char *canon = params ? approval_canonical(params) : NULL;
  cJSON_Delete(params);
  if (!canon) return NULL;
  unsigned char md[32];
  sm_sha256(canon, strlen(canon), md);
  free(canon);
  char hex[65];
  sha256_hex(md, hex);
  const char *fmt =
      "summit-start v1\n"
      "run: %s\n"
      "source-sha256: %s\n"
      "params-sha256: %s\n"
      "user: %s\n";
  int n = snprintf(NULL, 0, fmt, run, source_sha256, hex, user);
  char *out = n > 0 ? malloc((size_t)n + 1) : NULL;
  if (out) snprintf(out, (size_t)n + 1, fmt, run, source_sha256, hex, user);
  return out;
}

/* ssh-keygen -Y verify and -Y sign in a namespace (ns): a start signature
 * and a decision's are told apart by theirs. */
static void verify_argv(const char **argv, const char *ns,
                        const char *allowed_signers, const char *principal,
                        const char *sig_file) {
  const char *a[] = {"ssh-keygen", "-Y", "verify", "-f", allowed_signers,
                     "-I", principal, "-n", ns, "-s", sig_file, NULL};
  memcpy(argv, a, sizeof a);
}

static void sign_argv(const char **argv, const char *ns,
                      const char *key_file) {
  const char *a[] = {"ssh-keygen", "-q", "-Y", "sign", "-f", key_file, "-n",
                     ns, NULL};
  memcpy(argv, a, sizeof a);
}

void approval_start_verify_argv(const char **argv, const char *allowed_signers,
                                const char *principal, const char *sig_file) {
  verify_argv(argv, START_NAMESPACE, allowed_signers, principal, sig_file);
}

void approval_start_sign_argv(const char **argv, const char *key_file) {
  sign_argv(argv, START_NAMESPACE, key_file);
}

void approval_verify_argv(const char **argv, const char *allowed_signers,
                          const char *principal, const char *sig_file) {
  verify_argv(argv, APPROVAL_NAMESPACE, allowed_signers, principal, sig_file);
}

void approval_find_argv(const char **argv, const char *allowed_signers,
                        const char *sig_file) {
  const char *a[] = {"ssh-keygen", "-Y", "find-principals", "-f",
                     allowed_signers, "-s", sig_file, NULL};
  memcpy(argv, a, sizeof a);
}

void approval_sign_argv(const char **argv, const char *key_file) {
  sign_argv(argv, APPROVAL_NAMESPACE, key_file);
}

int approval_sig_file(const char *sig, char *path, size_t len) {
  const char *tmp = getenv("TMPDIR");
  if (!tmp || !*tmp) tmp = "/tmp";
  if ((size_t)snprintf(path, len, "%s/summit-sig-XXXXXX", tmp) >= len) {
    errno = ENAMETOOLONG;
    return -1;
  }
  int fd = mkstemp(path);
  if (fd < 0) return -1;
  size_t n = strlen(sig), off = 0;
  int ok = 1;
  while (ok && off < n) {
    ssize_t w = write(fd, sig + off, n - off);
    if (w >= 0) off += (size_t)w;
    else if (errno != EINTR) ok = 0;
  }
  int e = errno;  /* the write's error, or else the close's */
  if (close(fd) != 0 && ok) {
    ok = 0;
    e = errno;
  }
  if (ok) return 0;
  unlink(path);  /* a half-written signature file helps no one */
  errno = e;
  return -1;
}
