/* Unit tests for core/io/kubeconfig.c: a realistic kubeconfig with two
 * clusters, users and contexts; merging files the way kubectl merges
 * $KUBECONFIG (first wins); current-context and explicit contexts; relative
 * paths resolved against the file's directory; *-data base64 decoded;
 * token vs tokenFile; exec plugin fields and KUBERNETES_EXEC_INFO;
 * in-cluster config from a temporary service-account directory;
 * ExecCredential v1 and v1beta1; RFC 3339; and the errors (not YAML, top
 * level not a mapping, missing context, cluster and user, empty file, file
 * not found, ...), each checked for the file path and the names involved,
 * and checked never to show a secret. Each test gets its own temporary
 * directory. */
#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/kubeconfig.h"

static char dir[64];   /* /tmp/summit-kc-XXXXXX */

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/summit-kc-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  unsetenv("POD_NAMESPACE");
  unsetenv("SUMMIT_SA_DIR");
}

static int rm_one(const char *p, const struct stat *st, int flag,
                  struct FTW *f) {
  (void)st, (void)flag, (void)f;
  return remove(p);
}

static void teardown(void) {
  nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(kubeconfig, .init = setup, .fini = teardown, .timeout = 10);

/* Writes dir/rel (creating one level of subdirectory if needed) and
 * returns the full path in a static buffer rotation. */
static const char *put(const char *rel, const char *text) {
  static char paths[8][PATH_MAX];
  static int next;
  char *p = paths[next++ % 8];
  snprintf(p, PATH_MAX, "%s/%s", dir, rel);
  char *slash = strrchr(p, '/');
  if (slash > p + strlen(dir)) {
    *slash = '\0';
    mkdir(p, 0700);
    *slash = '/';
  }
  FILE *f = fopen(p, "w");
  cr_assert_not_null(f, "%s: %s", p, strerror(errno));
  fwrite(text, 1, strlen(text), f);
  fclose(f);
  return p;
}

static kubeconfig *load1(const char *path, char *err, size_t errlen) {
  const char *paths[] = {path};
  return kubeconfig_load(paths, 1, err, errlen);
}

#define CA_PEM "-----BEGIN CERTIFICATE-----\nMIIBCA==\n" \
               "-----END CERTIFICATE-----\n"
#define CA_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJDQT09Ci0tLS0tRU5E" \
               "IENFUlRJRklDQVRFLS0tLS0K"
#define CERT_PEM "-----BEGIN CERTIFICATE-----\nMIIBQ0xJRU5U\n" \
                 "-----END CERTIFICATE-----\n"
#define CERT_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJRMHhKUlU1VQot" \
                 "LS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg=="
#define KEY_PEM "-----BEGIN PRIVATE KEY-----\nS0VZREFUQQ==\n" \
                "-----END PRIVATE KEY-----\n"
#define KEY_B64 "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tClMwVlpSRUZVUVE9PQotLS0t" \
                "LUVORCBQUklWQVRFIEtFWS0tLS0tCg=="

/* What `kubectl config view --raw` prints for a two-cluster setup, plus
 * the extensions and preferences real files carry. */
static const char realistic[] =
  "apiVersion: v1\n"
  "kind: Config\n"
  "preferences: {}\n"
  "clusters:\n"
  "- cluster:\n"
  "    certificate-authority-data: " CA_B64 "\n"
  "    server: https://prod.example.com:6443/\n"
  "    tls-server-name: kubernetes.default\n"
  "    extensions:\n"
  "    - name: client.authentication.k8s.io/exec\n"
  "      extension: {audience: foo}\n"
  "  name: prod\n"
  "- name: dev\n"
  "  cluster:\n"
  "    server: https://127.0.0.1:16443\n"
  "    certificate-authority: certs/ca.crt\n"
  "    proxy-url: http://proxy:3128\n"
  "contexts:\n"
  "- context:\n"
  "    cluster: prod\n"
  "    user: admin\n"
  "    namespace: payments\n"
  "  name: prod\n"
  "- name: dev\n"
  "  context: {cluster: dev, user: dev-user}\n"
  "current-context: prod\n"
  "users:\n"
  "- name: admin\n"
  "  user:\n"
  "    client-certificate-data: " CERT_B64 "\n"
  "    client-key-data: " KEY_B64 "\n"
  "- name: dev-user\n"
  "  user:\n"
  "    token: dev-token-abc\n";

Test(kubeconfig, realistic_current_context) {
  char err[512] = "";
  const char *p = put("config", realistic);
  kubeconfig *kc = load1(p, err, sizeof err);
  cr_assert_not_null(kc, "%s", err);
  cr_assert_str_eq(kubeconfig_current_context(kc), "prod");
  cr_assert_eq(kubeconfig_context_count(kc), 2);
  cr_assert_str_eq(kubeconfig_context_name(kc, 0), "prod");
  cr_assert_str_eq(kubeconfig_context_name(kc, 1), "dev");
  cr_assert_null(kubeconfig_context_name(kc, 2));

  kube_conn c;
  cr_assert_eq(kubeconfig_resolve(kc, NULL, &c, err, sizeof err), 0, "%s",
               err);
  cr_assert_str_eq(c.source, p);
  cr_assert_str_eq(c.context, "prod");
  cr_assert_str_eq(c.cluster, "prod");
  cr_assert_str_eq(c.user, "admin");
  cr_assert_str_eq(c.server, "https://prod.example.com:6443",
                   "trailing slash dropped");
  cr_assert_str_eq(c.ns, "payments");
  cr_assert_str_eq(c.tls_server_name, "kubernetes.default");
  cr_assert_str_eq(c.ca_data, CA_PEM);
  cr_assert_eq(c.ca_data_len, strlen(CA_PEM));
  cr_assert_null(c.ca_file);
  cr_assert_eq(c.insecure, 0);
  cr_assert_str_eq(c.client_cert_data, CERT_PEM);
  cr_assert_eq(c.client_cert_data_len, strlen(CERT_PEM));
  cr_assert_str_eq(c.client_key_data, KEY_PEM);
  cr_assert_eq(c.client_key_data_len, strlen(KEY_PEM));
  cr_assert_null(c.token);
  cr_assert_null(c.exec);
  kube_conn_free(&c);
  cr_assert_null(c.server, "kube_conn_free zeroes");
  kube_conn_free(&c);   /* twice is harmless */
  kubeconfig_free(kc);
}

Test(kubeconfig, realistic_explicit_context) {
  char err[512] = "", want[PATH_MAX];
  const char *p = put("config", realistic);
  kubeconfig *kc = load1(p, err, sizeof err);
  cr_assert_not_null(kc, "%s", err);
  kube_conn c;
  cr_assert_eq(kubeconfig_resolve(kc, "dev", &c, err, sizeof err), 0, "%s",
               err);
  cr_assert_str_eq(c.context, "dev");
  cr_assert_str_eq(c.server, "https://127.0.0.1:16443");
  cr_assert_str_eq(c.ns, "default");
  snprintf(want, sizeof want, "%s/certs/ca.crt", dir);
  cr_assert_str_eq(c.ca_file, want, "relative to the kubeconfig's dir");
  cr_assert_null(c.ca_data);
  cr_assert_str_eq(c.proxy_url, "http://proxy:3128");
  cr_assert_str_eq(c.user, "dev-user");
  cr_assert_str_eq(c.token, "dev-token-abc");
  cr_assert_null(c.token_file);
  kube_conn_free(&c);
  kubeconfig_free(kc);
}

Test(kubeconfig, json_kubeconfig) {
  char err[512] = "";
  const char *p = put("config.json",
    "{\"apiVersion\":\"v1\",\"kind\":\"Config\",\"clusters\":[{\"name\":\"c\","
    "\"cluster\":{\"server\":\"https://h:1\",\"insecure-skip-tls-verify\":"
    "true}}],\"users\":[{\"name\":\"u\",\"user\":{\"token\":\"t\"}}],"
    "\"contexts\":[{\"name\":\"x\",\"context\":{\"cluster\":\"c\",\"user\":"
    "\"u\",\"namespace\":\"n\"}}],\"current-context\":\"x\"}");
  kubeconfig *kc = load1(p, err, sizeof err);
  cr_assert_not_null(kc, "%s", err);
  kube_conn c;
  cr_assert_eq(kubeconfig_resolve(kc, NULL, &c, err, sizeof err), 0, "%s",
               err);
  cr_assert_str_eq(c.server, "https://h:1");
  cr_assert_eq(c.insecure, 1);
  cr_assert_str_eq(c.ns, "n");
  cr_assert_str_eq(c.token, "t");
  kube_conn_free(&c);
  kubeconfig_free(kc);
}

static const char file_a[] =
  "current-context: a-ctx\n"
  "clusters:\n"
  "- name: shared\n"
  "  cluster: {server: https://a.example}\n"
  "contexts:\n"
  "- name: a-ctx\n"
  "  context: {cluster: shared, namespace: from-a}\n"
  "- name: both\n"
  "  context: {cluster: shared, namespace: both-from-a}\n";

static const char file_b[] =
  "current-context: b-ctx\n"
  "clusters:\n"
  "- name: shared\n"
  "  cluster: {server: https://b.example}\n"
  "- name: b-only\n"
  "  cluster: {server: https://b-only.example}\n"
  "users:\n"
  "- name: bob\n"
  "  user: {token: bob-token}\n"
  "contexts:\n"
  "- name: b-ctx\n"
  "  context: {cluster: b-only, user: bob}\n"
  "- name: both\n"
  "  context: {cluster: b-only, namespace: both-from-b}\n";

Test(kubeconfig, merge_first_wins) {
  char err[512] = "";
  const char *a = put("a/config", file_a);
  const char *b = put("b/config", file_b);
  char missing[PATH_MAX];
  snprintf(missing, sizeof missing, "%s/nope/config", dir);
  const char *paths[] = {a, missing, b};
  kubeconfig *kc = kubeconfig_load(paths, 3, err, sizeof err);
  cr_assert_not_null(kc, "a missing file among several is skipped: %s", err);
  cr_assert_str_eq(kubeconfig_current_context(kc), "a-ctx");
  cr_assert_eq(kubeconfig_context_count(kc), 3);

  kube_conn c;
  cr_assert_eq(kubeconfig_resolve(kc, NULL, &c, err, sizeof err), 0, "%s",
               err);
  cr_assert_str_eq(c.server, "https://a.example");
  cr_assert_str_eq(c.ns, "from-a");
  cr_assert_null(c.user, "no user: anonymous");
  cr_assert_str_eq(c.server, "https://a.example");
  kube_conn_free(&c);

  /* Context from B, cluster from B, user from B. */
  cr_assert_eq(kubeconfig_resolve(kc, "b-ctx", &c, err, sizeof err), 0);
  cr_assert_str_eq(c.server, "https://b-only.example");
  cr_assert_str_eq(c.token, "bob-token");
  cr_assert_str_eq(c.source, b);
  kube_conn_free(&c);

  /* "both" is in both files: A's entry wins whole (not field by field). */
  cr_assert_eq(kubeconfig_resolve(kc, "both", &c, err, sizeof err), 0);
  cr_assert_str_eq(c.ns, "both-from-a");
  cr_assert_str_eq(c.server, "https://a.example");
  cr_assert_str_eq(c.source, a);
  kube_conn_free(&c);
  kubeconfig_free(kc);

  /* The other order: B's current-context and B's "shared". */
  const char *rev[] = {b, a};
  kc = kubeconfig_load(rev, 2, err, sizeof err);
  cr_assert_not_null(kc, "%s", err);
  cr_assert_str_eq(kubeconfig_current_context(kc), "b-ctx");
  cr_assert_eq(kubeconfig_resolve(kc, "a-ctx", &c, err, sizeof err), 0);
  cr_assert_str_eq(c.server, "https://b.example");
  cr_assert_str_eq(c.ns, "from-a");
  kube_conn_free(&c);
  kubeconfig_free(kc);
}

Test(kubeconfig, current_context_from_a_later_file) {
  char err[512] = "";
  const char *a = put("a", "clusters: []\n");
  const char *b = put("b", file_b);
  const char *paths[] = {a, b};
  kubeconfig *kc = kubeconfig_load(paths, 2, err, sizeof err);
  cr_assert_not_null(kc, "%s", err);
  cr_assert_str_eq(kubeconfig_current_context(kc), "b-ctx");
  kubeconfig_free(kc);
}

Test(kubeconfig, relative_paths) {
  char err[512] = "", want[PATH_MAX];
  const char *p = put("sub/config",
    "clusters:\n"
    "- name: c\n"
    "  cluster: {server: https://h, certificate-authority: ../pki/./ca.pem}\n"
    "users:\n"
    "- name: u\n"
    "  user:\n"
    "    client-certificate: ./client.crt\n"
    "    client-key: keys//client.key\n"
    "    tokenFile: tok\n"
    "    exec:\n"
    "      command: ./bin/plugin\n"
    "      apiVersion: client.authentication.k8s.io/v1beta1\n"
    "- name: path-based\n"
    "  user:\n"
    "    client-certificate: /abs/c.crt\n"
    "    client-key: /abs/c.key\n"
    "    exec: {command: gke-gcloud-auth-plugin,"
    " apiVersion: client.authentication.k8s.io/v1beta1}\n"
    "contexts:\n"
    "- {name: x, context: {cluster: c, user: u}}\n"
    "- {name: y, context: {cluster: c, user: path-based}}\n");
  kubeconfig *kc = load1(p, err, sizeof err);
  cr_assert_not_null(kc, "%s", err);
  kube_conn c;
  cr_assert_eq(kubeconfig_resolve(kc, "x", &c, err, sizeof err), 0, "%s",
               err);
  snprintf(want, sizeof want, "%s/pki/ca.pem", dir);
  cr_assert_str_eq(c.ca_file, want);
  snprintf(want, sizeof want, "%s/sub/client.crt", dir);
  cr_assert_str_eq(c.client_cert_file, want);
  snprintf(want, sizeof want, "%s/sub/keys/client.key", dir);
  cr_assert_str_eq(c.client_key_file, want);
  snprintf(want, sizeof want, "%s/sub/tok", dir);
  cr_assert_str_eq(c.token_file, want);
  snprintf(want, sizeof want, "%s/sub/bin/plugin", dir);
  cr_assert_not_null(c.exec);
  cr_assert_str_eq(c.exec->command, want);
  cr_assert_str_eq(c.server, "https://h");
  kube_conn_free(&c);

  cr_assert_eq(kubeconfig_resolve(kc, "y", &c, err, sizeof err), 0, "%s",
               err);
  cr_assert_str_eq(c.client_cert_file, "/abs/c.crt");
  cr_assert_str_eq(c.exec->command, "gke-gcloud-auth-plugin",
                   "a PATH-based command is left alone");
  kube_conn_free(&c);
  kubeconfig_free(kc);
}

Test(kubeconfig, relative_kubeconfig_path) {
  char err[512] = "", want[PATH_MAX], cwd[PATH_MAX];
  put("rel/config", "clusters:\n- {name: c, cluster: {server: h:1,"
      " certificate-authority: ca}}\n"
      "contexts:\n- {name: x, context: {cluster: c}}\n");
  cr_assert_not_null(getcwd(cwd, sizeof cwd));
  cr_assert_eq(chdir(dir), 0);
  kubeconfig *kc = load1("rel/config", err, sizeof err);
  cr_assert_eq(chdir(cwd), 0);
  cr_assert_not_null(kc, "%s", err);
  kube_conn c;
  cr_assert_eq(kubeconfig_resolve(kc, "x", &c, err, sizeof err), 0);
  snprintf(want, sizeof want, "%s/rel/ca", dir);
  cr_assert_str_eq(c.ca_file, want);
  cr_assert_str_eq(c.server, "https://h:1", "no scheme + CA: https");
  cr_assert_str_eq(c.source, "rel/config");
  kube_conn_free(&c);
  kubeconfig_free(kc);
}

Test(kubeconfig, parse_in_memory) {
  char err[512] = "";
  const char text[] = "clusters:\n- {name: c, cluster: {server: 'h:8080',"
                      " certificate-authority: ca.crt}}\n"
                      "contexts:\n- {name: x, context: {cluster: c}}\n";
  kubeconfig *kc = kubeconfig_parse(text, sizeof text - 1, NULL, err,
                                    sizeof err);
  cr_assert_not_null(kc, "%s", err);
  kube_conn c;
  cr_assert_eq(kubeconfig_resolve(kc, "x", &c, err, sizeof err), 0, "%s",
               err);
  cr_assert_str_eq(c.ca_file, "ca.crt", "no file: stays relative");
  cr_assert_str_eq(c.source, "(in memory)");
  kube_conn_free(&c);
  kubeconfig_free(kc);

  const char t2[] = "contexts:\n- {name: x, context: {cluster: c}}\n"
                    "clusters:\n- {name: c, cluster: {server: h:1}}\n";
  kc = kubeconfig_parse(t2, strlen(t2), "/etc/x/config", err, sizeof err);
  cr_assert_not_null(kc, "%s", err);
  cr_assert_eq(kubeconfig_resolve(kc, "x", &c, err, sizeof err), 0);
  cr_assert_str_eq(c.server, "http://h:1", "no scheme, no TLS: http");
  kube_conn_free(&c);
  kubeconfig_free(kc);
}

/* Resolution keeps both the inline token and the absolute token file; the
 * file is read (and re-read, tokens rotate) per request by cluster.lua,
 * tested in tests/integration/test_cluster.sh. */
Test(kubeconfig, token_vs_token_file) {
  char err[512] = "", want[PATH_MAX];
  put("tokens/current", "file-token-xyz\n");
  const char *p = put("config",
    "clusters: [{name: c, cluster: {server: https://h}}]\n"
    "users:\n"
    "- {name: file, user: {tokenFile: tokens/current}}\n"
    "- {name: both, user: {token: inline-tok, tokenFile: tokens/current}}\n"
    "- {name: missing, user: {tokenFile: tokens/nope}}\n"
    "contexts:\n"
    "- {name: file, context: {cluster: c, user: file}}\n"
    "- {name: both, context: {cluster: c, user: both}}\n"
    "- {name: missing, context: {cluster: c, user: missing}}\n");
  kubeconfig *kc = load1(p, err, sizeof err);
  cr_assert_not_null(kc, "%s", err);
  kube_conn c;

  cr_assert_eq(kubeconfig_resolve(kc, "file", &c, err, sizeof err), 0);
  cr_assert_null(c.token);
  snprintf(want, sizeof want, "%s/tokens/current", dir);
  cr_assert_str_eq(c.token_file, want);
  kube_conn_free(&c);

  cr_assert_eq(kubeconfig_resolve(kc, "both", &c, err, sizeof err), 0);
  cr_assert_str_eq(c.token, "inline-tok");
  cr_assert_str_eq(c.token_file, want);
  kube_conn_free(&c);

  /* A token file that does not exist is not read while resolving. */
  cr_assert_eq(kubeconfig_resolve(kc, "missing", &c, err, sizeof err), 0,
               "%s", err);
  snprintf(want, sizeof want, "%s/tokens/nope", dir);
  cr_assert_str_eq(c.token_file, want);
  kube_conn_free(&c);
  kubeconfig_free(kc);
}

static const char exec_cfg[] =
  "clusters:\n"
  "- name: gke\n"
  "  cluster:\n"
  "    server: https://34.1.2.3\n"
  "    certificate-authority-data: " CA_B64 "\n"
  "    tls-server-name: gke.internal\n"
  "users:\n"
  "- name: plugin\n"
  "  user:\n"
  "    exec:\n"
  "      apiVersion: client.authentication.k8s.io/v1\n"
  "      command: /usr/bin/gke-gcloud-auth-plugin\n"
  "      args: [--use_application_default_credentials, '', \"x y\"]\n"
  "      env:\n"
  "      - name: CLOUDSDK_CORE_PROJECT\n"
  "        value: my-project\n"
  "      - name: EMPTY\n"
  "      interactiveMode: Never\n"
  "      provideClusterInfo: true\n"
  "      installHint: install it with gcloud components\n"
  "contexts:\n"
  "- name: gke\n"
  "  context: {cluster: gke, user: plugin}\n"
  "current-context: gke\n";

Test(kubeconfig, exec_plugin_fields) {
  char err[512] = "";
  const char *p = put("config", exec_cfg);
  kubeconfig *kc = load1(p, err, sizeof err);
  cr_assert_not_null(kc, "%s", err);
  kube_conn c;
  cr_assert_eq(kubeconfig_resolve(kc, NULL, &c, err, sizeof err), 0, "%s",
               err);
  kube_exec *e = c.exec;
  cr_assert_not_null(e);
  cr_assert_str_eq(e->command, "/usr/bin/gke-gcloud-auth-plugin");
  cr_assert_eq(e->n_args, 3);
  cr_assert_str_eq(e->args[0], "--use_application_default_credentials");
  cr_assert_str_eq(e->args[1], "", "empty args are kept");
  cr_assert_str_eq(e->args[2], "x y");
  cr_assert_eq(e->n_env, 2);
  cr_assert_str_eq(e->env[0].name, "CLOUDSDK_CORE_PROJECT");
  cr_assert_str_eq(e->env[0].value, "my-project");
  cr_assert_str_eq(e->env[1].name, "EMPTY");
  cr_assert_str_eq(e->env[1].value, "");
  cr_assert_str_eq(e->api_version, "client.authentication.k8s.io/v1");
  cr_assert_eq(e->interactive_mode, KUBE_EXEC_NEVER);
  cr_assert_eq(e->provide_cluster_info, 1);
  cr_assert_str_eq(e->install_hint, "install it with gcloud components");
  kube_conn_free(&c);
  kubeconfig_free(kc);
}

Test(kubeconfig, exec_v1beta1_defaults) {
  char err[512] = "";
  put("ca.crt", CA_PEM);
  const char *p = put("config",
    "clusters: [{name: c, cluster: {server: https://h, "
    "certificate-authority: ca.crt}}]\n"
    "users: [{name: u, user: {exec: {command: p, provideClusterInfo: true,"
    " apiVersion: client.authentication.k8s.io/v1beta1}}}]\n"
    "contexts: [{name: x, context: {cluster: c, user: u}}]\n");
  kubeconfig *kc = load1(p, err, sizeof err);
  cr_assert_not_null(kc, "%s", err);
  kube_conn c;
  cr_assert_eq(kubeconfig_resolve(kc, "x", &c, err, sizeof err), 0);
  cr_assert_eq(c.exec->interactive_mode, KUBE_EXEC_IF_AVAILABLE,
               "v1beta1 defaults to IfAvailable");
  cr_assert_str_eq(c.exec->api_version,
                   "client.authentication.k8s.io/v1beta1");
  cr_assert_eq(c.exec->provide_cluster_info, 1);
  cr_assert_str_eq(c.exec->command, "p", "a PATH-based command stays as is");
  kube_conn_free(&c);
  kubeconfig_free(kc);
}

/* Loads text as dir/config, expects failure, returns the message. */
static const char *load_err(const char *text, char *err, size_t errlen) {
  const char *p = put("config", text);
  kubeconfig *kc = load1(p, err, errlen);
  cr_assert_null(kc, "expected an error for:\n%s", text);
  cr_assert(strstr(err, p), "the message names the file: %s", err);
  return err;
}

Test(kubeconfig, exec_errors) {
  char err[512];
  load_err("users: [{name: u, user: {exec: {command: p, apiVersion: "
           "client.authentication.k8s.io/v1}}}]\n", err, sizeof err);
  cr_assert(strstr(err, "interactiveMode must be specified"), "%s", err);
  cr_assert(strstr(err, ":1:"), "%s", err);
  load_err("users: [{name: u, user: {exec: {command: p, apiVersion: "
           "client.authentication.k8s.io/v1alpha1}}}]\n", err, sizeof err);
  cr_assert(strstr(err, "v1alpha1") && strstr(err, "not supported"), "%s",
            err);
  load_err("users: [{name: u, user: {exec: {apiVersion: "
           "client.authentication.k8s.io/v1beta1}}}]\n", err, sizeof err);
  cr_assert(strstr(err, "users[0].user.exec.command is required"), "%s",
            err);
  load_err("users: [{name: u, user: {exec: {command: p, interactiveMode: "
           "Sometimes, apiVersion: client.authentication.k8s.io/v1}}}]\n",
           err, sizeof err);
  cr_assert(strstr(err, "Sometimes"), "%s", err);
  load_err("users: [{name: u, user: {exec: {command: p, args: notalist, "
           "apiVersion: client.authentication.k8s.io/v1beta1}}}]\n",
           err, sizeof err);
  cr_assert(strstr(err, "exec.args must be a list"), "%s", err);
  load_err("users: [{name: u, user: {exec: {command: p, env: [{value: "
           "SECRETENV}], apiVersion: client.authentication.k8s.io/"
           "v1beta1}}}]\n", err, sizeof err);
  cr_assert(strstr(err, "env[0] has no name"), "%s", err);
  cr_assert_null(strstr(err, "SECRETENV"));
}

Test(kubeconfig, in_cluster) {
  char err[512] = "", want[PATH_MAX];
  put("sa/token", "sa-token-123\n");
  put("sa/ca.crt", CA_PEM);
  put("sa/namespace", "team-a\n");
  snprintf(want, sizeof want, "%s/sa", dir);
  setenv("SUMMIT_SA_DIR", want, 1);

  kube_conn c;
  cr_assert_eq(kube_conn_in_cluster(&c, err, sizeof err), -1);
  cr_assert(strstr(err, "KUBERNETES_SERVICE_HOST"), "%s", err);
  cr_assert_null(c.server);

  setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  cr_assert_eq(kube_conn_in_cluster(&c, err, sizeof err), 0, "%s", err);
  cr_assert_str_eq(c.server, "https://10.96.0.1:443");
  cr_assert_str_eq(c.token, "sa-token-123");
  snprintf(want, sizeof want, "%s/sa/token", dir);
  cr_assert_str_eq(c.token_file, want);
  snprintf(want, sizeof want, "%s/sa/ca.crt", dir);
  cr_assert_str_eq(c.ca_file, want);
  cr_assert_str_eq(c.ns, "team-a");
  cr_assert_str_eq(c.source, "in-cluster");
  cr_assert_null(c.context);
  kube_conn_free(&c);

  setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  setenv("POD_NAMESPACE", "from-env", 1);
  cr_assert_eq(kube_conn_in_cluster(&c, err, sizeof err), 0, "%s", err);
  cr_assert_str_eq(c.server, "https://[fd00::1]:443");
  cr_assert_str_eq(c.ns, "from-env");
  kube_conn_free(&c);
  unsetenv("POD_NAMESPACE");

  /* No namespace or CA file: "default" and no CA. */
  snprintf(want, sizeof want, "%s/sa/namespace", dir);
  unlink(want);
  snprintf(want, sizeof want, "%s/sa/ca.crt", dir);
  unlink(want);
  cr_assert_eq(kube_conn_in_cluster(&c, err, sizeof err), 0, "%s", err);
  cr_assert_str_eq(c.ns, "default");
  cr_assert_null(c.ca_file);
  kube_conn_free(&c);

  /* No token: an error naming the file. */
  snprintf(want, sizeof want, "%s/sa/token", dir);
  unlink(want);
  cr_assert_eq(kube_conn_in_cluster(&c, err, sizeof err), -1);
  cr_assert(strstr(err, want), "%s", err);
  cr_assert_null(c.server);
}

Test(kubeconfig, default_paths) {
  size_t n = 99;
  setenv("KUBECONFIG", "/a/config::/b/config:/a/config:", 1);
  char **v = kubeconfig_default_paths(&n);
  cr_assert_not_null(v);
  cr_assert_eq(n, 2);
  cr_assert_str_eq(v[0], "/a/config");
  cr_assert_str_eq(v[1], "/b/config");
  cr_assert_null(v[2]);
  kubeconfig_paths_free(v);

  setenv("KUBECONFIG", "", 1);
  setenv("HOME", "/home/someone", 1);
  v = kubeconfig_default_paths(&n);
  cr_assert_eq(n, 1);
  cr_assert_str_eq(v[0], "/home/someone/.kube/config");
  kubeconfig_paths_free(v);
  unsetenv("KUBECONFIG");
  v = kubeconfig_default_paths(NULL);
  cr_assert_str_eq(v[0], "/home/someone/.kube/config");
  kubeconfig_paths_free(v);
}

/* ---- ExecCredential ---- */

Test(kubeconfig, exec_credential_v1_token) {
  const char *j =
    "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
    "\"ExecCredential\",\"status\":{\"token\":\"ya29.tok\","
    "\"expirationTimestamp\":\"2024-05-01T12:00:00Z\"}}\n";
  kube_credential cr;
  char err[256] = "";
  cr_assert_eq(kube_exec_credential_parse(j, strlen(j), &cr, err, sizeof err),
               0, "%s", err);
  cr_assert_str_eq(cr.api_version, "client.authentication.k8s.io/v1");
  cr_assert_str_eq(cr.token, "ya29.tok");
  cr_assert_eq(cr.expires_ms, INT64_C(1714564800000));
  cr_assert_null(cr.client_cert_data);
  kube_credential_free(&cr);
  cr_assert_null(cr.token);
}

Test(kubeconfig, exec_credential_v1beta1_cert) {
  const char *j =
    "{\"kind\":\"ExecCredential\",\"apiVersion\":"
    "\"client.authentication.k8s.io/v1beta1\",\"spec\":{},\"status\":{"
    "\"clientCertificateData\":\"" "-----BEGIN CERTIFICATE-----\\nMII\\n"
    "-----END CERTIFICATE-----\\n" "\",\"clientKeyData\":\""
    "-----BEGIN PRIVATE KEY-----\\nK\\n-----END PRIVATE KEY-----\\n\"}}";
  kube_credential cr;
  char err[256] = "";
  cr_assert_eq(kube_exec_credential_parse(j, strlen(j), &cr, err, sizeof err),
               0, "%s", err);
  cr_assert_null(cr.token);
  cr_assert_eq(cr.expires_ms, 0, "no expiry");
  cr_assert_str_eq(cr.client_cert_data,
                   "-----BEGIN CERTIFICATE-----\nMII\n"
                   "-----END CERTIFICATE-----\n");
  cr_assert_eq(cr.client_cert_data_len, strlen(cr.client_cert_data));
  cr_assert_str_eq(cr.client_key_data, "-----BEGIN PRIVATE KEY-----\nK\n"
                   "-----END PRIVATE KEY-----\n");
  kube_credential_free(&cr);
}

/* Parses j; expects failure mentioning want and never "SECRET". */
static void cred_err(const char *j, const char *want) {
  kube_credential cr;
  char err[256] = "";
  cr_assert_eq(kube_exec_credential_parse(j, strlen(j), &cr, err, sizeof err),
               -1, "%s", j);
  cr_assert(strstr(err, want), "%s: want %s", err, want);
  cr_assert_null(strstr(err, "SECRET"), "secret leaked: %s", err);
  cr_assert_null(cr.token);
  cr_assert_null(cr.api_version);
}

#define V1 "\"apiVersion\":\"client.authentication.k8s.io/v1\""
#define KIND "\"kind\":\"ExecCredential\""

Test(kubeconfig, exec_credential_errors) {
  cred_err("", "printed nothing");
  cred_err("{\"status\":{\"token\":\"SECRET", "not JSON");
  cred_err("Please log in: SECRET", "not JSON");
  cred_err("[1]", "not a JSON object");
  cred_err("{" KIND ",\"status\":{\"token\":\"SECRET\"}}", "no apiVersion");
  cred_err("{\"apiVersion\":\"client.authentication.k8s.io/v1alpha1\"," KIND
           ",\"status\":{\"token\":\"SECRET\"}}", "v1alpha1");
  cred_err("{" V1 ",\"kind\":\"Other\",\"status\":{\"token\":\"SECRET\"}}",
           "not an ExecCredential");
  cred_err("{" V1 "," KIND "}", "didn't return a status");
  cred_err("{" V1 "," KIND ",\"status\":{}}", "didn't return a token");
  cred_err("{" V1 "," KIND ",\"status\":{\"token\":\"\"}}",
           "didn't return a token");
  cred_err("{" V1 "," KIND ",\"status\":{\"token\":5}}", "must be a string");
  cred_err("{" V1 "," KIND ",\"status\":{\"token\":\"SECRET\","
           "\"clientKeyData\":\"SECRETKEY\"}}", "not both");
  cred_err("{" V1 "," KIND ",\"status\":{\"token\":\"SECRET\","
           "\"expirationTimestamp\":\"tomorrow\"}}", "\"tomorrow\"");
  cred_err("{" V1 "," KIND ",\"status\":{\"token\":\"SECRET\","
           "\"expirationTimestamp\":7}}", "must be a string");
}

/* ---- errors ---- */

Test(kubeconfig, error_not_yaml_binary) {
  char err[512];
  const char bin[] = "\x7f" "ELF\x02\x01\x01\x00\x00\x00\x00\x00\xff\xfe";
  const char *p = put("config", "");
  FILE *f = fopen(p, "w");
  fwrite(bin, 1, sizeof bin - 1, f);
  fclose(f);
  kubeconfig *kc = load1(p, err, sizeof err);
  cr_assert_null(kc);
  cr_assert(strstr(err, p), "%s", err);
  cr_assert(strstr(err, "kubeconfig "), "%s", err);
}

Test(kubeconfig, error_tabs) {
  char err[512];
  load_err("clusters:\n\t- name: c\n", err, sizeof err);
  char want[PATH_MAX + 16];
  snprintf(want, sizeof want, "%s/config:2:1: ", dir);
  cr_assert(strstr(err, want), "file:line:col: %s", err);
}

Test(kubeconfig, error_yaml_syntax_has_line_col) {
  char err[512];
  load_err("clusters:\n- name: c\n  cluster:\n    server: x\n"
           "  bad: [unclosed\n", err, sizeof err);
  char want[PATH_MAX + 16];
  snprintf(want, sizeof want, "%s/config:", dir);
  cr_assert(strstr(err, want), "%s", err);
  cr_assert(strstr(err, "kubeconfig "), "%s", err);
}

Test(kubeconfig, error_top_level_not_mapping) {
  char err[512];
  load_err("- name: a\n- name: b\n", err, sizeof err);
  cr_assert(strstr(err, ":1:1: the top level must be a mapping"), "%s", err);
  cr_assert(strstr(err, "not a list"), "%s", err);
  load_err("just a string\n", err, sizeof err);
  cr_assert(strstr(err, "not a string"), "%s", err);
}

Test(kubeconfig, error_wrong_shapes) {
  char err[512];
  load_err("clusters: foo\n", err, sizeof err);
  cr_assert(strstr(err, ":1:11: clusters must be a list"), "%s", err);
  load_err("clusters:\n- justname\n", err, sizeof err);
  cr_assert(strstr(err, ":2:3: clusters[0] must be a mapping"), "%s", err);
  load_err("clusters:\n- name: c\n  cluster: [a]\n", err, sizeof err);
  cr_assert(strstr(err, ":3:12: clusters[0].cluster must be a mapping"),
            "%s", err);
  load_err("clusters:\n- name: c\n  cluster:\n    server: {a: b}\n",
           err, sizeof err);
  cr_assert(strstr(err, ":4:13: clusters[0].cluster.server must be a string"),
            "%s", err);
  load_err("clusters:\n- cluster: {server: x}\n", err, sizeof err);
  cr_assert(strstr(err, "clusters[0] has no name"), "%s", err);
  load_err("clusters: [{name: c, cluster: {insecure-skip-tls-verify: "
           "maybe}}]\n", err, sizeof err);
  cr_assert(strstr(err, "insecure-skip-tls-verify must be true or false"),
            "%s", err);
  load_err("contexts:\n- {name: a, context: {}}\n- {name: a}\n",
           err, sizeof err);
  cr_assert(strstr(err, ":3:3: context \"a\" is defined twice"), "%s", err);
  load_err("users: [{name: u, user: {token: \"SECRET\\0x\"}}]\n", err,
           sizeof err);
  cr_assert(strstr(err, "users[0].user.token contains a NUL byte"), "%s",
            err);
  cr_assert_null(strstr(err, "SECRET"));
}

Test(kubeconfig, error_bad_base64) {
  char err[512];
  load_err("users:\n- name: u\n  user:\n    client-key-data: SECRET!!\n",
           err, sizeof err);
  cr_assert(strstr(err, ":4:22: users[0].user.client-key-data is not valid "
                   "base64"), "%s", err);
  cr_assert_null(strstr(err, "SECRET"));
  load_err("clusters: [{name: c, cluster: {certificate-authority-data: "
           "QUJD=}}]\n", err, sizeof err);
  cr_assert(strstr(err, "not valid base64"), "%s", err);
}

Test(kubeconfig, base64_whitespace_and_padding) {
  char err[512] = "";
  /* A block scalar keeps newlines; a folded plain scalar gets spaces;
   * missing padding is tolerated. */
  const char *p = put("config",
    "clusters:\n"
    "- name: a\n"
    "  cluster:\n"
    "    server: https://a\n"
    "    certificate-authority-data: |\n"
    "      LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJDQT09Ci0tLS0tRU5E\n"
    "      IENFUlRJRklDQVRFLS0tLS0K\n"
    "- name: b\n"
    "  cluster:\n"
    "    server: https://b\n"
    "    certificate-authority-data: QUI\n"
    "contexts: [{name: a, context: {cluster: a}},"
    " {name: b, context: {cluster: b}}]\n");
  kubeconfig *kc = load1(p, err, sizeof err);
  cr_assert_not_null(kc, "%s", err);
  kube_conn c;
  cr_assert_eq(kubeconfig_resolve(kc, "a", &c, err, sizeof err), 0);
  cr_assert_str_eq(c.ca_data, CA_PEM);
  kube_conn_free(&c);
  cr_assert_eq(kubeconfig_resolve(kc, "b", &c, err, sizeof err), 0);
  cr_assert_eq(c.ca_data_len, 2);
  cr_assert_str_eq(c.ca_data, "AB");
  kube_conn_free(&c);
  kubeconfig_free(kc);
}

/* Loads text (must succeed), resolves ctx (must fail); returns err. */
static const char *resolve_err(const char *text, const char *ctx, char *err,
                               size_t errlen) {
  const char *p = put("config", text);
  kubeconfig *kc = load1(p, err, errlen);
  cr_assert_not_null(kc, "%s", err);
  kube_conn c;
  memset(&c, 0x5a, sizeof c);
  cr_assert_eq(kubeconfig_resolve(kc, ctx, &c, err, errlen), -1);
  cr_assert_null(c.server, "out is zeroed on failure");
  cr_assert(strstr(err, p), "the message names the file: %s", err);
  kubeconfig_free(kc);
  return err;
}

Test(kubeconfig, error_missing_context) {
  char err[512];
  resolve_err(realistic, "staging", err, sizeof err);
  cr_assert(strstr(err, "context \"staging\" not found"), "%s", err);
  cr_assert(strstr(err, "known contexts: \"prod\", \"dev\""), "%s", err);
  resolve_err("current-context: gone\ncontexts: []\n", NULL, err,
              sizeof err);
  cr_assert(strstr(err, "\"gone\" not found"), "%s", err);
  cr_assert(strstr(err, "known contexts: (none)"), "%s", err);
}

Test(kubeconfig, error_missing_cluster) {
  char err[512];
  resolve_err("clusters: [{name: one, cluster: {server: h}},"
              " {name: two, cluster: {server: h}}]\n"
              "contexts: [{name: x, context: {cluster: three}}]\n", "x",
              err, sizeof err);
  cr_assert(strstr(err, "cluster \"three\" (of context \"x\") not found"),
            "%s", err);
  cr_assert(strstr(err, "known clusters: \"one\", \"two\""), "%s", err);
  resolve_err("contexts: [{name: x, context: {user: u}}]\n", "x", err,
              sizeof err);
  cr_assert(strstr(err, "context \"x\" names no cluster"), "%s", err);
  resolve_err("clusters: [{name: c, cluster: {}}]\n"
              "contexts: [{name: x, context: {cluster: c}}]\n", "x", err,
              sizeof err);
  cr_assert(strstr(err, "cluster \"c\" has no server"), "%s", err);
}

Test(kubeconfig, error_missing_user) {
  char err[512];
  resolve_err("clusters: [{name: c, cluster: {server: h}}]\n"
              "users: [{name: alice, user: {token: SECRET}}]\n"
              "contexts: [{name: x, context: {cluster: c, user: bob}}]\n",
              "x", err, sizeof err);
  cr_assert(strstr(err, "user \"bob\" (of context \"x\") not found"), "%s",
            err);
  cr_assert(strstr(err, "known users: \"alice\""), "%s", err);
  cr_assert_null(strstr(err, "SECRET"));
}

Test(kubeconfig, error_user_and_cluster_conflicts) {
  char err[512];
  const char *pre = "clusters: [{name: c, cluster: {server: h}},"
                    " {name: ins, cluster: {server: h, "
                    "insecure-skip-tls-verify: true, "
                    "certificate-authority: ca}}]\n";
  char text[1024];
  snprintf(text, sizeof text, "%s"
           "users: [{name: u, user: {token: SECRET1, username: me,"
           " password: SECRET2}}]\n"
           "contexts: [{name: x, context: {cluster: c, user: u}}]\n", pre);
  resolve_err(text, "x", err, sizeof err);
  cr_assert(strstr(err, "more than one authentication method"), "%s", err);
  cr_assert_null(strstr(err, "SECRET"), "%s", err);

  snprintf(text, sizeof text, "%s"
           "users: [{name: u, user: {client-certificate: c.crt}}]\n"
           "contexts: [{name: x, context: {cluster: c, user: u}}]\n", pre);
  resolve_err(text, "x", err, sizeof err);
  cr_assert(strstr(err, "no client-key"), "%s", err);

  snprintf(text, sizeof text, "%s"
           "users: [{name: u, user: {client-key-data: " KEY_B64 "}}]\n"
           "contexts: [{name: x, context: {cluster: c, user: u}}]\n", pre);
  resolve_err(text, "x", err, sizeof err);
  cr_assert(strstr(err, "no client-certificate"), "%s", err);
  cr_assert_null(strstr(err, "PRIVATE"), "%s", err);

  snprintf(text, sizeof text, "%s"
           "users: [{name: u, user: {auth-provider: {name: gcp, config: "
           "{access-token: SECRET}}}}]\n"
           "contexts: [{name: x, context: {cluster: c, user: u}}]\n", pre);
  resolve_err(text, "x", err, sizeof err);
  cr_assert(strstr(err, "auth-provider \"gcp\""), "%s", err);
  cr_assert_null(strstr(err, "SECRET"), "%s", err);

  snprintf(text, sizeof text, "%s"
           "contexts: [{name: x, context: {cluster: ins}}]\n", pre);
  resolve_err(text, "x", err, sizeof err);
  cr_assert(strstr(err, "insecure-skip-tls-verify"), "%s", err);
}

Test(kubeconfig, empty_file) {
  char err[512];
  const char *p = put("config", "");
  kubeconfig *kc = load1(p, err, sizeof err);
  cr_assert_not_null(kc, "an empty file is an empty config: %s", err);
  cr_assert_null(kubeconfig_current_context(kc));
  cr_assert_eq(kubeconfig_context_count(kc), 0);
  kube_conn c;
  cr_assert_eq(kubeconfig_resolve(kc, NULL, &c, err, sizeof err), -1);
  cr_assert(strstr(err, p), "%s", err);
  cr_assert(strstr(err, "current-context is not set"), "%s", err);
  cr_assert(strstr(err, "known contexts: (none)"), "%s", err);
  kubeconfig_free(kc);

  /* Comments only: the same. */
  resolve_err("# nothing here\n---\n", NULL, err, sizeof err);
  cr_assert(strstr(err, "current-context is not set"), "%s", err);
}

Test(kubeconfig, error_file_not_found) {
  char err[512], p[PATH_MAX], q[PATH_MAX];
  snprintf(p, sizeof p, "%s/does-not-exist", dir);
  cr_assert_null(load1(p, err, sizeof err));
  cr_assert(strstr(err, p), "%s", err);
  cr_assert(strstr(err, "No such file"), "%s", err);

  snprintf(q, sizeof q, "%s/also-missing", dir);
  const char *paths[] = {p, q};
  cr_assert_null(kubeconfig_load(paths, 2, err, sizeof err));
  cr_assert(strstr(err, "none of these files exists"), "%s", err);
  cr_assert(strstr(err, p) && strstr(err, q), "%s", err);

  cr_assert_null(load1(dir, err, sizeof err));
  cr_assert(strstr(err, "Is a directory"), "%s", err);

  cr_assert_null(kubeconfig_load(NULL, 0, err, sizeof err));
  cr_assert(strstr(err, "no file"), "%s", err);
}

Test(kubeconfig, error_in_any_file_fails_the_load) {
  char err[512];
  const char *a = put("a", file_a);
  const char *b = put("b", "clusters: [\n");
  const char *paths[] = {a, b};
  cr_assert_null(kubeconfig_load(paths, 2, err, sizeof err));
  cr_assert(strstr(err, b), "%s", err);
}

Test(kubeconfig, null_err_buffer) {
  const char *p = put("config", "- a\n");
  cr_assert_null(load1(p, NULL, 0));
  kube_credential cr;
  cr_assert_eq(kube_exec_credential_parse("x", 1, &cr, NULL, 0), -1);
}
