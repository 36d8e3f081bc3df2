// SPDX-License-Identifier: BSD-2-Clause
/*
 * loop.c - the io_uring event loop
 *
 * One thread, one ring. Reads of every /dev/cuse session and every kernel
 * TAP stay posted; the rtnetlink socket is polled; signals arrive through a
 * signalfd read. A completion is dispatched on its tag; an object with a
 * submission in flight is only freed by its own handler, once the
 * completion (or cancellation) has arrived, so no completion ever points to
 * freed memory.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "cdev.h"
#include "ctl.h"
#include "log.h"
#include "loop.h"
#include "main.h"
#include "netstack/ktap.h"
#include "util.h"

#define LOOP_TAG_SHIFT	56
#define LOOP_PTR_MASK	((UINT64_C(1) << LOOP_TAG_SHIFT) - 1)

typedef void (*loop_fn)(void *obj, int res);

static const char *const loop_tag_names[] = {
	"cuse read", "tap read", "tap write", "rtnl poll", "scan timer",
	"signal", "ctl", "ctl conn", "cancel",
};
static_assert(ARRAY_SIZE(loop_tag_names) == LOOP_NTAGS,
	      "loop_tag_names must name every tag");

/**
 * loop_ignore() - handler for completions nobody needs to see
 * @obj:	unused
 * @res:	unused
 */
static void loop_ignore(void *obj, int res)
{
	(void)obj;
	(void)res;
}

static const loop_fn loop_handlers[] = {
	[LOOP_CUSE_READ]	= cdev_on_read,
	[LOOP_TAP_READ]		= ktap_on_read,
	[LOOP_TAP_WRITE]	= ktap_on_write,
	[LOOP_RTNL_POLL]	= ktap_on_rtnl,
	[LOOP_SCAN_TIMER]	= ktap_on_scan_timer,
	[LOOP_SIGNAL]		= main_on_signal,
	[LOOP_CTL]		= ctl_on_poll,
	[LOOP_CTL_CONN]		= ctl_on_conn,
	[LOOP_CANCEL]		= loop_ignore,
};
static_assert(ARRAY_SIZE(loop_handlers) == LOOP_NTAGS,
	      "loop_handlers must handle every tag");

/**
 * loop_init() - create the ring
 * @l:		loop
 * @entries:	submission queue size; the completion queue is 8 times larger
 *
 * Return: 0, or -errno from io_uring_setup (-ENOSYS: kernel without
 *	   io_uring, -EPERM: io_uring disabled by sysctl or seccomp)
 */
int loop_init(struct loop *l, unsigned entries)
{
	struct io_uring_params p;
	int ret;

	memset(l, 0, sizeof(*l));
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = entries * 8;
	ret = io_uring_queue_init_params(entries, &l->ring, &p);
	l->ready = ret == 0;
	return ret;
}

/**
 * loop_fini() - destroy the ring
 * @l:		loop
 */
void loop_fini(struct loop *l)
{
	if (l->ready)
		io_uring_queue_exit(&l->ring);
	l->ready = false;
}

/**
 * loop_sqe() - a submission slot, tagged for dispatch
 * @l:		loop
 * @tag:	handler of the completion
 * @obj:	object passed to the handler
 *
 * Submits what is queued if the ring is full, so it never fails for lack
 * of room; the caller fills in the operation.
 *
 * Return: the submission queue entry
 */
struct io_uring_sqe *loop_sqe(struct loop *l, enum loop_tag tag, void *obj)
{
	struct io_uring_sqe *sqe;

	while (!(sqe = io_uring_get_sqe(&l->ring)))
		io_uring_submit(&l->ring);
	io_uring_sqe_set_data64(sqe, (uint64_t)tag << LOOP_TAG_SHIFT |
				     ((uintptr_t)obj & LOOP_PTR_MASK));
	l->inflight++;
	return sqe;
}

/**
 * loop_sqe_linked() - a submission the next one will wait for
 * @l:		loop
 * @tag:	handler of the completion
 * @obj:	object passed to the handler
 *
 * Room for this one and the next is made now, so the pair is never split
 * across two submissions, which would break the link. The caller prepares
 * the entry, then calls loop_link() on it (io_uring_prep_*() clears the
 * flags, so the link can only be set after).
 *
 * Return: the submission queue entry
 */
struct io_uring_sqe *loop_sqe_linked(struct loop *l, enum loop_tag tag,
				     void *obj)
{
	if (io_uring_sq_space_left(&l->ring) < 2)
		io_uring_submit(&l->ring);
	return loop_sqe(l, tag, obj);
}

/**
 * loop_link() - make the next submission wait for this prepared one
 * @sqe:	entry from loop_sqe_linked(), already prepared
 *
 * The next one starts only once this one has completed, and is cancelled
 * if this one fails.
 */
void loop_link(struct io_uring_sqe *sqe)
{
	io_uring_sqe_set_flags(sqe, sqe->flags | IOSQE_IO_LINK);
}

/**
 * loop_cancel() - cancel the submissions of one object
 * @l:		loop
 * @tag:	their tag
 * @obj:	their object
 *
 * Their completions still arrive, with -ECANCELED (or their result, if
 * they were done already).
 */
void loop_cancel(struct loop *l, enum loop_tag tag, void *obj)
{
	struct io_uring_sqe *sqe = loop_sqe(l, LOOP_CANCEL, NULL);

	io_uring_prep_cancel64(sqe, (uint64_t)tag << LOOP_TAG_SHIFT |
				    ((uintptr_t)obj & LOOP_PTR_MASK), 0);
}

/**
 * loop_submit() - issue what is queued now, without waiting
 * @l:		loop
 */
void loop_submit(struct loop *l)
{
	io_uring_submit(&l->ring);
}

/**
 * loop_hold() - work is held back for a batch: run the idle hook before
 *		 the loop next sleeps
 * @l:		loop
 */
void loop_hold(struct loop *l)
{
	l->holding = true;
}

/**
 * loop_dispatch() - hand every available completion to its handler
 * @l:		loop
 */
static void loop_dispatch(struct loop *l)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&l->ring, &cqe) == 0) {
		uint64_t ud = io_uring_cqe_get_data64(cqe);
		unsigned tag = ud >> LOOP_TAG_SHIFT;
		void *obj = (void *)(uintptr_t)(ud & LOOP_PTR_MASK);
		int res = cqe->res;

		/* A multishot submission stays in flight while F_MORE is set */
		if (!(cqe->flags & IORING_CQE_F_MORE))
			l->inflight--;
		io_uring_cqe_seen(&l->ring, cqe);
		if (tag >= LOOP_NTAGS) {
			log_err("loop: completion with unknown tag %u", tag);
			continue;
		}
		log_debug("loop: %s %p: %d", loop_tag_names[tag], obj, res);
		loop_handlers[tag](obj, res);
	}
}

/**
 * loop_run() - run until loop.stop is set
 * @l:		loop
 *
 * While work is held back (loop_hold()), what is queued is submitted first
 * without waiting: a busy loop finds completions ready and goes on, still
 * holding; only when nothing is ready does the idle hook issue the held
 * work, and the loop waits. Otherwise one io_uring_enter() submits and
 * waits.
 *
 * Return: 0, or -errno if waiting on the ring failed
 */
int loop_run(struct loop *l)
{
	while (!l->stop) {
		int ret = 0;

		if (l->holding) {
			ret = io_uring_submit(&l->ring);
			if (ret >= 0 && !io_uring_cq_ready(&l->ring)) {
				l->holding = false;
				if (l->idle)
					l->idle(l->idle_arg);
			}
		}
		if (!l->holding)
			ret = io_uring_submit_and_wait(&l->ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN &&
		    ret != -EBUSY) {
			log_err("loop: io_uring_enter: %s", strerror(-ret));
			return ret;
		}
		loop_dispatch(l);
		if (l->after)
			l->after(l->after_arg);
	}
	return 0;
}

/**
 * loop_drain() - wait until every submission has completed
 * @l:		loop
 * @timeout_ms:	give up after this long
 *
 * Used at exit, after everything was cancelled, so that no file is still
 * held by the ring when it is closed.
 *
 * Return: 0, -ETIMEDOUT
 */
int loop_drain(struct loop *l, unsigned timeout_ms)
{
	struct timespec start, now;

	if (!l->ready)
		return 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (l->inflight) {
		struct __kernel_timespec ts = { .tv_nsec = 50 * 1000 * 1000 };
		struct io_uring_cqe *cqe;

		io_uring_submit(&l->ring);
		io_uring_wait_cqe_timeout(&l->ring, &cqe, &ts);
		loop_dispatch(l);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_nsec - start.tv_nsec) / 1000000 > timeout_ms)
			return -ETIMEDOUT;
	}
	return 0;
}
