/*
 * conffile.h: reading a configuration's text, @include lines expanded.
 *
 * libconfig 1.5 opens @include files itself, with fopen(), and its flex
 * scanner calls exit(2) when a read fails (a directory) and blocks in
 * open() on a FIFO.  So echod reads every file itself: regular files
 * only, opened without blocking, each at most CONFFILE_MAX bytes, the
 * includes found as libconfig's scanner finds them and replaced by their
 * text, loops and nesting past libconfig's depth refused.  libconfig then
 * parses one string and never touches the file system; conffile_where()
 * maps a line of that string back to the file and line it came from.
 */
#ifndef ECHOD_CONFFILE_H
#define ECHOD_CONFFILE_H

#include <stdbool.h>
#include <stddef.h>

/* Largest file, and largest text with every include expanded. */
#define CONFFILE_MAX		(4 * 1024 * 1024)	/* "4 MiB" to users */
/* Deepest @include nesting, libconfig 1.5's own limit. */
#define CONFFILE_DEPTH		10

struct conffile_line {
	size_t	 file;		/* index into names */
	int	 line;		/* in that file, from 1 */
};

/* An integer literal of the text that libconfig 1.5 wraps to an int. */
struct conffile_wrap {
	int	 line;		/* of the text */
	char	*name;		/* its setting */
	int	 value;		/* what libconfig makes of it */
};

struct conffile {
	char			 *text;		/* NUL-terminated */
	size_t			  len;
	struct conffile_line	 *lines;	/* of text's line i + 1 */
	size_t			  nlines;
	char			**names;	/* [0]: the top-level file */
	size_t			  nnames;
	struct conffile_wrap	 *wraps;
	size_t			  nwraps;
	int			 *nuls;		/* lines of strings with \x00 */
	size_t			  nnuls;
};

/*
 * Read the file at path, or take text (path NULL) named name, with
 * @include paths relative to incdir (NULL: to the working directory).
 * 0 on success; -1 with *cause allocated, "FILE:LINE: message" or
 * "FILE: message" (NULL when out of memory).  cf is to be freed either
 * way.
 */
int		 conffile_read(struct conffile *cf, const char *path,
		    const char *incdir, char **cause);
int		 conffile_string(struct conffile *cf, const char *text,
		    const char *name, const char *incdir, char **cause);
/*
 * Whether the int libconfig read for setting name at line of the text is
 * value only because libconfig 1.5 wrapped a larger literal: it reads a
 * decimal with atoi() and a hex one into an int, so "max_connections =
 * 4294967297;" would silently be 1.
 */
bool		 conffile_wrapped(const struct conffile *, int line,
		    const char *name, int value);
/* The file line of text came from, and its line there in *fline. */
const char	*conffile_where(const struct conffile *, int line, int *fline);
/* The index of that file in names, 0 for lines outside the text. */
size_t		 conffile_index(const struct conffile *, int line);
void		 conffile_free(struct conffile *);
/*
 * Any other file the configuration names (tls.c: certificates and keys),
 * read as safely as the configuration itself: a regular file of at most
 * CONFFILE_MAX bytes, looked at before it is opened and opened without
 * blocking.  An allocated, NUL-terminated copy (its length in *len), or
 * NULL with *why set (static text).
 */
char		*conffile_load(const char *path, size_t *len,
		    const char **why);

#endif
