#ifndef SUMMIT_IO_FILE_H
#define SUMMIT_IO_FILE_H
/* Whole small files (runbooks, params files, signatures), read at once:
 * they are read before the loop runs or by one-shot commands. */
#include <stddef.h>

/* The contents of path, NUL-terminated; *len (may be NULL) gets the size.
 * NULL with errno set on failure. The caller frees. */
char *io_read_file(const char *path, size_t *len);

/* mkdir -p: path and its missing parents (0755). 0, or -1 with errno. */
int io_mkdirs(const char *path);
/* io_mkdirs of the directory part of path (a file about to be written). */
int io_mkdirs_for(const char *path);

/* ---- private state (docs/configuration.md, "State directory") ------

 * The state directory holds params and command output: it is 0700 and
 * what summit writes in it 0600, whatever the umask. */

/* Sets the process umask to 077, remembering the user's: every file
 * summit creates (SQLite's database, -wal and -shm, logs, the sim's
 * files, written from C or from Lua) is then private. Called once by
 * main(). */
void io_private_umask(void);
/* Around a spawn: children (a runbook's commands, git, kubectl, a
 * daemon's runs) get the user's umask back, since they write the user's
 * files, not summit's. No-ops unless io_private_umask was called. */
void io_child_umask_begin(void);
void io_child_umask_end(void);

/* mkdir -p path, then makes the directory 0700, and what summit keeps in
 * it (state.db*, daemon.log, logs/ and its files, sim/ and its files,
 * sim-*.json) owner-only, if an older summit or another umask left them
 * group- or world-readable. Nothing else there is touched. A directory
 * that is not the caller's, or has the sticky bit (/tmp), is left as it
 * is. 0, or -1 with errno. */
int io_private_dir(const char *path);

#endif
