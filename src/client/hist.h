/*
 * hist.h: a latency histogram with HdrHistogram-style log-linear buckets.
 *
 * Every power of two is split into 128 equal sub-buckets, so a recorded
 * value is known to within 1/128 (< 1 %) of itself, over the whole range
 * of uint64_t, in a fixed 58 KiB.  Values below 128 are exact.  Recording
 * is a few instructions and never allocates; histograms of the same shape
 * merge by adding counts, so each thread keeps its own.
 */
#ifndef ECHOCLI_HIST_H
#define ECHOCLI_HIST_H

#include <stdint.h>

struct hist;

/* A new, empty histogram, or NULL when out of memory. */
struct hist	*hist_new(void);
/* Free a histogram; NULL is fine. */
void		 hist_free(struct hist *);
/* Forget every recorded value. */
void		 hist_reset(struct hist *);
/* Record one value. */
void		 hist_record(struct hist *, uint64_t);
/* Add every value recorded in src to dst. */
void		 hist_merge(struct hist *dst, const struct hist *src);
/* How many values were recorded. */
uint64_t	 hist_count(const struct hist *);
/* The exact smallest and largest values recorded; 0 when empty. */
uint64_t	 hist_min(const struct hist *);
uint64_t	 hist_max(const struct hist *);
/* The exact mean of the recorded values; 0 when empty. */
double		 hist_mean(const struct hist *);
/*
 * The value below or at which pct percent (0-100) of the recorded values
 * lie: the highest value of the bucket that holds that rank, so never an
 * underestimate by more than rounding and never above hist_max().  0 when
 * empty.
 */
uint64_t	 hist_percentile(const struct hist *, double pct);

#endif
