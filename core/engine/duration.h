#ifndef SUMMIT_ENGINE_DURATION_H
#define SUMMIT_ENGINE_DURATION_H
/* Durations as runbooks write them: "500ms", "30s", "15m", "1h", "1h30m",
 * "2d", or a plain number of seconds ("1.5"). Whitespace is not allowed
 * inside; units must be in decreasing order and each used once. */

/* Parses s into milliseconds. Returns 0, or -1 with a reason in err. */
int duration_parse(const char *s, double *ms, char *err, unsigned errlen);

#endif
