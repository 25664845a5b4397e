#ifndef SUMMIT_ENGINE_LABELS_H
#define SUMMIT_ENGINE_LABELS_H
/* Worker labels (docs/workers.md): `summit daemon --labels k=v,...` says
 * what a worker has, `summit submit --on k=v` what a run needs; a worker
 * takes a run when it has every label the run needs, with the same
 * value. Both are kept as a JSON object of strings. Pure: no store, no
 * Lua. */
#include <stddef.h>

/* Adds the labels of text to the JSON object obj_json (malloc'd, or NULL
 * for a new one) and returns the new JSON text (malloc'd; obj_json is
 * freed). sep: ',' splits text into several k=v (--labels), '\0' takes it
 * whole (one --on). NULL after writing into err what is wrong, naming
 * opt and the item: not KEY=VALUE, a character a key or value may not
 * hold, a key given twice. */
char *labels_add(char *obj_json, const char *text, char sep, const char *opt,
                 char *err, size_t errlen);

/* Whether labels (a worker's JSON object, NULL: none) has every label of
 * need (a run's, NULL or {}: none needed). */
int labels_match(const char *need, const char *labels);

/* need as "k=v,k2=v2" for people, into out ("any worker" when none). */
void labels_text(const char *need, char *out, size_t outlen);

#endif
