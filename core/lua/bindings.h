#ifndef SUMMIT_LUA_BINDINGS_H
#define SUMMIT_LUA_BINDINGS_H
/* The C <-> Lua boundary: value conversion and the C modules the engine's
 * own Lua (lua/summit/) is built on. */
#include <cJSON.h>
#include <lua.h>
#include <stddef.h>

/* ---- converter (json.c) ---- */

/* Converts the Lua value at idx to JSON. On failure returns NULL and writes
 * into err what could not be converted and where ("a function at [1].x"). */
cJSON *sl_to_json(lua_State *L, int idx, char *err, size_t errlen);
/* Pushes the Lua value of j (null -> nil; an empty array is marked). */
void sl_push_json(lua_State *L, const cJSON *j);
/* The same, losslessly: null -> json.null (lightuserdata NULL) and every
 * array carries the array marker, so it encodes back to the same text. */
void sl_push_json_doc(lua_State *L, const cJSON *j);
/* Pushes the array marker metatable; sl_is_array: v at idx carries it. */
void sl_push_array_mt(lua_State *L);
int sl_is_array(lua_State *L, int idx);
/* json.array([t]) -> t marked as an array (a new table when t is nil);
 * json.is_array(v) -> whether v carries the marker. */
int sl_json_array(lua_State *L);
int sl_json_is_array(lua_State *L);
/* Encodes the value at idx as compact JSON text (caller frees with free()). */
char *sl_encode(lua_State *L, int idx, char *err, size_t errlen);
/* Decodes text and pushes the value; on bad JSON pushes nothing, returns 0. */
int sl_decode(lua_State *L, const char *text, size_t len);
/* Pushes the JSON text of the value at idx (a missing value raises as
 * luaL_checkany does), or raises "<fname>: cannot encode <what and where>".
 * Returns 1 (values pushed), for use as `return sl_push_encoded(...)`. */
int sl_push_encoded(lua_State *L, int idx, const char *fname);
/* The byte offset into text (len bytes) where cJSON's last parse failed,
 * or -1 when it failed elsewhere. */
int sl_json_error_offset(const char *text, size_t len);

/* ---- modules, registered in package.preload by sl_open_modules ---- */
int luaopen_summit_json(lua_State *L);      /* summit.json: runbooks' json */
int luaopen_summit_c_journal(lua_State *L); /* summit.c.journal */
int luaopen_summit_c_task(lua_State *L);    /* summit.c.task */
int luaopen_summit_c_out(lua_State *L);     /* summit.c.out */
int luaopen_summit_c_exec(lua_State *L);    /* summit.c.exec */
int luaopen_summit_c_lock(lua_State *L);    /* summit.c.lock */
int luaopen_summit_c_http(lua_State *L);    /* summit.c.http */
int luaopen_summit_c_kube(lua_State *L);    /* summit.c.kube */
int luaopen_summit_c_server(lua_State *L);  /* summit.c.server */
int luaopen_summit_c_ws(lua_State *L);      /* summit.c.ws */
int luaopen_summit_c_approval(lua_State *L); /* summit.c.approval */
int luaopen_summit_c_audit(lua_State *L);   /* summit.c.audit */
int luaopen_summit_c_notify(lua_State *L);  /* summit.c.notify */
int luaopen_summit_c_secrets(lua_State *L); /* summit.c.secrets */
int luaopen_summit_c_pin(lua_State *L);     /* summit.c.pin */
int luaopen_summit_c_crypto(lua_State *L);  /* summit.c.crypto */

/* Registers the C modules and the embedded Lua modules in package.preload.
 * With $SUMMIT_LUA_DIR set, Lua modules load from that source tree instead
 * (its lua/ and stdlib/ folders), so edits need no rebuild. */
void sl_open_modules(lua_State *L);

/* Loads module name's source (text, NUL-terminated, from path) as the
 * run pins it (pin.c, DESIGN §14): the pinned text on a resume, else text,
 * pinned now. Pushes the chunk (0) or the error (luaL_loadbuffer's code);
 * raises when the store fails. Every loader of code a runbook can
 * require goes through it. bc (may be NULL): text compiled, loaded instead
 * of parsing when the text to load is text itself, as it nearly always is. */
int sl_pin_load(lua_State *L, const char *name, const char *path,
                const char *text, const char *chunk, const char *bc,
                size_t bc_size);

/* The task whose coroutine L is (task.c), for a primitive that waits;
 * outside a running runbook's task, a Lua error saying msg. */
struct task *sl_current_task(lua_State *L, const char *msg);

/* Builds the sandboxed environment of a runbook: an allow-list of base
 * functions plus the summit API (require "summit.api"); reading or writing
 * any other global raises an error naming it. Pushes the table. */
void sl_push_sandbox(lua_State *L);

#endif
