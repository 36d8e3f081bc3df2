// SPDX-License-Identifier: BSD-2-Clause
/* test_fq.c - the frame queue: order, bounds, flush keeps the tail slot */
#include <string.h>

#include "check.h"
#include "fq.h"

int check_failures;

static void test_fifo_order(void)
{
	struct fq q;
	size_t cap, len;
	const char *p;
	char *slot;

	CHECK_EQ(fq_init(&q, 4, 100), 0);
	slot = fq_tail(&q, &cap);
	CHECK(cap >= 100);
	memcpy(slot, "first", 5);
	fq_push(&q, 0, 5);
	slot = fq_tail(&q, &cap);
	memcpy(slot, "second!", 7);
	fq_push(&q, 0, 7);

	p = fq_peek(&q, &len);
	CHECK_EQ(len, 5);
	CHECK(p && !memcmp(p, "first", 5));
	fq_pop(&q);
	p = fq_peek(&q, &len);
	CHECK_EQ(len, 7);
	CHECK(p && !memcmp(p, "second!", 7));
	fq_pop(&q);
	CHECK(fq_peek(&q, &len) == NULL);
	CHECK_EQ(len, 0);
	fq_fini(&q);
}

static void test_bounded(void)
{
	struct fq q;
	size_t cap;
	int i;

	CHECK_EQ(fq_init(&q, 3, 64), 0);
	for (i = 0; i < 3; i++) {
		CHECK(fq_tail(&q, &cap) != NULL);
		fq_push(&q, 0, 10);
	}
	CHECK(fq_full(&q));
	CHECK(fq_tail(&q, &cap) == NULL);
	fq_pop(&q);
	CHECK(fq_tail(&q, &cap) != NULL);
	fq_fini(&q);
}

static void test_flush_keeps_tail(void)
{
	struct fq q;
	size_t cap, len;
	void *tail_before, *tail_after;

	CHECK_EQ(fq_init(&q, 4, 64), 0);
	fq_tail(&q, &cap);
	fq_push(&q, 0, 1);
	fq_tail(&q, &cap);
	fq_push(&q, 0, 2);
	tail_before = fq_tail(&q, &cap);
	fq_flush(&q);
	fq_trim(&q);
	tail_after = fq_tail(&q, &cap);
	CHECK(tail_before == tail_after);
	CHECK(fq_peek(&q, &len) == NULL);
	fq_fini(&q);
}

static void test_offset_skips_header(void)
{
	struct fq q;
	size_t cap, len;
	const char *p;
	char *slot;

	CHECK_EQ(fq_init(&q, 2, 64), 0);
	slot = fq_tail(&q, &cap);
	memcpy(slot, "HDRframe", 8);
	fq_push(&q, 3, 5);
	p = fq_peek(&q, &len);
	CHECK_EQ(len, 5);
	CHECK(p && !memcmp(p, "frame", 5));
	fq_fini(&q);
}

static void test_bad_sizes(void)
{
	struct fq q;

	CHECK_EQ(fq_init(&q, 0, 64), -22);
	CHECK_EQ(fq_init(&q, FQ_MAX_SLOTS + 1, 64), -22);
	CHECK_EQ(fq_init(&q, 4, 0), -22);
}

int main(void)
{
	RUN(test_fifo_order);
	RUN(test_bounded);
	RUN(test_flush_keeps_tail);
	RUN(test_offset_skips_header);
	RUN(test_bad_sizes);
	return check_failures ? 1 : 0;
}
