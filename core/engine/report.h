#ifndef SUMMIT_ENGINE_REPORT_H
#define SUMMIT_ENGINE_REPORT_H
/* How the engine tells a person what went wrong: "summit: ..." on stderr.
 * The text may quote a runbook, a param or a config file, so it is
 * rendered for a terminal (io/term.h). */

#include <lua.h>

void engine_errf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* engine_errf for each message of the list on top of L, which it pops. */
void engine_errf_list(lua_State *L);

#endif
