// SPDX-License-Identifier: BSD-2-Clause
/*
 * fq.c - per-unit queue of frames the host sent, waiting for the client
 *
 * A bounded ring of slots, each as large as the largest frame. The memory is
 * one anonymous mapping, so a unit that only ever sees small frames, or none,
 * keeps almost nothing resident; fq_trim() returns pages when the queue is
 * junked at close. No allocation happens per frame.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fq.h"
#include "util.h"

/**
 * fq_init() - map the slots of a queue
 * @q:		queue to set up
 * @nslots:	number of slots, 1 to FQ_MAX_SLOTS
 * @slot_size:	bytes per slot, rounded up to whole pages
 *
 * Return: 0, -EINVAL for a bad size, -ENOMEM if the mapping failed
 */
int fq_init(struct fq *q, unsigned nslots, size_t slot_size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *mem;

	if (!nslots || nslots > FQ_MAX_SLOTS || !slot_size)
		return -EINVAL;
	/* Whole pages per slot, so that fq_trim() can discard slot by slot */
	slot_size = (slot_size + page - 1) / page * page;
	mem = mmap(NULL, nslots * slot_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return -ENOMEM;
	q->mem = mem;
	q->slot_size = slot_size;
	q->nslots = nslots;
	q->head = q->count = 0;
	return 0;
}

/**
 * fq_fini() - unmap a queue; nothing may still be receiving into it
 * @q:		queue
 */
void fq_fini(struct fq *q)
{
	if (q->mem)
		munmap(q->mem, q->nslots * q->slot_size);
	q->mem = NULL;
	q->count = 0;
}

/**
 * fq_tail() - the free slot the next frame is received into
 * @q:		queue
 * @cap:	set to the slot's capacity
 *
 * Return: the slot, or NULL when the queue is full
 */
void *fq_tail(struct fq *q, size_t *cap)
{
	unsigned tail;

	if (fq_full(q))
		return NULL;
	tail = (q->head + q->count) % q->nslots;
	*cap = q->slot_size;
	return q->mem + (size_t)tail * q->slot_size;
}

/**
 * fq_push() - queue the frame just received into the tail slot
 * @q:		queue, not full
 * @off:	where the frame starts in the slot
 * @len:	frame length; @off + @len is at most the slot size
 */
void fq_push(struct fq *q, size_t off, size_t len)
{
	unsigned tail = (q->head + q->count) % q->nslots;

	q->off[tail] = MIN(off, q->slot_size);
	q->len[tail] = MIN(len, q->slot_size - q->off[tail]);
	q->count++;
}

/**
 * fq_peek() - the oldest queued frame
 * @q:		queue
 * @len:	set to its length
 *
 * Return: the frame, or NULL (and *len = 0) when the queue is empty
 */
const void *fq_peek(const struct fq *q, size_t *len)
{
	if (!q->count) {
		*len = 0;
		return NULL;
	}
	*len = q->len[q->head];
	return q->mem + (size_t)q->head * q->slot_size + q->off[q->head];
}

/**
 * fq_pop() - drop the oldest queued frame
 * @q:		queue, not empty
 */
void fq_pop(struct fq *q)
{
	q->head = (q->head + 1) % q->nslots;
	q->count--;
}

/**
 * fq_flush() - drop every queued frame, keeping the tail slot where it is
 * @q:		queue
 *
 * The head moves up to the tail instead of both going back to zero, because
 * the network side may be receiving into the tail slot right now.
 */
void fq_flush(struct fq *q)
{
	q->head = (q->head + q->count) % q->nslots;
	q->count = 0;
}

/**
 * fq_trim() - give the memory of free slots back to the system
 * @q:		queue
 *
 * Only slots other than the tail are discarded: the tail may be the target
 * of a receive in flight, and its contents must then survive.
 */
void fq_trim(struct fq *q)
{
	unsigned tail = (q->head + q->count) % q->nslots;
	unsigned i;

	if (q->count)
		return;
	for (i = 0; i < q->nslots; i++) {
		if (i != tail)
			madvise(q->mem + (size_t)i * q->slot_size, q->slot_size,
				MADV_DONTNEED);
	}
}
