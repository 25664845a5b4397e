/* What the notification code reads from the runs table
 * (docs/notifications.md#schedules). */
#include <string.h>

#include "store/internal.h"

/* The schedule's runs created before run ?2, newest first. */
static const char *const SQL_STREAK =
    "SELECT status FROM runs WHERE schedule = ?1 AND id != ?2"
    " AND created_ms <= (SELECT created_ms FROM runs WHERE id = ?2)"
    " ORDER BY created_ms DESC, id DESC";

int store_schedule_streak(store_t *s, const char *name, const char *run_id,
                          int64_t *failed) {
  *failed = 0;
  store_q *st = store__stmt(s, N_STREAK, SQL_STREAK);
  if (!st) return STORE_ERR;
  store__bind_text(st, 1, name);
  store__bind_text(st, 2, run_id);
  int rc;
  while ((rc = store__step(st)) == STORE_ROW) {
    const char *status = store__col_text(st, 0);
    if (!status) continue;
    if (!strcmp(status, "succeeded")) break;
    if (!strcmp(status, "failed") || !strcmp(status, "rolled_back") ||
        !strcmp(status, "cancelled"))
      (*failed)++;
    /* A run that has not ended (another daemon's, or an orphan) neither
     * extends nor breaks the streak. */
  }
  int done = rc == STORE_ROW || rc == STORE_DONE;
  store__reset(st);
  return done ? STORE_OK : store__fail(s, "reading a schedule's runs");
}
