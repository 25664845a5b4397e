/* Errors for people (see report.h). */
#include "engine/report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/term.h"

void engine_errf(const char *fmt, ...) {
  char *buf = NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&buf, fmt, ap);
  va_end(ap);
  fputs("summit: ", stderr);
  term_fputs(n >= 0 ? buf : "(out of memory)", stderr, TERM_MULTILINE);
  fputc('\n', stderr);
  if (n >= 0) free(buf);
}

void engine_errf_list(lua_State *L) {
  int n = (int)lua_objlen(L, -1);
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    engine_errf("%s", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}
