/*
 * hist.c: log-linear latency histogram (see hist.h).
 *
 * A value v >= 128 with its highest set bit at e falls in bucket
 * 128 + (e - 7) * 128 + ((v >> (e - 7)) - 128): the top 8 bits of v pick
 * the bucket, and a bucket is 2^(e-7) wide while its values are at least
 * 128 * 2^(e-7), hence the 1/128 bound.  This is HdrHistogram's layout
 * with two significant decimal digits, without its configurable range.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"

#define HIST_SUB_BITS	7
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_BUCKETS	(HIST_SUB + (64 - HIST_SUB_BITS) * HIST_SUB)

struct hist {
	uint64_t	count;
	uint64_t	min;
	uint64_t	max;
	double		sum;
	uint64_t	bucket[HIST_BUCKETS];
};

/* The bucket a value is counted in. */
static unsigned
hist_index(uint64_t v)
{
	unsigned	shift;

	if (v < HIST_SUB)
		return ((unsigned)v);
	shift = 63 - (unsigned)__builtin_clzll(v) - HIST_SUB_BITS;
	return (HIST_SUB + shift * HIST_SUB +
	    (unsigned)((v >> shift) - HIST_SUB));
}

/* The largest value that lands in bucket i. */
static uint64_t
hist_bucket_high(unsigned i)
{
	unsigned	shift, sub;
	uint64_t	low;

	if (i < HIST_SUB)
		return (i);
	shift = (i - HIST_SUB) / HIST_SUB;
	sub = (i - HIST_SUB) % HIST_SUB;
	low = (uint64_t)(HIST_SUB + sub) << shift;
	/* The last bucket ends exactly at UINT64_MAX: no overflow. */
	return (low + (((uint64_t)1 << shift) - 1));
}

/* A new, empty histogram. */
struct hist *
hist_new(void)
{
	struct hist	*h;

	if ((h = malloc(sizeof(*h))) == NULL)
		return (NULL);
	hist_reset(h);
	return (h);
}

/* Free a histogram. */
void
hist_free(struct hist *h)
{
	free(h);
}

/* Forget every recorded value. */
void
hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

/* Record one value. */
void
hist_record(struct hist *h, uint64_t v)
{
	h->bucket[hist_index(v)]++;
	if (h->count == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	h->sum += (double)v;
}

/* Add every value recorded in src to dst. */
void
hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned	i;

	if (src->count == 0)
		return;
	for (i = 0; i < HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	if (dst->count == 0 || src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->count += src->count;
	dst->sum += src->sum;
}

/* How many values were recorded. */
uint64_t
hist_count(const struct hist *h)
{
	return (h->count);
}

/* The smallest value recorded. */
uint64_t
hist_min(const struct hist *h)
{
	return (h->min);
}

/* The largest value recorded. */
uint64_t
hist_max(const struct hist *h)
{
	return (h->max);
}

/* The mean of the recorded values. */
double
hist_mean(const struct hist *h)
{
	return (h->count == 0 ? 0.0 : h->sum / (double)h->count);
}

/* The value at a percentile (see hist.h). */
uint64_t
hist_percentile(const struct hist *h, double pct)
{
	uint64_t	rank, seen, v;
	unsigned	i;

	if (h->count == 0)
		return (0);
	if (pct < 0.0)
		pct = 0.0;
	if (pct > 100.0)
		pct = 100.0;
	/*
	 * The rank-th smallest value, counting from 1; the epsilon keeps
	 * 99.9 % of 1000 at rank 999 despite binary fractions.
	 */
	rank = (uint64_t)ceil(pct * (double)h->count / 100.0 - 1e-9);
	if (rank == 0)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	seen = 0;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank)
			break;
	}
	/* The exact extremes are known: never report outside them. */
	v = hist_bucket_high(i);
	if (v > h->max)
		v = h->max;
	if (v < h->min)
		v = h->min;
	return (v);
}
