/*
 * conferr.h: the errors of one configuration load.
 *
 * Every check reports where it found a problem, as a line of the
 * expanded text (conffile.h) or of a setting; the errors are kept with
 * the file and line that line came from and handed over sorted, each as
 * "FILE:LINE: message" (or "FILE: message" without a line), so that an
 * admin sees every error of a file at once, in the file's order.
 */
#ifndef ECHOD_CONFERR_H
#define ECHOD_CONFERR_H

#include <stdbool.h>
#include <stddef.h>

#include <libconfig.h>

struct conf_errors;
struct conffile;
struct conferr_entry;

/* Longest value quoted back in a message, before "...". */
#define CONFERR_QUOTE_MAX	64
/* Room for a value conferr_quote() quoted. */
#define CONFERR_QUOTED		(CONFERR_QUOTE_MAX * 4 + 8)

struct conferr {
	const struct conffile	*cf;	/* maps lines to files */
	struct conferr_entry	*errs;
	size_t			 nerrs;
	bool			 nomem;
};

void	conferr_init(struct conferr *, const struct conffile *);
/* An error at a line of the expanded text; 0: the file as a whole. */
void	conferr_add(struct conferr *, int line, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* An error at setting s. */
#define conferr_setting(e, s, ...) \
	conferr_add((e), config_setting_source_line(s), __VA_ARGS__)
/* Whether anything went wrong, running out of memory included. */
bool	conferr_any(const struct conferr *);
/*
 * Sort the errors and move them into errs as messages (errs NULL: drop
 * them); the conferr is empty afterwards.
 */
void	conferr_finish(struct conferr *, struct conf_errors *errs);
/* errs holds just cause (allocated; NULL: "out of memory"). */
void	conferr_one(struct conf_errors *errs, char *cause);
/* src for a message, in at most CONFERR_QUOTED bytes: \xNN for what
 * is not printable, \" and \\, cut after CONFERR_QUOTE_MAX. */
void	conferr_quote(char *dst, size_t len, const char *src);

#endif
