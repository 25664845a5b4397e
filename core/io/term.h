#ifndef SUMMIT_IO_TERM_H
#define SUMMIT_IO_TERM_H
/* Text for people's terminals. Strings that came from a runbook, a param,
 * a person or a peer (gate reasons, step names, errors, log messages,
 * comments) can hold escape sequences that rewrite what an approver sees
 * (ESC[2K erases a line, \r returns over it, ESC]0;...BEL retitles the
 * window). Every human-output path prints them through these functions,
 * which keep printable UTF-8 and render everything else visibly:
 *
 *   C0 controls and DEL     \xHH (\n \r \t as such)
 *   C1 controls U+0080-9F   \u0085
 *   bidi and line controls  \u202e (U+061C, U+200E/F, U+2028-202E,
 *                           U+2066-2069: they reorder or break a line)
 *   invalid UTF-8           U+FFFD (one per bad byte)
 *
 * The rendering is for display only: a literal "\x1b" typed in a param
 * looks the same as an escaped ESC. JSON output does not go through here
 * (cJSON escapes control characters itself). */
#include <stddef.h>
#include <stdio.h>

/* Keep '\n' as a line break (multi-line text: errors with tracebacks, log
 * messages); everything else is still escaped. */
#define TERM_MULTILINE 1

/* s rendered for a terminal. Returns s itself when nothing needs escaping;
 * otherwise one of a ring of 16 buffers owned here, valid until 16 more
 * calls (enough for the arguments of one printf). NULL stays NULL. */
const char *term_str(const char *s);
/* term_str with flags (TERM_MULTILINE). */
const char *term_strf(const char *s, int flags);
/* Writes s rendered to f. */
void term_fputs(const char *s, FILE *f, int flags);
/* The rendering of s[0..len) as a new string (the caller frees); NULL when
 * out of memory. */
char *term_escape(const char *s, size_t len, int flags);

/* 1 if s[0..len) is well-formed UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF), else 0 with *bad (may be NULL) the offset of the
 * first bad byte. */
int term_utf8_valid(const char *s, size_t len, size_t *bad);

#endif
