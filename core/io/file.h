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

#endif
