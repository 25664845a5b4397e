/* Unit tests for core/engine/events.c: an event stream written to
 * /dev/null is quiet (nobody reads it, so nothing is formatted or
 * written); one written to a file or a pipe is not, and carries the
 * events. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/events.h"

Test(events, quiet_on_dev_null) {
  FILE *f = fopen("/dev/null", "w");
  cr_assert_not_null(f);
  events_t ev;
  events_init(&ev, f, 1);
  cr_assert_eq(ev.quiet, 1, "a stream to /dev/null is quiet");
  events_emit(&ev, "step.started", NULL);
  fclose(f);
}

Test(events, a_file_gets_the_events) {
  FILE *f = tmpfile();
  cr_assert_not_null(f);
  events_t ev;
  events_init(&ev, f, 1);
  cr_assert_eq(ev.quiet, 0, "a file is read by someone");
  events_emit(&ev, "step.started", NULL);
  rewind(f);
  char line[256] = "";
  cr_assert_not_null(fgets(line, sizeof line, f));
  cr_assert(strstr(line, "\"event\":\"step.started\"") != NULL, "%s", line);
  fclose(f);
}

Test(events, a_pipe_is_not_quiet) {
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  FILE *f = fdopen(fds[1], "w");
  cr_assert_not_null(f);
  events_t ev;
  events_init(&ev, f, 0);
  cr_assert_eq(ev.quiet, 0);
  fclose(f);
  close(fds[0]);
}
