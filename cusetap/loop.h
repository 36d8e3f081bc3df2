/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * loop.h - io_uring event loops, one per thread, over one device model
 *
 * Each submission carries a tagged 64-bit user_data: the tag (top byte)
 * says which module's handler gets the completion, the rest is a pointer
 * to the object it concerns.
 */
#ifndef CUSETAP_LOOP_H
#define CUSETAP_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <liburing.h>

#include "outbox.h"

/* Loops at most: one per CPU is the most that pays */
#define LOOP_MAX	16

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
 * @inflight_tag: the same, by tag (named when they do not complete at exit)
 * @stop:	leave loop_run() after the current batch
 * @after:	called after every batch of completions, and its argument
 * @after_arg:	argument for @after
 * @idle:	called when no completion is ready, just before the loop
 *		sleeps, if loop_hold() was called since it last ran: the
 *		place to issue work held back for a batch
 * @idle_arg:	argument for @idle
 * @holding:	loop_hold() was called
 * @id:		index among the loops; 0 is the main thread's
 * @running:	its thread serves it (always true of loop 0)
 * @thread:	that thread, for loops other than 0
 * @parked:	that thread has left loop_run() and waits to exit
 * @out:	replies its thread writes once it lets go of the model lock
 * @batches:	batches of completions handled so far
 */
struct loop {
	struct io_uring ring;
	bool ready;
	unsigned inflight;
	unsigned inflight_tag[LOOP_NTAGS];
	bool stop;
	void (*after)(void *arg);
	void *after_arg;
	void (*idle)(void *arg);
	void *idle_arg;
	bool holding;
	unsigned id;
	bool running;
	pthread_t thread;
	bool parked;
	struct outbox out;
	unsigned long batches;
};

int loop_init(struct loop *l, unsigned entries);
void loop_fini(struct loop *l);
struct io_uring_sqe *loop_sqe(struct loop *l, enum loop_tag tag, void *obj);
struct io_uring_sqe *loop_sqe_linked(struct loop *l, enum loop_tag tag,
				     void *obj);
void loop_link(struct io_uring_sqe *sqe);
void loop_cancel(struct loop *l, enum loop_tag tag, void *obj);
void loop_submit(struct loop *l);
void loop_submit_all(void);
void loop_hold(struct loop *l);
int loop_run(struct loop *l);
int loop_drain(unsigned timeout_ms);

struct loop *loop_self(void);
struct loop *loop_for(unsigned hint);
unsigned loop_number(void);
struct loop *loop_serving(struct loop *home);
int loop_start(struct loop *l);
void loop_stop(struct loop *l);
void loop_join_all(void);

void loop_lock(void);
void loop_unlock(void);
ssize_t loop_reply(int fd, const struct iovec *iov, int count);
void loop_quiesce(void);

#endif /* CUSETAP_LOOP_H */
