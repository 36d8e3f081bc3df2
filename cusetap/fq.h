/* SPDX-License-Identifier: BSD-2-Clause */
/* fq.h - per-unit queue of frames the host sent, waiting for the client */
#ifndef CUSETAP_FQ_H
#define CUSETAP_FQ_H

#include <stddef.h>
#include <stdint.h>

#define FQ_MAX_SLOTS	64

/**
 * struct fq - a ring of fixed-size frame slots
 * @mem:	nslots * slot_size bytes, mapped once; pages of slots never
 *		used cost no memory, and fq_trim() hands used ones back
 * @slot_size:	capacity of one slot, the largest frame the network side
 *		can deliver
 * @off:	where the frame starts in each occupied slot (a receive may
 *		carry a header the client does not want)
 * @len:	length of the frame in each occupied slot
 * @nslots:	ring size
 * @head:	oldest queued frame
 * @count:	frames queued
 *
 * The network side receives straight into the tail slot (fq_tail), so a
 * frame is never copied before the client reads it. The tail slot is
 * stable across fq_flush(): a receive still in flight into it stays valid.
 * Owned by the event loop thread, like everything in the device model.
 */
struct fq {
	uint8_t *mem;
	size_t slot_size;
	uint16_t off[FQ_MAX_SLOTS];
	uint32_t len[FQ_MAX_SLOTS];
	unsigned nslots;
	unsigned head;
	unsigned count;
};

int fq_init(struct fq *q, unsigned nslots, size_t slot_size);
void fq_fini(struct fq *q);
void *fq_tail(struct fq *q, size_t *cap);
void fq_push(struct fq *q, size_t off, size_t len);
const void *fq_peek(const struct fq *q, size_t *len);
void fq_pop(struct fq *q);
void fq_flush(struct fq *q);
void fq_trim(struct fq *q);

/**
 * fq_full() - no slot left to receive into
 * @q:		queue
 *
 * Return: true when fq_tail() would return NULL
 */
static inline int fq_full(const struct fq *q)
{
	return q->count == q->nslots;
}

#endif /* CUSETAP_FQ_H */
