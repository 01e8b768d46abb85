/*
 * jitter.h: the draws of a delay's jitter (echod.conf(5), jitter): a
 * splitmix64 sequence (Vigna), small, fast, and the same from the same
 * seed, so a run can be repeated.
 */
#ifndef ECHOD_JITTER_H
#define ECHOD_JITTER_H

#include <stdint.h>

/* The next draw of the sequence *state, uniform in [0, max]. */
static inline uint64_t
jitter_draw(uint64_t *state, uint32_t max)
{
	uint64_t	 z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return ((z ^ (z >> 31)) % ((uint64_t)max + 1));
}

#endif
