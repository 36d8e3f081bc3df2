// SPDX-License-Identifier: BSD-2-Clause
/*
 * fuzz_replay.c - run the fuzz harness on a fixed set of pseudo-random
 * programs, so every build exercises it without a fuzzer installed
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_RUNS	1000

int main(void)
{
	static uint8_t buf[4096];
	uint64_t x = 0x9e3779b97f4a7c15ULL;	/* fixed: runs are repeatable */
	unsigned run;
	size_t i, len;

	for (run = 0; run < REPLAY_RUNS; run++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		len = x % sizeof(buf);
		for (i = 0; i < len; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[i] = (uint8_t)x;
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
	printf("%u programs replayed, %d check failures\n", REPLAY_RUNS,
	       check_failures);
	return check_failures ? 1 : 0;
}
