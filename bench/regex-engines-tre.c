/*
 * regex-engines-tre.c: TRE for bench/regex-engines-main.c.  A file of its own
 * because <tre/tre.h> defines regex_t, regmatch_t and the REG_ codes over
 * glibc's <regex.h>.
 */

#include <stdio.h>
#include <stdlib.h>

#include <tre/tre.h>

#include "regex-engines.h"

/* Compile ere with tre_regcomp(), anchored; NULL with the reason. */
void *
tre_eng_compile(const char *ere, char *why, size_t whylen)
{
	regex_t	*re;
	char	*anchored;
	int	 rc;

	if ((re = ere_prepare(ere, sizeof(*re), &anchored, why,
	    whylen)) == NULL)
		return (NULL);
	rc = tre_regcomp(re, anchored, REG_EXTENDED);
	free(anchored);
	if (rc != REG_OK) {
		tre_regerror(rc, re, why, whylen);
		free(re);
		return (NULL);
	}
	return (re);
}

/* Match len bytes at line with tre_regnexec(). */
enum eng_answer
tre_eng_match(void *arg, const char *line, size_t len, size_t *end,
    char *why, size_t whylen)
{
	regex_t		*re = arg;
	regmatch_t	 m[1];
	int		 rc;

	rc = tre_regnexec(re, line, len, 1, m, 0);
	if (rc == REG_NOMATCH)
		return (ENG_NOMATCH);
	if (rc != REG_OK) {
		tre_regerror(rc, re, why, whylen);
		return (rc == REG_ESPACE ? ENG_LIMIT : ENG_ERROR);
	}
	*end = m[0].rm_eo;
	return (ENG_MATCH);
}
