// SPDX-License-Identifier: BSD-2-Clause
/*
 * cdev.c - the character-device side: CUSE sessions and their callbacks
 *
 * Theory of operation
 *
 * Each node owns a /dev/cuse file descriptor, opened non-blocking and handed
 * to libfuse with fuse_session_custom_io(), so that the event loop, not
 * libfuse, reads it: a read stays posted per node, into a slot's buffer,
 * and each request read is dispatched from there (below). While
 * requests keep coming, the next ones are taken with plain non-blocking
 * reads (CDEV_READ_BUDGET); the posted read is what the node sleeps on.
 * Each unit node's session is read by the loop its unit number picks
 * (loop_for()), so that clients of different units opened by name are
 * served by different threads. The cloner's is read by loop 0 while at
 * most one clone is open, and by every loop, each with an exclusive poll
 * in its own slot, once two are (cdev_spread()): every clone's requests
 * come through it.
 *
 * The frame path, reads and writes (one request per frame) and the polls
 * of a client that waits with poll(), select() or epoll (one before each
 * frame it waits for), is answered here without libfuse: its handling of
 * a request (an allocation, its locks, the dispatch) cost 11 us of CPU per
 * request under emulation, measured, against 34 us for our own work and
 * the answer, and a poll cost a second allocation, for its handle. A
 * request is parsed from the kernel's message (struct fuse_in_header, then
 * fuse_read_in, fuse_write_in or fuse_poll_in) and answered with a struct
 * fuse_out_header once the loop lets go of the model lock (loop_reply()).
 * A parked read, and a poll handle, is a struct cdev_rreq, on its node's
 * list until answered or notified; FUSE_INTERRUPT is taken here too, since
 * libfuse never saw those reads.
 * Every other request goes to libfuse, which parses it without the model
 * lock (it has its own); each callback takes the lock for the model, and
 * its answer is written at once (cdev_io_writev()), because what follows
 * depends on it: an open's answer says whether the opener still waits,
 * CUSE_INIT's answer makes the node appear.
 *
 * A CUSE device appears when its session answers CUSE_INIT, and disappears
 * when its file descriptor is closed; the node is freed only once its
 * posted reads have completed or been cancelled, and never while one of its
 * own callbacks is running (a NetBSD close of /dev/tapN destroys the node
 * it arrived on).
 *
 * Ioctls run in CUSE's unrestricted mode: BSD commands encode their
 * direction the other way round from Linux, so the kernel cannot be left
 * to decode them. The first call of a data ioctl arrives without data and
 * is answered with fuse_reply_ioctl_retry(), naming the argument's bytes.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <cuse_lowlevel.h>
#include <linux/fuse.h>

#include "cdev.h"
#include "ioctl.h"
#include "log.h"
#include "loop.h"
#include "util.h"

/* Largest write: a TAPMRU frame plus a virtio-net header, with room to spare */
#define CDEV_MAX_WRITE	(65536 + 4096)
/* The kernel refuses reads of /dev/cuse smaller than a header + max_write */
#define CDEV_BUF_SIZE	(CDEV_MAX_WRITE + 4096)
/*
 * Reads kept posted per session. A unit's node has one: the kernel wakes
 * every poller of /dev/cuse for each request, and each posted read is a
 * poller, so more reads on one loop cost CPU and gain nothing (measured
 * with scripts/bench: eight reads on the cloner cost 20 % more daemon CPU
 * per frame than one).
 *
 * The cloner has a slot per loop, each on its own loop: every clone's
 * requests come through the cloner's one connection, which cannot be
 * split (FUSE_DEV_IOC_CLONE is refused on /dev/cuse), so reading it from
 * every thread is the only way clones are served in parallel. But only
 * while two clones or more are open (cdev_spread()): a lone client's
 * successive requests would wake alternate threads, and under emulation
 * that cost one client 35 % of its frames. With one clone, the cloner's
 * session is read by its own loop alone, as a unit's is.
 */
#define CDEV_UNIT_SLOTS		1
#define CDEV_SPREAD_CLONES	2
/*
 * Requests taken with plain read()s after a posted read completed, before
 * the other sessions and the TAPs get their turn: the reply to a request
 * wakes its client, which has usually sent the next one by the time we
 * look again (on one core, it preempts us), and a read() that finds it
 * costs less than an io_uring read. scripts/bench measured 25 us for the
 * io_uring read of a request against 15 us for read(), under emulation.
 */
#define CDEV_READ_BUDGET	16
/*
 * Device nodes (cloning nodes and units) a daemon serves at once: libfuse
 * takes a thread-specific key for each CUSE session, glibc has 1024
 * (PTHREAD_KEYS_MAX), and a few are left for the libraries. Past this, a
 * new unit is refused with ENXIO, as when unit numbers run out, rather
 * than failing in libfuse with a misleading ENOMEM.
 */
#define CDEV_MAX_NODES		1016

struct cdev_node;

/**
 * struct cdev_rreq - a read of the frame path, or a poll handle, as the
 *		      device model knows it
 * @next:	next on the node's list of parked reads (or of poll
 *		handles), or on the free list
 * @pprev:	what points to it on the node's list, NULL when on none
 * @cc:		context, whose free list it goes back to
 * @node:	session it came on, NULL once that is gone (then no answer)
 * @unique:	the kernel's request id; for a poll handle, the kernel's
 *		handle (fuse_poll_in.kh) that its notification names
 * @w:		the model's waiter while parked, NULL otherwise
 */
struct cdev_rreq {
	struct cdev_rreq *next;
	struct cdev_rreq **pprev;
	struct cdev_ctx *cc;
	struct cdev_node *node;
	uint64_t unique;
	struct tapdev_waiter *w;
};

/**
 * struct cdev_slot - one posted read (or poll) of a session, with its buffer
 * @node:	session
 * @buf:	request buffer, CDEV_BUF_SIZE bytes
 * @reading:	a read into @buf, or a poll, is in flight
 * @busy:	posted, and not yet done with: in flight, or its request is
 *		being handled (the lock is let go meanwhile, and another
 *		thread must not post it again)
 * @polled:	what is in flight is an exclusive poll, not a read
 * @home:	the loop that should read it
 * @ring:	the loop it is in flight on (loop 0 until @home's thread runs)
 */
struct cdev_slot {
	struct cdev_node *node;
	uint8_t *buf;
	bool reading;
	bool busy;
	bool polled;
	struct loop *home;
	struct loop *ring;
};

/**
 * struct cdev_node - one device node, one CUSE session
 * @next:	next live node
 * @cc:		context
 * @se:		libfuse session, which owns @fd
 * @fd:		/dev/cuse file descriptor
 * @unit:	unit whose node this is, NULL for the cloner (or once deleted)
 * @mem:	request buffers of all slots, mapped lazily
 * @nslots:	number of posted reads
 * @reading:	slots with a read in flight
 * @cloner:	this is the cloning node
 * @ready:	CUSE_INIT answered: the node exists
 * @dispatching: threads running this node's requests
 * @dying:	deleted: free once nothing is reading or dispatching
 * @deferred:	waiting for the cloner's node before starting its session
 * @parked:	reads of the frame path parked on this session
 * @polls:	poll handles of this session's files, until notified
 * @intr:	an interrupt that found no parked read (a session read by
 *		several threads, cdev_shared()), or 0
 * @intr_of:	the read it is for
 * @open_req:	an open of the cloner that created this node's unit, answered
 *		once the node exists (so that open() returning means
 *		/dev/tapN is there), or NULL
 * @open_fi:	its file info
 * @file:	the file opened through this unit node and not yet released:
 *		when the node goes, its session goes, and no release will come
 * @name:	device name, /dev/@name
 * @slots:	the posted reads, @nslots of them
 */
struct cdev_node {
	struct cdev_node *next;
	struct cdev_ctx *cc;
	struct fuse_session *se;
	int fd;
	struct tapdev_unit *unit;
	uint8_t *mem;
	unsigned nslots;
	unsigned reading;
	bool cloner;
	bool ready;
	unsigned dispatching;
	bool dying;
	bool deferred;
	struct cdev_rreq *parked;
	struct cdev_rreq *polls;
	uint64_t intr;
	uint64_t intr_of;
	fuse_req_t open_req;
	struct fuse_file_info open_fi;
	struct tapdev_file *file;
	char name[IFNAMSIZ];
	struct cdev_slot slots[];
};

/* Nodes alive in the daemon, every device's (under the model lock), and
 * whether refusing one for CDEV_MAX_NODES was logged since the last went */
static unsigned cdev_nodes;
static bool cdev_full_said;

static void cdev_node_free(struct cdev_node *n);
static void cdev_start_deferred(struct cdev_ctx *cc);
static void cdev_close(struct cdev_ctx *cc, struct tapdev_file *f);
static void cdev_clones_changed(struct cdev_ctx *cc, int delta);

/**
 * cdev_file() - the device model's open file behind a CUSE file
 * @fi:		CUSE file info
 *
 * Return: the open file
 */
static struct tapdev_file *cdev_file(const struct fuse_file_info *fi)
{
	return (struct tapdev_file *)(uintptr_t)fi->fh;
}

/**
 * cdev_init_conn() - CUSE_INIT: choose the largest write the kernel sends
 * @userdata:	node
 * @conn:	connection parameters
 */
static void cdev_init_conn(void *userdata, struct fuse_conn_info *conn)
{
	conn->max_write = CDEV_MAX_WRITE;
}

/**
 * cdev_reply_open() - answer an open with the device model's file
 * @req:	request
 * @fi:		file info, fh set
 */
static void cdev_reply_open(fuse_req_t req, struct fuse_file_info *fi)
{
	fi->direct_io = 1;
	fi->nonseekable = 1;
	/* The opener died before seeing the answer: no release will come */
	if (fuse_reply_open(req, fi) == -ENOENT) {
		struct cdev_node *n = fuse_req_userdata(req);

		if (n->file == cdev_file(fi))
			n->file = NULL;
		cdev_close(n->cc, cdev_file(fi));
	}
}

/**
 * cdev_node_perms() - give a new node the configured owner and mode
 * @n:		node
 * @path:	its path
 *
 * CUSE nodes appear as root's, mode 0600: until this runs they are only
 * more restricted than configured, never less.
 */
static void cdev_node_perms(struct cdev_node *n, const char *path)
{
	const struct tapdev_config *cfg = &n->cc->tap->cfg;

	if ((cfg->owner != (uid_t)-1 || cfg->group != (gid_t)-1) &&
	    chown(path, cfg->owner, cfg->group) < 0)
		log_warn("%s: chown: %s", path, strerror(errno));
	if (chmod(path, cfg->mode) < 0)
		log_warn("%s: chmod: %s", path, strerror(errno));
}

/**
 * cdev_may_open() - the daemon's own permission check at open
 * @n:		node
 * @req:	open request
 * @flags:	open flags
 *
 * The kernel checked the node's permissions already; this second gate
 * checks the caller against the configured owner, group and mode, so that
 * a node whose mode was loosened on the host (or a race at its creation)
 * still lets no one else in.
 *
 * Return: 0, -EACCES
 */
static int cdev_may_open(struct cdev_node *n, fuse_req_t req, int flags)
{
	const struct tapdev_config *cfg = &n->cc->tap->cfg;
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	uid_t owner = cfg->owner == (uid_t)-1 ? 0 : cfg->owner;
	gid_t group = cfg->group == (gid_t)-1 ? 0 : cfg->group;
	unsigned want = 0, bits;
	gid_t groups[64];
	int i, n_groups;

	if (ctx->uid == 0)
		return 0;
	if ((flags & O_ACCMODE) != O_WRONLY)
		want |= 4;
	if ((flags & O_ACCMODE) != O_RDONLY)
		want |= 2;
	if (ctx->uid == owner) {
		bits = cfg->mode >> 6;
	} else {
		bits = cfg->mode;
		if (ctx->gid == group) {
			bits = cfg->mode >> 3;
		} else {
			n_groups = fuse_req_getgroups(req, 64, groups);
			for (i = 0; i < n_groups && i < 64; i++) {
				if (groups[i] == group) {
					bits = cfg->mode >> 3;
					break;
				}
			}
		}
	}
	return (bits & want) == want ? 0 : -EACCES;
}

/**
 * cdev_init_done() - the device node now exists
 * @userdata:	node
 *
 * The cloner's node fixes the device major every unit node then shares
 * (minor = unit + 1): the kernel has only a few hundred dynamic majors,
 * not one per unit.
 */
static void cdev_init_done(void *userdata)
{
	struct cdev_node *n = userdata;
	char path[IFNAMSIZ + 8];
	struct stat st;

	loop_lock();
	n->ready = true;
	n->cc->unready--;
	log_debug("/dev/%s: ready", n->name);
	snprintf(path, sizeof(path), "/dev/%s", n->name);
	cdev_node_perms(n, path);
	if (n->cloner) {
		if (stat(path, &st) == 0)
			n->cc->major = major(st.st_rdev);
		n->cc->cloner_ready = true;
		cdev_start_deferred(n->cc);
	}
	if (n->open_req) {
		/* Taken off the node first: a failed answer closes the file,
		 * which (NetBSD) deletes this very node */
		fuse_req_t req = n->open_req;
		struct fuse_file_info fi = n->open_fi;

		n->open_req = NULL;
		cdev_reply_open(req, &fi);
	}
	loop_unlock();
}

/**
 * cdev_do_open() - open of the node: clone, or open the node's unit
 * @req:	request
 * @fi:		file info; fh is set to the device model's file
 *
 * A clone's answer waits until the new unit's node exists. Model lock held.
 */
static void cdev_do_open(fuse_req_t req, struct fuse_file_info *fi)
{
	struct cdev_node *n = fuse_req_userdata(req), *un;
	struct tapdev_file *f;
	int ret;

	if (!n->cloner && !n->unit) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	ret = cdev_may_open(n, req, fi->flags);
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	ret = tapdev_open(n->cc->tap, n->unit, fuse_req_ctx(req)->pid, &f);
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	f->uid = fuse_req_ctx(req)->uid;
	fi->fh = (uintptr_t)f;
	un = f->unit->node;
	if (n->cloner && un && !un->ready && !un->open_req) {
		f->cloned = true;
		cdev_clones_changed(n->cc, 1);
		un->open_req = req;
		un->open_fi = *fi;
		return;
	}
	f->cloned = n->cloner;
	if (n->cloner)
		cdev_clones_changed(n->cc, 1);
	else
		n->file = f;
	cdev_reply_open(req, fi);
}

static void cdev_open(fuse_req_t req, struct fuse_file_info *fi)
{
	loop_lock();
	cdev_do_open(req, fi);
	loop_unlock();
}

static void cdev_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct cdev_node *n = fuse_req_userdata(req);

	loop_lock();
	if (n->file == cdev_file(fi))
		n->file = NULL;
	cdev_close(n->cc, cdev_file(fi));
	fuse_reply_err(req, 0);
	loop_unlock();
}

/*
 * Polls are the frame path's (cdev_fast_poll()); libfuse sees none from
 * the kernel. It is still given this callback: without one, libfuse would
 * answer ENOSYS, and the kernel would stop asking and call every file of
 * the session always ready. Its handle is libfuse's, which the model must
 * not keep (it holds ours), so no notification would ever wake a poller
 * that slept on this answer: it says "readable" too. A spurious readiness,
 * which poll() allows (the read then parks or finds EAGAIN), rather than a
 * sleep that nothing ends.
 */
static void cdev_poll(fuse_req_t req, struct fuse_file_info *fi,
		      struct fuse_pollhandle *ph)
{
	if (ph)
		fuse_pollhandle_destroy(ph);
	loop_lock();
	fuse_reply_poll(req, tapdev_poll(cdev_file(fi), NULL) |
			     POLLIN | POLLRDNORM);
	loop_unlock();
}

/**
 * cdev_do_ioctl() - run an ioctl from the table, fetching its argument first
 * @req:	request
 * @cmd:	command (libfuse 3.14 passes it as int)
 * @arg:	the client's argument: an address, or a value for IOC_VOID
 * @fi:		file info
 * @flags:	FUSE_IOCTL_* flags
 * @in_buf:	bytes fetched from @arg, @in_bufsz of them
 * @in_bufsz:	size of @in_buf
 * @out_bufsz:	bytes the kernel will copy back to @arg
 */
static void cdev_do_ioctl(fuse_req_t req, int cmd, void *arg,
			  struct fuse_file_info *fi, unsigned flags,
			  const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	const struct tapioc *ioc = tapioc_find((unsigned)cmd);
	uint8_t out[TAPIOC_MAX_ARG] = { 0 };
	struct tapioc_args a = {
		.arg = (uintptr_t)arg,
		.in = in_buf,
		.out = out,
		.pid = fuse_req_ctx(req)->pid,
	};
	int ret;

	if (!ioc) {
		log_debug("ioctl 0x%08x: unknown", (unsigned)cmd);
		fuse_reply_err(req, ENOTTY);
		return;
	}
	if (in_bufsz < ioc->in || out_bufsz < ioc->out) {
		struct iovec iov_in = { arg, ioc->in };
		struct iovec iov_out = { arg, ioc->out };

		if (!arg) {
			fuse_reply_err(req, EFAULT);
			return;
		}
		fuse_reply_ioctl_retry(req, &iov_in, ioc->in ? 1 : 0,
				       &iov_out, ioc->out ? 1 : 0);
		return;
	}
	if (ioc->in && ioc->out)
		memcpy(out, in_buf, MIN(ioc->in, ioc->out));
	log_debug("ioctl %s", ioc->name);
	ret = ioc->fn(cdev_file(fi), &a);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_ioctl(req, ret, ioc->out ? out : NULL, ioc->out);
}

static void cdev_ioctl(fuse_req_t req, int cmd, void *arg,
		       struct fuse_file_info *fi, unsigned flags,
		       const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	loop_lock();
	cdev_do_ioctl(req, cmd, arg, fi, flags, in_buf, in_bufsz, out_bufsz);
	loop_unlock();
}

static const struct cuse_lowlevel_ops cdev_ops = {
	.init		= cdev_init_conn,
	.init_done	= cdev_init_done,
	.open		= cdev_open,
	.release	= cdev_release,
	.ioctl		= cdev_ioctl,
	.poll		= cdev_poll,
};

/**
 * cdev_io_writev() - libfuse's replies, written to the session's fd
 * @fd:		/dev/cuse
 * @iov:	reply
 * @count:	iovec count
 * @userdata:	node
 *
 * Return: as writev(2)
 */
static ssize_t cdev_io_writev(int fd, struct iovec *iov, int count,
			      void *userdata)
{
	return writev(fd, iov, count);
}

/**
 * cdev_io_read() - never used: the event loop reads the fd
 * @fd:		/dev/cuse
 * @buf:	buffer
 * @len:	its size
 * @userdata:	node
 *
 * Return: -1, errno EIO
 */
static ssize_t cdev_io_read(int fd, void *buf, size_t len, void *userdata)
{
	errno = EIO;
	return -1;
}

static const struct fuse_custom_io cdev_io = {
	.writev	= cdev_io_writev,
	.read	= cdev_io_read,
};

/**
 * cdev_answer() - answer a request of the frame path
 * @n:		session
 * @unique:	the request's id
 * @err:	0, or a positive errno
 * @data:	what a success carries (a frame, a struct fuse_write_out)
 * @len:	its length
 *
 * Written once the loop lets go of the model lock. The kernel refuses an
 * answer (ENOENT) only when the client is gone or was interrupted.
 */
static void cdev_answer(struct cdev_node *n, uint64_t unique, int err,
			const void *data, size_t len)
{
	struct fuse_out_header out = {
		.len = (uint32_t)(sizeof(out) + (err ? 0 : len)),
		.error = -err,
		.unique = unique,
	};
	struct iovec iov[2] = {
		{ &out, sizeof(out) },
		{ (void *)data, err ? 0 : len },
	};

	loop_reply(n->fd, iov, 2);
}

/**
 * cdev_rreq_get() - a read of the frame path, or a poll handle, from the
 *		     free list or new
 * @n:		session it came on
 * @unique:	the kernel's request id (a poll handle's: the kernel's handle)
 *
 * Return: the record, on no list yet; NULL if out of memory
 */
static struct cdev_rreq *cdev_rreq_get(struct cdev_node *n, uint64_t unique)
{
	struct cdev_ctx *cc = n->cc;
	struct cdev_rreq *r = cc->free_rreqs;

	if (r)
		cc->free_rreqs = r->next;
	else if (!(r = calloc(1, sizeof(*r))))
		return NULL;
	r->cc = cc;
	r->node = n;
	r->unique = unique;
	r->w = NULL;
	r->pprev = NULL;
	return r;
}

/**
 * cdev_rreq_link() - put a record on one of its node's lists
 * @r:		record
 * @head:	the list: the node's parked reads, or its poll handles
 */
static void cdev_rreq_link(struct cdev_rreq *r, struct cdev_rreq **head)
{
	r->next = *head;
	if (r->next)
		r->next->pprev = &r->next;
	r->pprev = head;
	*head = r;
}

/**
 * cdev_rreq_put() - a read was answered, or a poll handle notified or
 *		     dropped: off its node's list, recycle it
 * @r:		the record
 */
static void cdev_rreq_put(struct cdev_rreq *r)
{
	if (r->pprev) {
		*r->pprev = r->next;
		if (r->next)
			r->next->pprev = r->pprev;
		r->pprev = NULL;
	}
	r->w = NULL;
	r->node = NULL;
	r->next = r->cc->free_rreqs;
	r->cc->free_rreqs = r;
}

/**
 * cdev_rreq_orphan() - empty a node's list: its session is ending
 * @head:	the list
 *
 * The model still holds each record; it answers or notifies nobody, and
 * goes back to the free list when the model lets go of it.
 */
static void cdev_rreq_orphan(struct cdev_rreq **head)
{
	while (*head) {
		struct cdev_rreq *r = *head;

		*head = r->next;
		r->node = NULL;
		r->pprev = NULL;
	}
}

/**
 * cdev_fast_read() - FUSE_READ: one frame, or parked until one comes
 * @n:		session
 * @in:		request, @len bytes
 * @len:	its length
 *
 * Return: true if the read was parked
 */
static bool cdev_fast_read(struct cdev_node *n,
			   const struct fuse_in_header *in, size_t len)
{
	const struct fuse_read_in *arg = (const void *)(in + 1);
	struct tapdev_waiter *w;
	struct cdev_rreq *r;

	if (len < sizeof(*in) + sizeof(*arg)) {
		cdev_answer(n, in->unique, EINVAL, NULL, 0);
		return false;
	}
	if (n->intr && n->intr_of == in->unique) {
		/* Its interrupt overtook it, on another thread */
		n->intr = 0;
		cdev_answer(n, in->unique, EINTR, NULL, 0);
		return false;
	}
	r = cdev_rreq_get(n, in->unique);
	if (!r) {
		cdev_answer(n, in->unique, ENOMEM, NULL, 0);
		return false;
	}
	/* Answered at once, r is back on the free list when this returns */
	w = tapdev_read((struct tapdev_file *)(uintptr_t)arg->fh, r, arg->size,
			arg->flags & O_NONBLOCK);
	if (!w)
		return false;
	r->w = w;
	cdev_rreq_link(r, &n->parked);
	return true;
}

/**
 * cdev_fast_write() - FUSE_WRITE: one frame
 * @n:		session
 * @in:		request: header, struct fuse_write_in, the frame
 * @len:	its length
 */
static void cdev_fast_write(struct cdev_node *n,
			    const struct fuse_in_header *in, size_t len)
{
	const struct fuse_write_in *arg = (const void *)(in + 1);
	struct fuse_write_out out = { 0 };
	ssize_t ret;

	if (len < sizeof(*in) + sizeof(*arg) ||
	    len - sizeof(*in) - sizeof(*arg) != arg->size) {
		cdev_answer(n, in->unique, EINVAL, NULL, 0);
		return;
	}
	ret = tapdev_write((struct tapdev_file *)(uintptr_t)arg->fh, arg + 1,
			   arg->size);
	if (ret < 0) {
		cdev_answer(n, in->unique, (int)-ret, NULL, 0);
		return;
	}
	out.size = (uint32_t)ret;
	cdev_answer(n, in->unique, 0, &out, sizeof(out));
}

/**
 * cdev_shared() - may several threads read this session at once?
 * @n:		node
 *
 * Return: true for the cloner when there are several loops (a slot each)
 */
static bool cdev_shared(const struct cdev_node *n)
{
	return n->nslots > 1;
}

/**
 * cdev_fast_interrupt() - FUSE_INTERRUPT: the client of a read got a signal
 * @n:		session
 * @in:		request
 * @len:	its length
 *
 * The parked read is answered EINTR at once; the interrupt itself gets no
 * answer. One that finds nothing is for a read answered already, or for
 * a request of libfuse's (none of which waits for a signal), and is
 * dropped; except on a shared session, where the read may still be on
 * its way through another thread. That one is kept (@intr) until the next
 * request of the session: if it is the read, the read is answered EINTR;
 * otherwise the interrupt is answered EAGAIN, which makes the kernel send
 * it again if the read is still unanswered (the protocol libfuse follows
 * too; a kernel that finds the read answered refuses the EAGAIN).
 */
static void cdev_fast_interrupt(struct cdev_node *n,
				const struct fuse_in_header *in, size_t len)
{
	const struct fuse_interrupt_in *arg = (const void *)(in + 1);
	struct cdev_rreq *r;

	if (len < sizeof(*in) + sizeof(*arg))
		return;
	for (r = n->parked; r; r = r->next) {
		if (r->unique == arg->unique) {
			tapdev_interrupt(r->w, r);
			tapdev_reap(n->cc->tap);
			return;
		}
	}
	if (!cdev_shared(n))
		return;
	if (n->intr)
		cdev_answer(n, n->intr, EAGAIN, NULL, 0);
	n->intr = in->unique;
	n->intr_of = arg->unique;
}

/**
 * cdev_fast_poll() - FUSE_POLL: readiness, and a handle to notify
 * @n:		session
 * @in:		request
 * @len:	its length
 *
 * The kernel asks for a notification (FUSE_POLL_SCHEDULE_NOTIFY) when
 * its poller will sleep; the model keeps the handle until a frame comes
 * (cdev_poll_wake()) or it is replaced (cdev_poll_drop()).
 */
static void cdev_fast_poll(struct cdev_node *n,
			   const struct fuse_in_header *in, size_t len)
{
	const struct fuse_poll_in *arg = (const void *)(in + 1);
	struct fuse_poll_out out = { 0 };
	struct cdev_rreq *ph = NULL;

	if (len < sizeof(*in) + sizeof(*arg)) {
		cdev_answer(n, in->unique, EINVAL, NULL, 0);
		return;
	}
	if (arg->flags & FUSE_POLL_SCHEDULE_NOTIFY) {
		ph = cdev_rreq_get(n, arg->kh);
		if (!ph) {
			cdev_answer(n, in->unique, ENOMEM, NULL, 0);
			return;
		}
		cdev_rreq_link(ph, &n->polls);
	}
	out.revents = tapdev_poll((struct tapdev_file *)(uintptr_t)arg->fh, ph);
	cdev_answer(n, in->unique, 0, &out, sizeof(out));
}

/* What cdev_fast() did with a request */
enum cdev_took {
	CDEV_LIBFUSE,		/* not the frame path's: libfuse's to parse */
	CDEV_DONE,		/* answered (or an interrupt, taken) */
	CDEV_PARKED,		/* a read parked: its client sends nothing more
				 * until a frame comes, so looking is wasted */
};

/**
 * cdev_fast() - take a request of the frame path, model lock held
 * @n:		session
 * @buf:	request as read from /dev/cuse
 * @len:	its length
 *
 * Return: what was done with it
 */
static enum cdev_took cdev_fast(struct cdev_node *n, const uint8_t *buf,
				size_t len)
{
	const struct fuse_in_header *in = (const void *)buf;

	if (len < sizeof(*in) || in->len != len || in->total_extlen)
		return CDEV_LIBFUSE;
	/* An interrupt kept for a read that has not come: let it come again */
	if (n->intr && in->opcode != FUSE_INTERRUPT &&
	    !(in->opcode == FUSE_READ && in->unique == n->intr_of)) {
		cdev_answer(n, n->intr, EAGAIN, NULL, 0);
		n->intr = 0;
	}
	switch (in->opcode) {
	case FUSE_READ:
		return cdev_fast_read(n, in, len) ? CDEV_PARKED : CDEV_DONE;
	case FUSE_WRITE:
		cdev_fast_write(n, in, len);
		return CDEV_DONE;
	case FUSE_POLL:
		cdev_fast_poll(n, in, len);
		return CDEV_DONE;
	case FUSE_INTERRUPT:
		cdev_fast_interrupt(n, in, len);
		return CDEV_DONE;
	default:
		return CDEV_LIBFUSE;
	}
}

/**
 * cdev_spread() - is the cloner's session read from every loop now?
 * @n:		node
 *
 * Return: true for a shared node while CDEV_SPREAD_CLONES clones or more
 *	   are open
 */
static bool cdev_spread(const struct cdev_node *n)
{
	return cdev_shared(n) && n->cc->clones >= CDEV_SPREAD_CLONES;
}

/**
 * cdev_post_read() - post a read of the node's fd into a slot
 * @sl:		slot, not reading
 *
 * A spread session is polled instead, with an exclusive wait, then read
 * with read(2): the kernel wakes every poller of /dev/cuse for each
 * request, but only one exclusive one, so each request wakes one thread
 * and not all of them (a posted read is a poller, and not exclusive).
 */
static void cdev_post_read(struct cdev_slot *sl)
{
	struct cdev_node *n = sl->node;
	struct io_uring_sqe *sqe;

	sl->ring = loop_serving(sl->home);
	sqe = loop_sqe(sl->ring, LOOP_CUSE_READ, sl);
	sl->polled = cdev_spread(n);
	if (sl->polled)
		io_uring_prep_poll_add(sqe, n->fd, POLLIN | EPOLLEXCLUSIVE);
	else
		io_uring_prep_read(sqe, n->fd, sl->buf, CDEV_BUF_SIZE, 0);
	sl->reading = true;
	sl->busy = true;
	n->reading++;
}

/**
 * cdev_clones_changed() - a clone was opened or closed
 * @cc:		context
 * @delta:	+1 or -1
 *
 * The second clone spreads the cloner's session over every loop: each
 * idle slot beyond the cloner's own loop's is posted, on its loop's ring.
 * Below two, those slots end as their polls complete (cdev_on_read()),
 * and the cloner's own slot turns back into a plain read when it is
 * next posted.
 */
static void cdev_clones_changed(struct cdev_ctx *cc, int delta)
{
	struct cdev_node *n = cc->cloner;
	unsigned i;

	cc->clones += (unsigned)delta;
	if (!n || n->dying || !n->se || !cdev_spread(n))
		return;
	for (i = 1; i < n->nslots; i++) {
		if (n->slots[i].busy)
			continue;
		cdev_post_read(&n->slots[i]);
		loop_submit(n->slots[i].ring);
	}
}

/**
 * cdev_close() - close a file of the device model
 * @cc:		context
 * @f:		file
 */
static void cdev_close(struct cdev_ctx *cc, struct tapdev_file *f)
{
	if (f->cloned)
		cdev_clones_changed(cc, -1);
	tapdev_close(f);
}

/**
 * cdev_node_free() - end the session (the kernel removes the node)
 * @n:		node, not reading, not dispatching
 */
static void cdev_node_free(struct cdev_node *n)
{
	struct cdev_node **pp;

	for (pp = &n->cc->nodes; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			break;
		}
	}
	if (!n->ready)
		n->cc->unready--;
	if (n == n->cc->cloner)
		n->cc->cloner = NULL;
	if (n->file)
		cdev_close(n->cc, n->file);	/* its unit is gone already */
	/*
	 * Still parked, or a poll handle still held (a clone's, still open):
	 * answered or notified into the void
	 */
	cdev_rreq_orphan(&n->parked);
	cdev_rreq_orphan(&n->polls);
	loop_quiesce();		/* no answer left for the fd we close */
	if (n->se)
		fuse_session_destroy(n->se);	/* closes n->fd */
	else if (n->fd >= 0)
		close(n->fd);
	if (n->mem)
		munmap(n->mem, (size_t)n->nslots * CDEV_BUF_SIZE);
	free(n);
	cdev_nodes--;
	cdev_full_said = false;
}

/**
 * cdev_node_del() - delete a node
 * @n:		node
 *
 * Its unit is forgotten at once; the session ends as soon as nothing of
 * the node is in flight or running.
 */
static void cdev_node_del(struct cdev_node *n)
{
	if (n->open_req) {
		fuse_req_t req = n->open_req;

		n->open_req = NULL;
		fuse_reply_err(req, ENXIO);
		cdev_close(n->cc, cdev_file(&n->open_fi));
	}
	n->unit = NULL;
	n->dying = true;
	if (n->reading) {
		unsigned i;

		for (i = 0; i < n->nslots; i++) {
			if (n->slots[i].reading)
				loop_cancel(n->slots[i].ring, LOOP_CUSE_READ,
					    &n->slots[i]);
		}
	} else if (!n->dispatching) {
		cdev_node_free(n);
	}
}

/**
 * cdev_node_start() - open the node's CUSE session
 * @n:		node
 *
 * Unit nodes take the cloner's major and minor unit + 1; the cloner takes
 * a dynamic major. The node appears when the kernel's CUSE_INIT has been
 * answered, in a later turn of the event loop.
 *
 * Return: 0, -ENODEV without CUSE, -errno
 */
static int cdev_node_start(struct cdev_node *n)
{
	struct cdev_ctx *cc = n->cc;
	char *argv[] = { "cusetap", cc->fuse_debug ? "-d" : NULL, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(cc->fuse_debug ? 2 : 1, argv);
	char devinfo[IFNAMSIZ + 16];
	const char *dev_info_argv[] = { devinfo };
	struct cuse_info ci = {
		.dev_major	= n->unit ? cc->major : 0,
		.dev_minor	= n->unit ? n->unit->num + 1 : 0,
		.dev_info_argc	= 1,
		.dev_info_argv	= dev_info_argv,
		.flags		= CUSE_UNRESTRICTED_IOCTL,
	};
	int ret;

	snprintf(devinfo, sizeof(devinfo), "DEVNAME=%s", n->name);
	n->fd = open("/dev/cuse", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (n->fd < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	ret = -ENOMEM;
	n->se = cuse_lowlevel_new(&args, &ci, &cdev_ops, n);
	fuse_opt_free_args(&args);	/* the session copied what it needs */
	if (!n->se)
		goto err;
	ret = fuse_session_custom_io(n->se, &cdev_io, n->fd);
	if (ret)
		goto err;
	cdev_post_read(&n->slots[0]);	/* the others, by cdev_spread() */
	return 0;

err:
	if (n->se)
		fuse_session_destroy(n->se);	/* the fd was never handed over */
	close(n->fd);
	n->se = NULL;
	n->fd = -1;
	return ret;
}

/**
 * cdev_node_room() - may one more device node be made (CDEV_MAX_NODES)
 * @host:	context (struct cdev_ctx), unused: the count is the daemon's
 *
 * Return: true if there is room; false after saying why, once until a
 *	   node goes
 */
static bool cdev_node_room(void *host)
{
	(void)host;
	if (cdev_nodes < CDEV_MAX_NODES)
		return true;
	if (!cdev_full_said)
		log_warn("no new unit: a daemon serves at most %d device nodes "
			 "(libfuse needs a thread key for each)", CDEV_MAX_NODES);
	cdev_full_said = true;
	return false;
}

/**
 * cdev_node_new() - create a node named @name
 * @cc:		context
 * @name:	device name, validated by the caller
 * @unit:	its unit, NULL for the cloner
 * @np:		set to the node
 *
 * A unit node made before the cloner's node exists waits for it (it needs
 * the cloner's major); cc->unready counts it meanwhile.
 *
 * Return: 0, -EEXIST if /dev/@name exists, or an error of cdev_node_start()
 */
static int cdev_node_new(struct cdev_ctx *cc, const char *name,
			 struct tapdev_unit *unit, struct cdev_node **np)
{
	char path[IFNAMSIZ + 8];
	struct cdev_node *n;
	struct stat st;
	unsigned i, nslots;
	int ret;

	snprintf(path, sizeof(path), "/dev/%s", name);
	if (stat(path, &st) == 0)
		return -EEXIST;
	if (!cdev_node_room(cc))
		return -ENXIO;
	nslots = unit ? CDEV_UNIT_SLOTS : loop_number();
	n = calloc(1, sizeof(*n) + nslots * sizeof(n->slots[0]));
	if (!n)
		return -ENOMEM;
	n->cc = cc;
	n->fd = -1;
	n->unit = unit;
	n->cloner = !unit;
	n->nslots = nslots;
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->mem = mmap(NULL, (size_t)n->nslots * CDEV_BUF_SIZE,
		      PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (n->mem == MAP_FAILED) {
		free(n);
		return -ENOMEM;
	}
	for (i = 0; i < n->nslots; i++) {
		n->slots[i].node = n;
		n->slots[i].buf = n->mem + (size_t)i * CDEV_BUF_SIZE;
		/* A unit's on the loop its number picks, the cloner's i on i */
		n->slots[i].home = loop_for(unit ? unit->num : i);
	}
	n->next = cc->nodes;
	cc->nodes = n;
	cc->unready++;
	cdev_nodes++;
	*np = n;
	if (unit && !cc->cloner_ready) {
		n->deferred = true;
		return 0;
	}
	ret = cdev_node_start(n);
	if (ret)
		cdev_node_free(n);
	return ret;
}

/**
 * cdev_start_deferred() - the cloner exists: start the unit nodes waiting
 * @cc:		context
 */
static void cdev_start_deferred(struct cdev_ctx *cc)
{
	struct cdev_node *n, *next;
	int ret;

	for (n = cc->nodes; n; n = next) {
		next = n->next;
		if (!n->deferred)
			continue;
		n->deferred = false;
		ret = cdev_node_start(n);
		if (ret) {
			log_err("cannot create /dev/%s: %s", n->name,
				strerror(-ret));
			tapdev_unit_destroy(n->unit);	/* deletes n */
		}
	}
}

/**
 * cdev_on_read() - a request arrived on a node's /dev/cuse
 * @obj:	slot it was read into
 * @res:	bytes read (a polled slot: the poll's events), or -errno
 *
 * ENODEV means the kernel ended the session (the CUSE device could not be
 * registered, or was torn down): the node is gone, and so is its unit.
 */
void cdev_on_read(void *obj, int res)
{
	struct cdev_slot *sl = obj;
	struct cdev_node *n = sl->node;

	unsigned budget = CDEV_READ_BUDGET;

	sl->reading = false;
	n->reading--;
	n->dispatching++;
	if (sl->polled && res > 0 && !n->dying) {
		/* A poll: the request is read here, unless another took it */
		loop_unlock();
		res = read(n->fd, sl->buf, CDEV_BUF_SIZE);
		if (res < 0)
			res = -errno;
		loop_lock();
	}
	while (res > 0 && !n->dying) {
		struct fuse_buf fb = { .mem = sl->buf, .size = (size_t)res };
		enum cdev_took took = cdev_fast(n, sl->buf, (size_t)res);
		bool more;

		/*
		 * libfuse runs without the lock, its callbacks take it; then
		 * the client's next request is usually there already, once
		 * our answer is out. Dispatching keeps the node meanwhile.
		 */
		loop_unlock();
		if (took == CDEV_LIBFUSE)
			fuse_session_process_buf(n->se, &fb);
		more = --budget && took != CDEV_PARKED;
		if (more) {
			res = read(n->fd, sl->buf, CDEV_BUF_SIZE);
			if (res < 0)
				res = -errno;
		}
		loop_lock();
		if (!more)
			break;
	}
	if (res < 0 && res != -EAGAIN && res != -EINTR &&
		   res != -ECANCELED && !n->dying) {
		log_err("/dev/%s: CUSE session ended: %s", n->name,
			strerror(-res));
		if (!n->ready)
			n->cc->failed = res;
		if (n->unit)
			tapdev_unit_destroy(n->unit);	/* deletes n */
		else
			cdev_node_del(n);
	}
	n->dispatching--;
	sl->busy = false;
	if (n->dying) {
		if (!n->reading && !n->dispatching)
			cdev_node_free(n);
		return;
	}
	if (sl == &n->slots[0] || cdev_spread(n))
		cdev_post_read(sl);
}

/**
 * cdev_node_add() - tapdev_host: create the node of a unit
 * @host:	context
 * @u:		unit
 *
 * Return: 0, or an error of cdev_node_new()
 */
static int cdev_node_add(void *host, struct tapdev_unit *u)
{
	struct cdev_node *n;
	int ret = cdev_node_new(host, u->ifname, u, &n);

	if (ret)
		return ret;
	u->node = n;
	return 0;
}

/**
 * cdev_node_remove() - tapdev_host: delete the node of a unit
 * @host:	context
 * @u:		unit
 */
static void cdev_node_remove(void *host, struct tapdev_unit *u)
{
	cdev_node_del(u->node);
	u->node = NULL;
}

/* Reads are all the frame path's: @req is a struct cdev_rreq */
static void cdev_reply_data(void *req, const void *buf, size_t len)
{
	struct cdev_rreq *r = req;

	if (r->node)
		cdev_answer(r->node, r->unique, 0, buf, len);
	cdev_rreq_put(r);
}

static void cdev_reply_err(void *req, int err)
{
	struct cdev_rreq *r = req;

	if (r->node)
		cdev_answer(r->node, r->unique, err, NULL, 0);
	cdev_rreq_put(r);
}

/* Poll handles are cdev_fast_poll()'s: FUSE_NOTIFY_POLL, then recycled */
static void cdev_poll_wake(void *ph)
{
	struct cdev_rreq *r = ph;
	struct fuse_notify_poll_wakeup_out arg = { .kh = r->unique };
	struct fuse_out_header out = {
		.len = sizeof(out) + sizeof(arg),
		.error = FUSE_NOTIFY_POLL,
	};
	struct iovec iov[2] = {
		{ &out, sizeof(out) },
		{ &arg, sizeof(arg) },
	};

	if (r->node)
		loop_reply(r->node->fd, iov, 2);
	cdev_rreq_put(r);
}

static void cdev_poll_drop(void *ph)
{
	cdev_rreq_put(ph);
}

/**
 * cdev_sigio() - FIOASYNC's signal, sent by the daemon on the kernel's behalf
 * @host:	context
 * @owner:	pid, or -pgid (checked against the opener by the model)
 * @pidfd:	pidfd of a positive @owner, or -1
 */
static void cdev_sigio(void *host, pid_t owner, int pidfd)
{
	int ret = pidfd >= 0 ? syscall(SYS_pidfd_send_signal, pidfd, SIGIO,
					NULL, 0)
			     : kill(owner, SIGIO);

	if (ret < 0)
		log_debug("SIGIO to %d: %s", (int)owner, strerror(errno));
}

const struct tapdev_host cdev_host = {
	.node_room	= cdev_node_room,
	.node_add	= cdev_node_add,
	.node_del	= cdev_node_remove,
	.reply_data	= cdev_reply_data,
	.reply_err	= cdev_reply_err,
	.poll_wake	= cdev_poll_wake,
	.poll_drop	= cdev_poll_drop,
	.sigio		= cdev_sigio,
};

/**
 * cdev_fuse_log() - libfuse's messages, into our log
 * @level:	syslog level
 * @fmt:	format
 * @ap:		arguments
 */
static void cdev_fuse_log(enum fuse_log_level level, const char *fmt,
			  va_list ap)
{
	char msg[512];
	size_t len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	if (len && msg[len - 1] == '\n')
		msg[len - 1] = '\0';
	if (level <= FUSE_LOG_ERR)
		log_err("libfuse: %s", msg);
	else if (level <= FUSE_LOG_WARNING)
		log_warn("libfuse: %s", msg);
	else
		log_debug("libfuse: %s", msg);
}

/**
 * cdev_probe() - can this process create CUSE devices at all
 *
 * Return: 0, -ENODEV without CUSE, -EACCES/-EPERM without the right, -errno
 */
int cdev_probe(void)
{
	int fd = open("/dev/cuse", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	close(fd);
	return 0;
}

/**
 * cdev_init() - create the cloning node
 * @cc:		context to fill
 * @tap:	device model
 * @devname:	cloning device name
 *
 * Return: 0, or an error of cdev_node_new()
 */
int cdev_init(struct cdev_ctx *cc, struct tapdev_ctx *tap, const char *devname)
{
	bool debug = cc->fuse_debug;

	memset(cc, 0, sizeof(*cc));
	cc->tap = tap;
	cc->fuse_debug = debug;
	fuse_set_log_func(cdev_fuse_log);
	return cdev_node_new(cc, devname, NULL, &cc->cloner);
}

/**
 * cdev_fini() - delete the cloning node; unit nodes go with their units
 * @cc:		context
 */
void cdev_fini(struct cdev_ctx *cc)
{
	struct cdev_rreq *r;

	if (cc->cloner)
		cdev_node_del(cc->cloner);
	cc->cloner = NULL;
	/* The model answered every read already (tapdev_fini()) */
	while ((r = cc->free_rreqs)) {
		cc->free_rreqs = r->next;
		free(r);
	}
}
