/*
 * fuzz.h: the entry point every fuzz target defines.
 *
 * libFuzzer calls it with each input; tests/fuzz/replay.c calls it with
 * each file of the seed corpora, so the same target is a regression test
 * under the normal compiler.  It returns 0 and calls abort() on any
 * invariant that does not hold.
 */
#ifndef ECHOD_FUZZ_H
#define ECHOD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#endif
