/*
 * regex-engines-ere.c: the anchored ERE (and its regex_t's block) that
 * bench/regex-engines-main.c hands glibc and regex-engines-tre.c hands
 * TRE, neither of which can be told to anchor a match; apart, so that
 * the two files call one way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regex-engines.h"

/* ere anchored and a block for its regex_t; see regex-engines.h. */
void *
ere_prepare(const char *ere, size_t size, char **anchored, char *why,
    size_t whylen)
{
	void	*re;

	if ((*anchored = ere_anchor(ere)) == NULL) {
		snprintf(why, whylen, "cannot anchor it");
		return (NULL);
	}
	if ((re = malloc(size)) == NULL) {
		snprintf(why, whylen, "out of memory");
		free(*anchored);
		return (NULL);
	}
	return (re);
}

/* "^(ERE)", back-references renumbered past the new group. */
char *
ere_anchor(const char *ere)
{
	const char	*p = ere;
	char		*out, *o, d;

	if ((out = malloc(strlen(ere) + 4)) == NULL)
		return (NULL);
	o = out;
	*o++ = '^';
	*o++ = '(';
	while (*p != '\0') {
		if (*p == '[') {
			/* A bracket: a backslash or a digit here is literal. */
			*o++ = *p++;
			if (*p == '^')
				*o++ = *p++;
			if (*p == ']')
				*o++ = *p++;
			while (*p != '\0' && *p != ']') {
				if (p[0] == '[' && (p[1] == ':' ||
				    p[1] == '.' || p[1] == '=')) {
					d = p[1];
					*o++ = *p++;
					*o++ = *p++;
					while (*p != '\0' &&
					    !(p[0] == d && p[1] == ']'))
						*o++ = *p++;
					if (*p != '\0') {
						*o++ = *p++;
						*o++ = *p++;
					}
					continue;
				}
				*o++ = *p++;
			}
			if (*p != '\0')
				*o++ = *p++;
			continue;
		}
		if (p[0] == '\\' && p[1] >= '1' && p[1] <= '9') {
			if (p[1] == '9') {
				free(out);
				return (NULL);
			}
			*o++ = '\\';
			*o++ = p[1] + 1;
			p += 2;
			continue;
		}
		if (p[0] == '\\' && p[1] != '\0')
			*o++ = *p++;
		*o++ = *p++;
	}
	*o++ = ')';
	*o = '\0';
	return (out);
}
