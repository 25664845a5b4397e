#ifndef SUMMIT_LUA_JSONDOC_H
#define SUMMIT_LUA_JSONDOC_H
/* JSON documents that round-trip: the converter of the simulated API
 * server (summit.c.server's `json` table). Unlike summit.json, JSON null
 * decodes to the json.null sentinel (a NULL lightuserdata) instead of
 * vanishing, and arrays carry a marker metatable so that an empty array
 * encodes back as [] rather than {}. Kubernetes needs both: a merge patch
 * deletes a field with null, and a Go client rejects {} where it expects a
 * list. */
#include <lua.h>

/* Pushes the table {decode, encode, array, is_array, null}. */
void sl_push_jsondoc(lua_State *L);

#endif
