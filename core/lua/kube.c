/* summit.c.kube: Kubernetes connections for cluster.lua (over
 * io/kubeconfig): kubeconfig resolution, in-cluster config and exec
 * credential plugins' output. Credentials go into the Lua tables the
 * client uses for its requests and nowhere else. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "io/base64.h"
#include "io/kubeconfig.h"
#include "lua/bindings.h"

static void set_s(lua_State *L, const char *k, const char *v) {
  if (!v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

static void set_l(lua_State *L, const char *k, const char *v, size_t n) {
  if (!v) return;
  lua_pushlstring(L, v, n);
  lua_setfield(L, -2, k);
}

static void push_conn(lua_State *L, const kube_conn *c) {
  lua_newtable(L);
  set_s(L, "server", c->server);
  set_s(L, "namespace", c->ns);
  set_s(L, "context", c->context);
  set_s(L, "source", c->source);
  set_s(L, "ca_file", c->ca_file);
  set_l(L, "ca_data", c->ca_data, c->ca_data_len);
  if (c->insecure) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "insecure");
  }
  set_s(L, "tls_server_name", c->tls_server_name);
  set_s(L, "proxy_url", c->proxy_url);
  set_s(L, "cert_file", c->client_cert_file);
  set_s(L, "key_file", c->client_key_file);
  set_l(L, "cert_data", c->client_cert_data, c->client_cert_data_len);
  set_l(L, "key_data", c->client_key_data, c->client_key_data_len);
  set_s(L, "token", c->token);
  set_s(L, "token_file", c->token_file);
  set_s(L, "username", c->username);
  set_s(L, "password", c->password);
  if (c->exec) {
    lua_newtable(L);
    lua_newtable(L);                          /* argv */
    lua_pushstring(L, c->exec->command);
    lua_rawseti(L, -2, 1);
    for (size_t i = 0; i < c->exec->n_args; i++) {
      lua_pushstring(L, c->exec->args[i]);
      lua_rawseti(L, -2, (int)i + 2);
    }
    lua_setfield(L, -2, "argv");
    lua_newtable(L);                          /* env */
    for (size_t i = 0; i < c->exec->n_env; i++) {
      lua_newtable(L);
      set_s(L, "name", c->exec->env[i].name);
      set_s(L, "value", c->exec->env[i].value);
      lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "env");
    set_s(L, "api_version", c->exec->api_version);
    static const char *const modes[] = {"IfAvailable", "Never", "Always"};
    set_s(L, "interactive_mode", modes[c->exec->interactive_mode]);
    lua_pushboolean(L, c->exec->provide_cluster_info);
    lua_setfield(L, -2, "provide_cluster_info");
    set_s(L, "install_hint", c->exec->install_hint);
    lua_setfield(L, -2, "exec");
  }
}

/* The failure result of every function here: nil and why. */
static int fail(lua_State *L, const char *err) {
  lua_pushnil(L);
  lua_pushstring(L, err);
  return 2;
}

/* Pushes c's table and releases c when rc is 0; else nil and err. */
static int conn_result(lua_State *L, int rc, kube_conn *c, const char *err) {
  if (rc != 0) return fail(L, err);
  push_conn(L, c);
  kube_conn_free(c);
  return 1;
}

/* default_paths() -> { $KUBECONFIG entries or ~/.kube/config } */
static int l_default_paths(lua_State *L) {
  size_t n = 0;
  char **paths = kubeconfig_default_paths(&n);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushstring(L, paths[i]);
    lua_rawseti(L, -2, (int)i + 1);
  }
  kubeconfig_paths_free(paths);
  return 1;
}

/* resolve(paths, context|nil) -> connection, or nil and the reason. */
static int l_resolve(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const char *context = luaL_optstring(L, 2, NULL);
  int n = (int)lua_objlen(L, 1);
  const char **paths = lua_newuserdata(L, sizeof(char *) * (n ? n : 1));
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, 1, i + 1);
    paths[i] = luaL_checkstring(L, -1);
    lua_pop(L, 1);  /* the table keeps the string */
  }
  char err[1024];
  kubeconfig *kc = kubeconfig_load(paths, (size_t)n, err, sizeof err);
  if (!kc) return fail(L, err);
  kube_conn c;
  memset(&c, 0, sizeof c);
  int rc = kubeconfig_resolve(kc, context, &c, err, sizeof err);
  kubeconfig_free(kc);
  return conn_result(L, rc, &c, err);
}

/* in_cluster() -> connection from the pod's service account, or nil, why */
static int l_in_cluster(lua_State *L) {
  kube_conn c;
  memset(&c, 0, sizeof c);
  char err[512];
  return conn_result(L, kube_conn_in_cluster(&c, err, sizeof err), &c, err);
}

/* parse_credential(stdout) -> { token, cert_data, key_data, expires }, or
 * nil, why */
static int l_parse_credential(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  kube_credential c;
  memset(&c, 0, sizeof c);
  char err[512];
  if (kube_exec_credential_parse(s, len, &c, err, sizeof err) != 0)
    return fail(L, err);
  lua_newtable(L);
  set_s(L, "token", c.token);
  set_l(L, "cert_data", c.client_cert_data, c.client_cert_data_len);
  set_l(L, "key_data", c.client_key_data, c.client_key_data_len);
  if (c.expires_ms) {
    lua_pushnumber(L, (lua_Number)c.expires_ms);
    lua_setfield(L, -2, "expires");
  }
  kube_credential_free(&c);
  return 1;
}

/* base64(s) -> standard base64 (basic auth headers) */
static int l_base64(lua_State *L) {
  size_t len;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
  char *out = malloc(4 * ((len + 2) / 3) + 1);
  if (!out) return luaL_error(L, "out of memory");
  size_t n = base64_encode(out, s, len);
  lua_pushlstring(L, out, n);
  free(out);
  return 1;
}

static const luaL_Reg funcs[] = {
  {"default_paths", l_default_paths},
  {"resolve", l_resolve},
  {"in_cluster", l_in_cluster},
  {"parse_credential", l_parse_credential},
  {"base64", l_base64},
  {NULL, NULL}
};

int luaopen_summit_c_kube(lua_State *L) {
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  return 1;
}
