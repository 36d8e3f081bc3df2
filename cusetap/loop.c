// SPDX-License-Identifier: BSD-2-Clause
/*
 * loop.c - the io_uring event loops
 *
 * Reads of every /dev/cuse session and every kernel TAP stay posted; the
 * rtnetlink socket is polled; signals arrive through a signalfd read. A
 * completion is dispatched on its tag; an object with a submission in
 * flight is only freed by its own handler, once the completion (or
 * cancellation) has arrived, so no completion ever points to freed memory.
 *
 * Threads
 *
 * Every frame is a synchronous round trip between a client and the thread
 * that takes its request, so one client's frames go one at a time, and
 * clients are what run in parallel. Each unit's node has its own
 * /dev/cuse connection; every clone shares the cloner's, which cannot be
 * split (FUSE_DEV_IOC_CLONE is refused on /dev/cuse). So there is one
 * loop per thread (loop 0 is the main thread's, with the signals, the
 * control socket, rtnetlink and the cloner's own read), unit nodes are
 * spread over the loops, the cloner's session is read by every loop
 * while two clones or more are open (cdev.c), and each unit's TAP is read
 * on the loop that served its open.
 *
 * The device model is one, under one lock, the model lock: a loop's
 * thread holds it while it handles completions, and lets go of it only to
 * sleep on its ring, to read a client's next request, and to write the
 * answers it queued meanwhile (struct outbox: writing an answer wakes a
 * client, which on a busy CPU runs first; no other thread should wait for
 * that). Whoever holds the lock may queue submissions on any ring: a loop
 * publishes what it queued before it lets go, and a thread that queued on
 * another loop's ring submits it before it lets go. Only a ring's own
 * thread reaps its completions. Until a loop's thread runs (they start
 * once privileges are dropped, and inherit the confinement), loop 0
 * serves in its place (loop_serving()).
 */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/uio.h>

#include "cdev.h"
#include "ctl.h"
#include "log.h"
#include "loop.h"
#include "main.h"
#include "netstack/ktap.h"
#include "util.h"

#define LOOP_TAG_SHIFT	56
#define LOOP_PTR_MASK	((UINT64_C(1) << LOOP_TAG_SHIFT) - 1)

/* What each tag's submissions are, for the log */
static const char *const loop_tag_name[LOOP_NTAGS] = {
	[LOOP_CUSE_READ]	= "CUSE read(s)",
	[LOOP_TAP_READ]		= "TAP read(s)",
	[LOOP_TAP_WRITE]	= "TAP write(s)",
	[LOOP_RTNL_POLL]	= "rtnetlink poll(s)",
	[LOOP_SCAN_TIMER]	= "scan timer(s)",
	[LOOP_SIGNAL]		= "signalfd read(s)",
	[LOOP_CTL]		= "control socket poll(s)",
	[LOOP_CTL_CONN]		= "control connection I/O",
	[LOOP_CANCEL]		= "cancellation(s) or wake-up(s)",
};

typedef void (*loop_fn)(void *obj, int res);

/* Bytes of answers a loop's thread holds before writing them itself */
#define LOOP_OUTBOX_SIZE	(64 * 1024)

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

/* Every loop, by id; loop_all[0] is the main thread's */
static struct loop *loop_all[LOOP_MAX];
static unsigned loop_count;

/*
 * The model lock (see the top of this file). Adaptive: a waiter spins a
 * little before it sleeps, since the holder usually runs on another CPU
 * and lets go within microseconds, where a sleep and a wakeup across CPUs
 * cost more (with four clients on two threads, time spent waiting for it
 * fell by a third).
 */
static pthread_mutex_t loop_model_lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
/*
 * Held for reading by a thread whose outbox holds answers, from the first
 * one queued to the end of their writing; taken for writing by
 * loop_quiesce() before a /dev/cuse file is closed, so that no answer
 * queued for it goes to a file that took its number since.
 */
static pthread_rwlock_t loop_reply_lock = PTHREAD_RWLOCK_INITIALIZER;
/* Threads whose loop has stopped wait until loop_released (loop_park()) */
static pthread_mutex_t loop_park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t loop_park_cond = PTHREAD_COND_INITIALIZER;
static bool loop_released;

/* The calling thread's loop, and whether it holds the model lock */
static __thread struct loop *loop_mine;
static __thread bool loop_holding_lock;
/* Loops of other threads on whose rings this thread queued submissions */
static __thread uint32_t loop_foreign;
/* A loop's thread could not wait on its ring: the daemon must stop */
static int loop_thread_err;

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

	if (loop_count == LOOP_MAX)
		return -EMFILE;
	memset(l, 0, sizeof(*l));
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = entries * 8;
	ret = io_uring_queue_init_params(entries, &l->ring, &p);
	if (ret)
		return ret;
	ret = outbox_init(&l->out, LOOP_OUTBOX_SIZE);
	if (ret) {
		io_uring_queue_exit(&l->ring);
		return ret;
	}
	l->ready = true;
	l->id = loop_count;
	l->running = l->id == 0;
	loop_all[loop_count++] = l;
	return 0;
}

/**
 * loop_fini() - destroy the ring
 * @l:		loop
 */
void loop_fini(struct loop *l)
{
	if (!l->ready)
		return;
	io_uring_queue_exit(&l->ring);
	outbox_fini(&l->out);
	l->ready = false;
	loop_all[l->id] = NULL;
	if (l->id == loop_count - 1)
		loop_count--;
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
	l->inflight_tag[tag]++;
	if (l != loop_self())
		loop_foreign |= 1u << l->id;
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
 * loop_submit_all() - issue what is queued on every ring, without waiting
 *
 * For an order that must hold across threads: a frame queued on another
 * loop's ring is in the kernel when this returns, ahead of what the
 * caller does next (a carrier change, a close).
 */
void loop_submit_all(void)
{
	unsigned i;

	for (i = 0; i < loop_count; i++) {
		if (loop_all[i] && loop_all[i]->ready)
			io_uring_submit(&loop_all[i]->ring);
	}
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
		bool more = cqe->flags & IORING_CQE_F_MORE;

		io_uring_cqe_seen(&l->ring, cqe);
		/* A multishot submission stays in flight while F_MORE is set */
		if (!more)
			l->inflight--;
		if (tag >= LOOP_NTAGS) {
			log_err("loop: completion with unknown tag %u", tag);
			continue;
		}
		if (!more)
			l->inflight_tag[tag]--;
		log_debug("loop: %s %p: %d", loop_tag_names[tag], obj, res);
		loop_handlers[tag](obj, res);
	}
}

/**
 * loop_self() - the calling thread's loop
 *
 * Return: its loop; loop 0 for a thread that runs none (start-up, exit)
 */
struct loop *loop_self(void)
{
	return loop_mine ? loop_mine : loop_all[0];
}

/**
 * loop_for() - the loop a new session is given
 * @hint:	a number that spreads sessions evenly (a unit's number)
 *
 * Return: a loop
 */
struct loop *loop_for(unsigned hint)
{
	struct loop *l = loop_all[hint % loop_count];

	return l ? l : loop_all[0];
}

/**
 * loop_number() - how many loops there are
 *
 * Return: their count; loop_for(i) is loop i for each i below it
 */
unsigned loop_number(void)
{
	return loop_count;
}

/**
 * loop_serving() - the loop that reads for @home now
 * @home:	the loop a session or TAP belongs to
 *
 * Return: @home once its thread runs, loop 0 until then
 */
struct loop *loop_serving(struct loop *home)
{
	return home && home->running ? home : loop_all[0];
}

/**
 * loop_lock() - take the model lock
 */
void loop_lock(void)
{
	pthread_mutex_lock(&loop_model_lock);
	loop_holding_lock = true;
}

/**
 * loop_unlock() - submit what was queued on other threads' rings, release
 *		   the model lock, then write the answers queued meanwhile
 */
void loop_unlock(void)
{
	struct loop *l = loop_self();

	while (loop_foreign) {
		unsigned id = (unsigned)__builtin_ctz(loop_foreign);

		loop_foreign &= loop_foreign - 1;
		if (loop_all[id])
			io_uring_submit(&loop_all[id]->ring);
	}
	loop_holding_lock = false;
	pthread_mutex_unlock(&loop_model_lock);
	if (l->out.nmsgs) {
		outbox_flush(&l->out);
		pthread_rwlock_unlock(&loop_reply_lock);
	}
}

/**
 * loop_reply() - write a message to /dev/cuse once the lock is released
 * @fd:		/dev/cuse
 * @iov:	message
 * @count:	iovec count
 *
 * Without the model lock (start-up, exit) it is written at once.
 *
 * Return: its length, as writev(2)
 */
ssize_t loop_reply(int fd, const struct iovec *iov, int count)
{
	struct loop *l = loop_self();
	ssize_t ret;

	if (!loop_holding_lock)
		return writev(fd, iov, count);
	if (!l->out.nmsgs)
		pthread_rwlock_rdlock(&loop_reply_lock);
	ret = outbox_put(&l->out, fd, iov, count);
	if (!l->out.nmsgs)		/* too large to hold: written already */
		pthread_rwlock_unlock(&loop_reply_lock);
	return ret;
}

/**
 * loop_quiesce() - no answer is waiting to be written any more
 *
 * Called with the model lock, before a /dev/cuse file is closed: other
 * threads may still be writing answers they queued for it before they let
 * go of the lock. They queue no new ones while we hold it.
 */
void loop_quiesce(void)
{
	struct loop *l = loop_self();

	if (l->out.nmsgs) {
		outbox_flush(&l->out);
		pthread_rwlock_unlock(&loop_reply_lock);
	}
	pthread_rwlock_wrlock(&loop_reply_lock);
	pthread_rwlock_unlock(&loop_reply_lock);
}

/**
 * loop_enter() - submit what is queued, and wait for completions
 * @l:		the caller's loop, model lock held
 * @wait:	completions to wait for, 0 or 1
 *
 * What is queued is published under the lock (another thread may queue
 * more meanwhile: liburing's own submission would race with it); the
 * system call that submits it (and sleeps) runs without the lock.
 *
 * Return: as io_uring_enter()
 */
static int loop_enter(struct loop *l, unsigned wait)
{
	struct io_uring_sq *sq = &l->ring.sq;
	unsigned tail = sq->sqe_tail, pending;
	int ret;

	if (sq->sqe_head != tail) {
		sq->sqe_head = tail;
		io_uring_smp_store_release(sq->ktail, tail);
	}
	pending = tail - io_uring_smp_load_acquire(sq->khead);
	loop_unlock();
	ret = io_uring_enter(l->ring.ring_fd, pending, wait,
			     wait ? IORING_ENTER_GETEVENTS : 0, NULL);
	loop_lock();
	return ret;
}

/**
 * loop_run() - run until loop.stop is set
 * @l:		loop, of the calling thread
 *
 * While work is held back (loop_hold()), what is queued is submitted first
 * without waiting: a busy loop finds completions ready and goes on, still
 * holding; only when nothing is ready does the idle hook issue the held
 * work, and the loop waits. Otherwise one io_uring_enter() submits and
 * waits.
 *
 * The model lock is held throughout, except while waiting.
 *
 * Return: 0, or -errno if waiting on the ring failed
 */
int loop_run(struct loop *l)
{
	int err = 0;

	loop_mine = l;
	loop_lock();
	while (!l->stop) {
		int ret = 0;

		if (l->holding) {
			ret = loop_enter(l, 0);
			if (ret >= 0 && !io_uring_cq_ready(&l->ring)) {
				l->holding = false;
				if (l->idle)
					l->idle(l->idle_arg);
			}
		}
		if (!l->holding)
			ret = loop_enter(l, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN &&
		    ret != -EBUSY) {
			log_err("loop %u: io_uring_enter: %s", l->id,
				strerror(-ret));
			err = ret;
			break;
		}
		l->batches++;
		loop_dispatch(l);
		if (l->after)
			l->after(l->after_arg);
	}
	if (!err && l->id == 0)
		err = loop_thread_err;
	loop_unlock();
	loop_mine = NULL;
	return err;
}

/**
 * loop_park() - wait, with the loop stopped, until the daemon exits
 * @l:		the calling thread's loop
 *
 * The kernel finishes an io_uring request in the thread that submitted it
 * (task work), and the request holds its file until then. Once that
 * thread has exited, a kernel worker finishes it instead, later: the last
 * reference to a TAP or a /dev/cuse file would then be dropped after the
 * daemon exited, and its interface or node outlive the daemon for a
 * while (seen as a test's leftover interface). A parked thread still runs
 * its task work: what it submitted is finished before it, and the
 * daemon, exit.
 */
static void loop_park(struct loop *l)
{
	pthread_mutex_lock(&loop_park_lock);
	l->parked = true;
	pthread_cond_broadcast(&loop_park_cond);
	while (!loop_released)
		pthread_cond_wait(&loop_park_cond, &loop_park_lock);
	pthread_mutex_unlock(&loop_park_lock);
}

/**
 * loop_thread() - body of a loop's thread
 * @arg:	loop
 *
 * Return: NULL
 */
static void *loop_thread(void *arg)
{
	struct loop *l = arg;
	sigset_t all;
	int ret;

	/* Signals are the main thread's business (its signalfd) */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	ret = loop_run(l);
	if (ret) {
		/* Its sessions would hang: stop the daemon, as loop 0 would.
		 * Still as this loop's thread (loop_run() let go of it), so
		 * that loop 0's ring counts as another thread's, and the wake
		 * is submitted when the lock goes */
		log_err("loop %u failed: stopping the daemon", l->id);
		loop_mine = l;
		loop_lock();
		loop_thread_err = ret;
		loop_all[0]->stop = true;
		io_uring_prep_nop(loop_sqe(loop_all[0], LOOP_CANCEL, NULL));
		loop_unlock();
		loop_mine = NULL;
	}
	loop_park(l);
	return NULL;
}

/**
 * loop_start() - give a loop its own thread
 * @l:		loop other than 0, model lock held
 *
 * From now on sessions and TAPs of this loop are read here: each one's
 * next read is posted on this ring.
 *
 * Return: 0, -errno
 */
int loop_start(struct loop *l)
{
	int ret = pthread_create(&l->thread, NULL, loop_thread, l);

	if (ret)
		return -ret;
	l->running = true;
	return 0;
}

/**
 * loop_stop() - stop a loop's thread, and wait until it is parked
 * @l:		loop, not the caller's; model lock not held
 *
 * A no-op submission wakes it up to see @stop. What is still in flight
 * on its ring is reaped by loop_drain() afterwards; the thread stays
 * (loop_park()) until loop_join_all().
 */
void loop_stop(struct loop *l)
{
	if (!l->running || l->id == 0)
		return;
	loop_lock();
	l->stop = true;
	io_uring_prep_nop(loop_sqe(l, LOOP_CANCEL, NULL));
	loop_unlock();
	pthread_mutex_lock(&loop_park_lock);
	while (!l->parked)
		pthread_cond_wait(&loop_park_cond, &loop_park_lock);
	pthread_mutex_unlock(&loop_park_lock);
	loop_lock();	/* loop_serving() reads it under the lock */
	l->running = false;
	loop_unlock();
}

/**
 * loop_join_all() - let every parked thread go, and wait for them
 *
 * Once loop_drain() has finished everything they submitted.
 */
void loop_join_all(void)
{
	unsigned i;

	pthread_mutex_lock(&loop_park_lock);
	loop_released = true;
	pthread_cond_broadcast(&loop_park_cond);
	pthread_mutex_unlock(&loop_park_lock);
	for (i = 1; i < loop_count; i++) {
		if (loop_all[i] && loop_all[i]->parked)
			pthread_join(loop_all[i]->thread, NULL);
	}
}

/**
 * loop_drain() - wait until every submission of every loop has completed
 * @timeout_ms:	give up after this long
 *
 * Used at exit, on the main thread once the others have stopped, after
 * everything was cancelled, so that no file is still held by a ring when
 * it is closed. A completion on one ring may queue work on another.
 *
 * Return: 0, -ETIMEDOUT
 */
int loop_drain(unsigned timeout_ms)
{
	struct timespec start, now;
	unsigned inflight, i;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		inflight = 0;
		for (i = 0; i < loop_count; i++) {
			struct loop *l = loop_all[i];
			struct __kernel_timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
			struct io_uring_cqe *cqe;

			if (!l || !l->ready || !l->inflight)
				continue;
			io_uring_submit(&l->ring);
			io_uring_wait_cqe_timeout(&l->ring, &cqe, &ts);
			loop_lock();	/* handlers run with it, always */
			loop_dispatch(l);
			loop_unlock();
			inflight += l->inflight;
		}
		if (!inflight)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_nsec - start.tv_nsec) / 1000000 > timeout_ms)
			break;
	}
	for (i = 0; i < loop_count; i++) {
		struct loop *l = loop_all[i];
		unsigned t;

		for (t = 0; l && l->ready && t < LOOP_NTAGS; t++) {
			if (l->inflight_tag[t])
				log_warn("exit: loop %u: %u %s still in flight",
					 i, l->inflight_tag[t], loop_tag_name[t]);
		}
	}
	return -ETIMEDOUT;
}
