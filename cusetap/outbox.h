/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * outbox.h - replies held back until the model lock is released
 */
#ifndef CUSETAP_OUTBOX_H
#define CUSETAP_OUTBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Messages an outbox holds before it writes them out by itself */
#define OUTBOX_MAX_MSGS	32

/**
 * struct outbox - copies of messages for /dev/cuse, in order
 * @buf:	their bytes, back to back
 * @cap:	size of @buf
 * @used:	bytes in @buf
 * @nmsgs:	messages held
 * @msgs:	each one's file descriptor and place in @buf
 */
struct outbox {
	uint8_t *buf;
	size_t cap;
	size_t used;
	unsigned nmsgs;
	struct {
		int fd;
		uint32_t off;
		uint32_t len;
	} msgs[OUTBOX_MAX_MSGS];
};

int outbox_init(struct outbox *ob, size_t cap);
void outbox_fini(struct outbox *ob);
ssize_t outbox_put(struct outbox *ob, int fd, const struct iovec *iov,
		   int count);
void outbox_flush(struct outbox *ob);

#endif /* CUSETAP_OUTBOX_H */
