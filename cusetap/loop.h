/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * loop.h - the one io_uring event loop that owns every file descriptor
 *
 * Each submission carries a tagged 64-bit user_data: the tag (top byte)
 * says which module's handler gets the completion, the rest is a pointer
 * to the object it concerns.
 */
#ifndef CUSETAP_LOOP_H
#define CUSETAP_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <liburing.h>

enum loop_tag {
	LOOP_CUSE_READ,		/* a request read from a /dev/cuse session */
	LOOP_TAP_READ,		/* a frame read from a kernel TAP */
	LOOP_TAP_WRITE,		/* a frame written to a kernel TAP */
	LOOP_RTNL_POLL,		/* the rtnetlink event socket is readable */
	LOOP_SCAN_TIMER,	/* time to look for TAPs to adopt again */
	LOOP_SIGNAL,		/* a signal read from the signalfd */
	LOOP_CTL,		/* a control socket has connections waiting */
	LOOP_CTL_CONN,		/* a control connection received or sent */
	LOOP_CANCEL,		/* completion of a cancellation, ignored */
	LOOP_NTAGS,
};

/**
 * struct loop - the event loop
 * @ring:	the io_uring
 * @ready:	the ring exists
 * @inflight:	submissions whose completion has not been handled yet
 * @stop:	leave loop_run() after the current batch
 * @after:	called after every batch of completions, and its argument
 * @after_arg:	argument for @after
 * @idle:	called when no completion is ready, just before the loop
 *		sleeps, if loop_hold() was called since it last ran: the
 *		place to issue work held back for a batch
 * @idle_arg:	argument for @idle
 * @holding:	loop_hold() was called
 */
struct loop {
	struct io_uring ring;
	bool ready;
	unsigned inflight;
	bool stop;
	void (*after)(void *arg);
	void *after_arg;
	void (*idle)(void *arg);
	void *idle_arg;
	bool holding;
};

int loop_init(struct loop *l, unsigned entries);
void loop_fini(struct loop *l);
struct io_uring_sqe *loop_sqe(struct loop *l, enum loop_tag tag, void *obj);
struct io_uring_sqe *loop_sqe_linked(struct loop *l, enum loop_tag tag,
				     void *obj);
void loop_link(struct io_uring_sqe *sqe);
void loop_cancel(struct loop *l, enum loop_tag tag, void *obj);
void loop_submit(struct loop *l);
void loop_hold(struct loop *l);
int loop_run(struct loop *l);
int loop_drain(struct loop *l, unsigned timeout_ms);

#endif /* CUSETAP_LOOP_H */
