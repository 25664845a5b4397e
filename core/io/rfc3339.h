#ifndef SUMMIT_IO_RFC3339_H
#define SUMMIT_IO_RFC3339_H
/* RFC 3339 timestamps to Unix epoch milliseconds, and the civil calendar
 * arithmetic under them. No Lua, no allocation. */
#include <stdint.h>

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d (Howard
 * Hinnant's days_from_civil). m is 1..12; d is linear, so d past the end
 * of the month rolls into the next one (Feb 30 is Mar 1 or 2). */
int64_t days_from_civil(int64_t y, int m, int d);

/* Accept what a person types on a command line, not just RFC 3339: a date
 * alone (midnight UTC), a time without seconds, no offset (UTC), a '.'
 * with no digits after it; day 29..31 and second 60 roll over as
 * timegm() would rather than being rejected; ',' is not a decimal mark. */
#define RFC3339_LENIENT 1u

/* Parses s into Unix epoch milliseconds in *out (fractions past the
 * millisecond are truncated; offsets are applied). Without flags s must be
 * a full RFC 3339 date-time: "2024-05-01T14:00:00.5+02:00", 'T', 't' or
 * ' ' between date and time, 'Z'/'z' or +-HH:MM, '.' or ',' before at
 * least one fraction digit, a real calendar date, seconds up to 59. See
 * RFC3339_LENIENT for the other form. Returns 0, or -1 (s NULL or not a
 * timestamp; *out untouched). */
int rfc3339_parse_ms(const char *s, unsigned flags, int64_t *out);

#endif
