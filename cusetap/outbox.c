// SPDX-License-Identifier: BSD-2-Clause
/*
 * outbox.c - replies held back until the model lock is released
 *
 * A loop's thread (loop.c) holds the model lock while libfuse parses a
 * request and the device model answers it; writing the answer to
 * /dev/cuse is the longer part (it wakes the client, which on a busy CPU
 * runs before the write returns), and needs no lock. So the answer to a
 * read or a write is copied here, and written once the lock is released.
 * A message is a FUSE reply, at most a frame and a header: copying it
 * costs less than holding the other threads off for the write.
 *
 * A write that fails is not retried: the kernel refuses a reply only when
 * its request is gone (the client was interrupted, or died), and then
 * nobody waits for it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "outbox.h"

/**
 * outbox_init() - an empty outbox
 * @ob:		outbox
 * @cap:	bytes it holds; larger messages are written at once
 *
 * Return: 0, -ENOMEM
 */
int outbox_init(struct outbox *ob, size_t cap)
{
	memset(ob, 0, sizeof(*ob));
	ob->buf = malloc(cap);
	if (!ob->buf)
		return -ENOMEM;
	ob->cap = cap;
	return 0;
}

/**
 * outbox_fini() - free an outbox, dropping what it holds
 * @ob:		outbox
 */
void outbox_fini(struct outbox *ob)
{
	free(ob->buf);
	ob->buf = NULL;
	ob->used = ob->nmsgs = 0;
}

/**
 * outbox_flush() - write out every message held, oldest first
 * @ob:		outbox
 */
void outbox_flush(struct outbox *ob)
{
	unsigned i;

	for (i = 0; i < ob->nmsgs; i++) {
		if (write(ob->msgs[i].fd, ob->buf + ob->msgs[i].off,
			  ob->msgs[i].len) < 0)
			log_debug("/dev/cuse: reply: %s", strerror(errno));
	}
	ob->used = ob->nmsgs = 0;
}

/**
 * outbox_put() - hold a copy of a message
 * @ob:		outbox
 * @fd:		/dev/cuse file descriptor it goes to
 * @iov:	the message
 * @count:	iovec count
 *
 * When the outbox is full, what it holds is written first; a message
 * larger than the whole outbox is written at once.
 *
 * Return: the message's length, as writev(2) would
 */
ssize_t outbox_put(struct outbox *ob, int fd, const struct iovec *iov,
		   int count)
{
	size_t len = 0;
	int i;

	for (i = 0; i < count; i++)
		len += iov[i].iov_len;
	if (len > ob->cap) {
		outbox_flush(ob);
		return writev(fd, iov, count);
	}
	if (ob->nmsgs == OUTBOX_MAX_MSGS || ob->cap - ob->used < len)
		outbox_flush(ob);
	ob->msgs[ob->nmsgs].fd = fd;
	ob->msgs[ob->nmsgs].off = (uint32_t)ob->used;
	ob->msgs[ob->nmsgs].len = (uint32_t)len;
	ob->nmsgs++;
	for (i = 0; i < count; i++) {
		if (!iov[i].iov_len)
			continue;	/* may have no base at all */
		memcpy(ob->buf + ob->used, iov[i].iov_base, iov[i].iov_len);
		ob->used += iov[i].iov_len;
	}
	return (ssize_t)len;
}
