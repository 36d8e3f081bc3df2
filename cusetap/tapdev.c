// SPDX-License-Identifier: BSD-2-Clause
/*
 * tapdev.c - the BSD tap(4) device model
 *
 * Theory of operation
 *
 * A unit is an interface plus its device node (/dev/tapN). Opening the
 * cloning node picks a unit (FreeBSD: the lowest one an earlier clone made
 * that is not open, else a new one; NetBSD: always a new one) and binds
 * the open file to it; opening /dev/tapN binds to unit N, or fails with
 * EBUSY while it is open.
 *
 * Frames from the host are received by the network side straight into the
 * unit's queue (fq). A read takes the oldest frame, truncated to the
 * caller's buffer with the rest dropped, as both BSDs do; with nothing
 * queued it fails with EAGAIN (O_NONBLOCK or BSD FIONBIO) or parks until a
 * frame arrives, the client is signalled, or the unit goes away. While no
 * one has a unit open, frames are received and dropped, never queued.
 *
 * A write is one frame. The rules the two BSDs differ on are applied here,
 * and nowhere else, from cfg.abi:
 *
 *   FreeBSD (if_tuntap.c)           NetBSD (if_tap.c)
 *   write while down returns 0      write while down accepted
 *   runt / foreign unicast dropped  accepted
 *   read while down may block       read while down: EHOSTDOWN
 *   close: down, addresses purged   close of a clone destroys the unit
 *
 * Both refuse frames larger than TAPMRU with EIO: NetBSD has no such limit,
 * but Linux cannot carry them and CUSE would split them into several
 * writes, so cusetap follows FreeBSD there.
 *
 * The interface's state (IFF_UP, IFF_PROMISC, MTU, MAC) is the Linux
 * interface's own, reported by the network side; when a decision would
 * refuse or drop something because of it, the state is synced first, so a
 * change the host made just before is never missed.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/ethernet.h>
#include <sys/random.h>
#include <sys/syscall.h>

#include "log.h"
#include "tapdev.h"
#include "util.h"

/**
 * tapdev_tgid() - the process a thread id belongs to
 * @tid:	thread (or process) id
 *
 * Return: its thread group id, or -1 if there is no such task
 */
static pid_t tapdev_tgid(pid_t tid)
{
	char path[32], line[128];
	pid_t tgid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	}
	fclose(f);
	return tgid;
}

/**
 * tapdev_init() - set up an empty device model
 * @c:		context to fill
 * @cfg:	configuration, copied
 * @host:	character-device side
 * @host_arg:	its argument
 * @ns:		network side
 * @ns_arg:	its argument
 *
 * Return: 0, or -EINVAL for a bad configuration
 */
int tapdev_init(struct tapdev_ctx *c, const struct tapdev_config *cfg,
		const struct tapdev_host *host, void *host_arg,
		const struct ns_ops *ns, void *ns_arg)
{
	memset(c, 0, sizeof(*c));
	if (!cfg->devname || !cfg->queue_len || cfg->queue_len > FQ_MAX_SLOTS)
		return -EINVAL;
	c->cfg = *cfg;
	c->host = host;
	c->host_arg = host_arg;
	c->ns = ns;
	c->ns_arg = ns_arg;
	c->log_base = log_threshold;
	return 0;
}

/**
 * tapdev_fini() - destroy every unit and free what the model holds
 * @c:		context
 *
 * Units are released by the network side, possibly later: the caller runs
 * the event loop until they are gone before exiting.
 */
void tapdev_fini(struct tapdev_ctx *c)
{
	struct tapdev_waiter *w;
	unsigned i;

	for (i = 0; i < c->nunits; i++) {
		if (c->units[i])
			tapdev_unit_destroy(c->units[i]);
	}
	while ((w = c->free_waiters)) {
		c->free_waiters = w->next;
		free(w);
	}
}

/**
 * tapdev_waiter_get() - a waiter from the free list, or a new one
 * @c:		context
 *
 * Return: the waiter, NULL if out of memory
 */
static struct tapdev_waiter *tapdev_waiter_get(struct tapdev_ctx *c)
{
	struct tapdev_waiter *w = c->free_waiters;

	if (!w)
		return calloc(1, sizeof(*w));
	c->free_waiters = w->next;
	return w;
}

/**
 * tapdev_waiter_put() - unlink a waiter from its file, recycle it
 * @w:		waiter, linked in w->file's queue
 */
static void tapdev_waiter_put(struct tapdev_waiter *w)
{
	struct tapdev_ctx *c = w->file->ctx;
	struct tapdev_waiter **pp;

	for (pp = &w->file->waiters; *pp != w; pp = &(*pp)->next)
		;
	*pp = w->next;
	if (w->interrupted)
		c->ninterrupted--;
	w->req = NULL;		/* a late interrupt for it finds nothing */
	w->next = c->free_waiters;
	c->free_waiters = w;
}

/**
 * tapdev_answer_waiters() - fail every read parked on a file
 * @f:		open file
 * @err:	errno for them
 */
static void tapdev_answer_waiters(struct tapdev_file *f, int err)
{
	while (f->waiters) {
		void *req = f->waiters->req;

		tapdev_waiter_put(f->waiters);
		f->ctx->host->reply_err(req, err);
	}
}

/**
 * tapdev_detach() - take the unit away from its opener
 * @u:		unit
 * @err:	error for reads parked on it
 *
 * Parked reads fail with @err, pollers wake up (and then see POLLHUP);
 * the file stays valid until its release, bound to no unit.
 */
static void tapdev_detach(struct tapdev_unit *u, int err)
{
	struct tapdev_file *f = u->opener;
	struct tapdev_ctx *c = u->ctx;

	if (!f)
		return;
	tapdev_answer_waiters(f, err);
	if (f->ph) {
		c->host->poll_wake(f->ph);
		f->ph = NULL;
	}
	f->unit = NULL;
	u->opener = NULL;
}

/**
 * tapdev_units_grow() - make room for unit number @num in the table
 * @c:		context
 * @num:	unit number
 *
 * Return: 0, -ENOMEM
 */
static int tapdev_units_grow(struct tapdev_ctx *c, unsigned num)
{
	struct tapdev_unit **units;
	unsigned n = c->nunits ? c->nunits : 16;

	if (num < c->nunits)
		return 0;
	while (n <= num)
		n *= 2;
	units = realloc(c->units, n * sizeof(*units));
	if (!units)
		return -ENOMEM;
	memset(units + c->nunits, 0, (n - c->nunits) * sizeof(*units));
	c->units = units;
	c->nunits = n;
	return 0;
}

/**
 * tapdev_initial_mac() - the hardware address a new unit gets
 * @u:		unit
 * @mac:	filled in
 *
 * NetBSD (if_tap.c) uses f2:0b:a4 and three random bytes. FreeBSD derives
 * a stable address from the host identity and the interface name
 * (ether_gen_addr); here the host identity is cfg.mac_seed and the result
 * is locally administered, so it can never collide with a vendor's.
 */
static void tapdev_initial_mac(struct tapdev_unit *u, uint8_t mac[6])
{
	uint64_t h = u->ctx->cfg.mac_seed ^ 0xcbf29ce484222325ULL;
	const char *p;

	if (u->ctx->cfg.abi == TAPDEV_ABI_NETBSD) {
		mac[0] = 0xf2;
		mac[1] = 0x0b;
		mac[2] = 0xa4;
		if (getrandom(mac + 3, 3, 0) != 3)
			memcpy(mac + 3, &h, 3);
		return;
	}
	for (p = u->ifname; *p; p++)		/* FNV-1a */
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	memcpy(mac, &h, 6);
	mac[0] = (mac[0] & 0xfc) | 0x02;	/* unicast, locally administered */
}

/**
 * tapdev_unit_new() - create unit @num: its interface, queue and node
 * @c:		context
 * @num:	unit number, not in use
 * @adopt:	take over the host's persistent interface of that name
 * @up:	set to the new unit
 *
 * Return: 0, -EEXIST if the interface or node name is taken on the host,
 *	   -ENXIO if the character-device side has no room for its node,
 *	   -ENAMETOOLONG, -ENOMEM, or the backend's or node's error
 */
static int tapdev_unit_new(struct tapdev_ctx *c, unsigned num, bool adopt,
			   struct tapdev_unit **up)
{
	struct tapdev_unit *u;
	uint8_t mac[6];
	int ret, n;

	if (c->host->node_room && !c->host->node_room(c->host_arg))
		return -ENXIO;
	ret = tapdev_units_grow(c, num);
	if (ret)
		return ret;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->ctx = c;
	u->num = num;
	n = snprintf(u->ifname, sizeof(u->ifname), "%s%u", c->cfg.devname, num);
	ret = -ENAMETOOLONG;
	if (n < 0 || (size_t)n >= sizeof(u->ifname))
		goto err_free;
	ret = fq_init(&u->rxq, c->cfg.queue_len, TAPDEV_SLOT_SIZE);
	if (ret)
		goto err_free;
	ret = c->ns->create(c->ns_arg, u->ifname, adopt, u, &u->port, &u->link);
	if (ret)
		goto err_fq;
	u->adopted = adopt;
	if (adopt)
		goto registered;	/* the administrator's MAC and owner stay */
	tapdev_initial_mac(u, mac);
	if (c->ns->set_mac(u->port, mac) == 0)
		memcpy(u->link.mac, mac, sizeof(mac));
	else
		log_warn("%s: cannot set the initial MAC address", u->ifname);
	if ((c->cfg.owner != (uid_t)-1 || c->cfg.group != (gid_t)-1) &&
	    c->ns->set_owner(u->port, c->cfg.owner, c->cfg.group))
		log_warn("%s: cannot hand the interface to its owner", u->ifname);

registered:
	/* From here on, the network side owns the unit's lifetime */
	c->units[num] = u;
	ret = c->host->node_add(c->host_arg, u);
	if (ret) {
		tapdev_unit_destroy(u);
		return ret;
	}
	log_info("%s: %s", u->ifname, adopt ? "adopted" : "created");
	*up = u;
	return 0;

err_fq:
	fq_fini(&u->rxq);
err_free:
	free(u);
	return ret;
}

/**
 * tapdev_unit_create() - create a unit
 * @c:		context
 * @num:	unit number, or -1 for the lowest one free on the host too
 * @up:	set to the new unit
 *
 * A number whose interface or node name already exists on the host (and is
 * not ours) is skipped when picking, as BSD cloning skips units in use.
 *
 * Return: 0, -EBUSY if unit @num exists, -ENXIO if @num is out of range or
 *	   no number is left, or an error of tapdev_unit_new()
 */
int tapdev_unit_create(struct tapdev_ctx *c, int num, struct tapdev_unit **up)
{
	unsigned n;
	int ret;

	if (num >= (int)tapdev_max_units(c))
		return -ENXIO;
	if (num >= 0) {
		if (tapdev_unit_get(c, num))
			return -EBUSY;
		return tapdev_unit_new(c, num, false, up);
	}
	for (n = 0; n < tapdev_max_units(c); n++) {
		if (tapdev_unit_get(c, n))
			continue;
		ret = tapdev_unit_new(c, n, false, up);
		if (ret != -EEXIST)
			return ret;
	}
	return -ENXIO;
}

/**
 * tapdev_unit_adopt() - make the host's persistent interface NAME<num> a unit
 * @c:		context
 * @num:	unit number, not in use
 *
 * Return: 0, -EBUSY if the unit exists, or an error of tapdev_unit_new()
 */
int tapdev_unit_adopt(struct tapdev_ctx *c, unsigned num)
{
	struct tapdev_unit *u;

	if (num >= tapdev_max_units(c))
		return -ENXIO;
	if (tapdev_unit_get(c, num))
		return -EBUSY;
	return tapdev_unit_new(c, num, true, &u);
}

/**
 * tapdev_max_units() - one more than the largest unit number
 * @c:		context
 *
 * FreeBSD stops at IF_MAXUNIT (0x7fff); NetBSD has units such as tap65537.
 *
 * Return: the bound
 */
unsigned tapdev_max_units(const struct tapdev_ctx *c)
{
	return c->cfg.abi == TAPDEV_ABI_NETBSD ? TAPDEV_MAX_UNITS_NETBSD
					       : TAPDEV_MAX_UNITS;
}

/**
 * tapdev_unit_get() - unit by number
 * @c:		context
 * @num:	unit number
 *
 * Return: the unit, NULL if it does not exist (or is being destroyed)
 */
struct tapdev_unit *tapdev_unit_get(struct tapdev_ctx *c, unsigned num)
{
	return num < c->nunits ? c->units[num] : NULL;
}

/**
 * tapdev_ifname() - the interface's name now
 * @u:		unit
 *
 * The host may rename the interface; FreeBSD's TAPGIFNAME reports the
 * current name (if_xname), while the unit keeps its number and its node.
 *
 * Return: the name the host last reported, else the one it was made with
 */
const char *tapdev_ifname(const struct tapdev_unit *u)
{
	return u->link.name[0] ? u->link.name : u->ifname;
}

/**
 * tapdev_unit_destroy() - remove a unit: its opener loses it, its node and
 *			   interface go away
 * @u:		unit
 *
 * The unit's memory lives on until the network side releases it
 * (tapdev_port_released), because a receive may still be in flight into it.
 */
void tapdev_unit_destroy(struct tapdev_unit *u)
{
	struct tapdev_ctx *c = u->ctx;

	if (u->dying)
		return;
	u->dying = true;
	c->units[u->num] = NULL;
	tapdev_detach(u, ENXIO);
	if (u->node)
		c->host->node_del(c->host_arg, u);
	log_info("%s: destroyed", u->ifname);
	c->ns->destroy(u->port);
}

/**
 * tapdev_port_released() - the network side let go of a destroyed unit
 * @u:		unit, dying
 */
void tapdev_port_released(struct tapdev_unit *u)
{
	fq_fini(&u->rxq);
	free(u);
}

/**
 * tapdev_unit_lost() - the interface was removed from the host side
 * @u:		unit
 */
void tapdev_unit_lost(struct tapdev_unit *u)
{
	if (u->dying)
		return;
	log_info("%s: interface removed by the host", u->ifname);
	tapdev_unit_destroy(u);
}

/**
 * tapdev_rxq_flush() - junk every queued frame, let the network side go on
 * @u:		unit
 *
 * The network side stops receiving while the queue is full; emptying a
 * full queue must restart it, or the unit would never receive again.
 */
static void tapdev_rxq_flush(struct tapdev_unit *u)
{
	bool was_full = fq_full(&u->rxq);

	fq_flush(&u->rxq);
	fq_trim(&u->rxq);
	if (was_full)
		u->ctx->ns->rx_kick(u->port);
}

/**
 * tapdev_clone_pick() - the unit an open of the cloning node gets
 * @c:		context
 * @up:	set to the unit
 *
 * FreeBSD keeps closed units around, and its cloning always makes a new
 * one, so their numbers only grow; here cloning hands out the lowest unit
 * that an earlier clone made and that is not open, before making a new
 * one. A unit made otherwise (--units, or the administrator's adopted TAP)
 * is never handed out, as on FreeBSD: it is there for whoever opens it by
 * name. NetBSD destroys clones on close, so cloning always makes a new one.
 *
 * Return: 0, or an error of tapdev_unit_create()
 */
static int tapdev_clone_pick(struct tapdev_ctx *c, struct tapdev_unit **up)
{
	unsigned n;
	int ret;

	if (c->cfg.abi == TAPDEV_ABI_FREEBSD) {
		for (n = 0; n < c->nunits; n++) {
			struct tapdev_unit *u = c->units[n];

			if (u && u->cloned && !u->opener) {
				*up = u;
				return 0;
			}
		}
	}
	ret = tapdev_unit_create(c, -1, up);
	if (ret == 0)
		(*up)->cloned = true;
	return ret;
}

/**
 * tapdev_open() - open a unit, or clone one
 * @c:		context
 * @u:		unit whose node was opened, NULL for the cloning node
 * @pid:	opening process
 * @fp:		set to the new open file
 *
 * The link (carrier) goes up on open, as on both BSDs; the peer MAC starts
 * as the interface's own (FreeBSD tunopen). Frames a vmnet unit received
 * while closed stay queued for this opener.
 *
 * Return: 0, -EBUSY if the unit is open already, -ENXIO if it is gone,
 *	   -ENOMEM, or an error of cloning
 */
int tapdev_open(struct tapdev_ctx *c, struct tapdev_unit *u, pid_t pid,
		struct tapdev_file **fp)
{
	struct tapdev_file *f;
	int ret;

	if (!u) {
		ret = tapdev_clone_pick(c, &u);
		if (ret)
			return ret;
	} else if (u->dying) {
		return -ENXIO;
	}
	if (u->opener)
		return -EBUSY;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->ctx = c;
	f->unit = u;
	f->pid = pid;
	f->tgid = tapdev_tgid(pid);
	f->pgid = pid > 0 ? getpgid(pid) : -1;
	f->owner_pidfd = -1;
	u->opener = f;
	memcpy(u->remote_mac, u->link.mac, sizeof(u->remote_mac));
	if (!c->cfg.vmnet)
		tapdev_rxq_flush(u);
	if (c->ns->rx_follow)
		c->ns->rx_follow(u->port);
	c->ns->set_carrier(u->port, true);
	if (c->cfg.up_on_open)
		c->ns->set_flags(u->port, IFF_UP, IFF_UP);
	log_debug("%s: opened by %d", u->ifname, (int)pid);
	*fp = f;
	return 0;
}

/**
 * tapdev_close() - last close of an open file
 * @f:		file, freed here
 *
 * The link goes down, the virtio-net header is switched off and pending
 * frames are junked. Then, as FreeBSD tundtor(), the interface is brought
 * down and its addresses purged, but it is kept (a transient unit is
 * destroyed); a vmnet unit's interface is left as it is. NetBSD
 * (tap_fops_close) destroys a unit that was opened through the cloner, and
 * keeps one opened by name.
 */
void tapdev_close(struct tapdev_file *f)
{
	struct tapdev_ctx *c = f->ctx;
	struct tapdev_unit *u = f->unit;
	bool cloned = f->cloned;

	if (u)
		tapdev_detach(u, EBADF);
	if (f->ph)
		c->host->poll_drop(f->ph);
	if (f->owner_pidfd >= 0)
		close(f->owner_pidfd);
	free(f);
	if (!u)
		return;

	log_debug("%s: closed", u->ifname);
	/*
	 * FreeBSD marks the link down on every close, vmnet included, and its
	 * vmnet keeps queueing output. Linux stops transmitting on a link
	 * without carrier, so a vmnet unit keeps its carrier to keep that
	 * promise.
	 */
	if (!c->cfg.vmnet)
		c->ns->set_carrier(u->port, false);
	if (u->vnet_hdr) {
		c->ns->set_vnet_hdr(u->port, 0);
		u->vnet_hdr = 0;
	}
	if (((c->cfg.abi == TAPDEV_ABI_NETBSD && cloned) || u->transient) &&
	    !u->adopted) {
		tapdev_unit_destroy(u);
		return;
	}
	tapdev_rxq_flush(u);
	if (c->cfg.abi == TAPDEV_ABI_NETBSD || c->cfg.vmnet)
		return;
	c->ns->set_flags(u->port, IFF_UP, 0);
	c->ns->purge_addrs(u->port);
}

/**
 * tapdev_is_up() - is the interface administratively up
 * @u:		unit
 *
 * Return: true if IFF_UP is set, after syncing state if it looked down
 */
static bool tapdev_is_up(struct tapdev_unit *u)
{
	if (u->link.flags & IFF_UP)
		return true;
	u->ctx->ns->sync(u->ctx->ns_arg);
	return u->link.flags & IFF_UP;
}

/**
 * tapdev_rxq_pop() - drop the frame just read, let the network side go on
 * @u:		unit
 */
static void tapdev_rxq_pop(struct tapdev_unit *u)
{
	bool was_full = fq_full(&u->rxq);

	fq_pop(&u->rxq);
	if (was_full)
		u->ctx->ns->rx_kick(u->port);
}

/**
 * tapdev_read() - one read: one frame, truncated to @size
 * @f:		open file
 * @req:	request, answered here or later through the host's replies
 * @size:	bytes the client can take
 * @nonblock:	O_NONBLOCK on the client's file
 *
 * Return: the waiter if the read was parked (the caller arranges for
 *	   tapdev_interrupt() on a signal), NULL if it was answered
 */
struct tapdev_waiter *tapdev_read(struct tapdev_file *f, void *req,
				  size_t size, bool nonblock)
{
	struct tapdev_ctx *c = f->ctx;
	struct tapdev_unit *u = f->unit;
	struct tapdev_waiter *w, **pp;
	const void *frame;
	size_t len;

	if (!u) {
		c->host->reply_err(req, ENXIO);
		return NULL;
	}
	if (c->cfg.abi == TAPDEV_ABI_NETBSD && !tapdev_is_up(u)) {
		c->host->reply_err(req, EHOSTDOWN);
		return NULL;
	}
	frame = fq_peek(&u->rxq, &len);
	if (frame) {
		c->host->reply_data(req, frame, MIN(len, size));
		tapdev_rxq_pop(u);
		return NULL;
	}
	if (nonblock || f->nbio) {
		c->host->reply_err(req, EAGAIN);
		return NULL;
	}
	w = tapdev_waiter_get(c);
	if (!w) {
		c->host->reply_err(req, ENOMEM);
		return NULL;
	}
	w->next = NULL;
	w->file = f;
	w->req = req;
	w->size = size;
	w->interrupted = false;
	for (pp = &f->waiters; *pp; pp = &(*pp)->next)
		;
	*pp = w;
	return w;
}

/**
 * tapdev_interrupt() - the client behind a parked read was signalled
 * @w:		waiter the read was parked as
 * @req:	the read's request
 *
 * The signal may cross the answer: by the time it is handled, @w may have
 * been answered, and even reused for another read (waiters are recycled,
 * never freed while the model runs). Only a waiter still parked for @req
 * is marked. Only marks it: this runs inside the character-device side's
 * dispatch, which must not see the request answered under its feet. The
 * answer (EINTR) goes out at the next tapdev_reap().
 */
void tapdev_interrupt(struct tapdev_waiter *w, const void *req)
{
	if (w->req != req || w->interrupted)
		return;
	w->interrupted = true;
	w->file->ctx->ninterrupted++;
}

/**
 * tapdev_reap() - answer EINTR to every read marked interrupted
 * @c:		context
 */
void tapdev_reap(struct tapdev_ctx *c)
{
	unsigned n;

	for (n = 0; c->ninterrupted && n < c->nunits; n++) {
		struct tapdev_unit *u = c->units[n];
		struct tapdev_waiter *w, *next;

		if (!u || !u->opener)
			continue;
		for (w = u->opener->waiters; w; w = next) {
			void *req = w->req;

			next = w->next;
			if (!w->interrupted)
				continue;
			tapdev_waiter_put(w);
			c->host->reply_err(req, EINTR);
		}
	}
}

/**
 * tapdev_frame_wanted() - FreeBSD's input filter for a written frame
 * @u:		unit
 * @frame:	Ethernet frame (after any virtio-net header), at least a
 *		header long
 *
 * FreeBSD drops unicast frames not addressed to the interface unless it is
 * promiscuous. The MAC and flags are synced before a drop is decided.
 *
 * Return: true if the frame goes to the host
 */
static bool tapdev_frame_wanted(struct tapdev_unit *u, const uint8_t *frame)
{
	int pass;

	if (frame[0] & 1)		/* multicast or broadcast */
		return true;
	pass = (u->link.flags & IFF_PROMISC) ||
	       !memcmp(frame, u->link.mac, ETH_ALEN);
	if (!pass) {
		u->ctx->ns->sync(u->ctx->ns_arg);
		pass = (u->link.flags & IFF_PROMISC) ||
		       !memcmp(frame, u->link.mac, ETH_ALEN);
	}
	return pass;
}

/**
 * tapdev_write() - one write: one frame into the host
 * @f:		open file
 * @frame:	the frame, as the client wrote it (virtio-net header first,
 *		if the client enabled one)
 * @len:	its length
 *
 * Return: bytes consumed (0 when FreeBSD ignores a write to a down
 *	   interface, @len when a frame is dropped by the rules), -ENXIO if
 *	   the unit is gone, -EIO for a frame larger than TAPMRU
 */
ssize_t tapdev_write(struct tapdev_file *f, const void *frame, size_t len)
{
	struct tapdev_unit *u = f->unit;
	size_t hdr;

	if (!u)
		return -ENXIO;
	hdr = u->vnet_hdr;
	if (f->ctx->cfg.abi == TAPDEV_ABI_FREEBSD) {
		if (!tapdev_is_up(u) || !len)
			return 0;
		if (len > TAPDEV_MRU + hdr)
			return -EIO;
		if (len < hdr + ETH_HLEN ||
		    !tapdev_frame_wanted(u, (const uint8_t *)frame + hdr)) {
			u->stats.tx_drop++;
			return len;
		}
	} else if (len > TAPDEV_MRU + hdr) {
		return -EIO;
	} else if (len < hdr) {
		u->stats.tx_drop++;
		return len;
	}
	if (f->ctx->ns->send(u->port, frame, len))
		u->stats.tx_drop++;
	else
		u->stats.tx++;
	return len;
}

/**
 * tapdev_poll() - readiness, and remember who to wake
 * @f:		open file
 * @ph:		poll handle to notify when a frame arrives, or NULL
 *
 * Return: POLLOUT always (writes never block), POLLIN with a frame queued,
 *	   POLLHUP once the unit is gone
 */
unsigned tapdev_poll(struct tapdev_file *f, void *ph)
{
	struct tapdev_ctx *c = f->ctx;
	unsigned revents = POLLOUT | POLLWRNORM;

	if (!f->unit) {
		/* Nothing will ever wake this poller: answer now, keep nothing */
		if (ph)
			c->host->poll_drop(ph);
		return revents | POLLHUP | POLLERR;
	}
	if (f->unit->rxq.count)
		revents |= POLLIN | POLLRDNORM;
	if (ph) {
		if (f->ph)
			c->host->poll_drop(f->ph);
		f->ph = ph;
	}
	return revents;
}

/**
 * tapdev_nread() - FIONREAD: length of the next frame
 * @f:		open file
 *
 * Return: bytes in the oldest queued frame, without its virtio-net
 *	   header, 0 if none
 */
size_t tapdev_nread(const struct tapdev_file *f)
{
	size_t len;

	if (!f->unit)
		return 0;
	fq_peek(&f->unit->rxq, &len);
	/* FreeBSD counts the frame, not the virtio-net header before it */
	return len > f->unit->vnet_hdr ? len - f->unit->vnet_hdr : 0;
}

/**
 * tapdev_rx_buf() - where the network side receives the unit's next frame
 * @u:		unit
 * @cap:	set to the buffer's capacity
 *
 * Return: the buffer, NULL while the queue is full (then wait for rx_kick)
 */
void *tapdev_rx_buf(struct tapdev_unit *u, size_t *cap)
{
	return fq_tail(&u->rxq, cap);
}

/**
 * tapdev_rx_done() - a frame landed in tapdev_rx_buf()
 * @u:		unit
 * @off:	where it starts in the buffer
 * @len:	its length
 *
 * A parked read gets it at once, straight from the receive buffer;
 * otherwise it is queued and pollers are woken. Either way an async opener
 * gets SIGIO, as FreeBSD tunstart() sends it. Without an opener the frame
 * is dropped, as BSD never queues output for a closed device, except on a
 * vmnet unit, which keeps it for the next opener.
 */
void tapdev_rx_done(struct tapdev_unit *u, size_t off, size_t len)
{
	struct tapdev_ctx *c = u->ctx;
	struct tapdev_file *f = u->opener;
	struct tapdev_waiter *w;
	size_t cap;

	if (u->dying || (!f && !c->cfg.vmnet)) {
		u->stats.rx_drop++;
		return;
	}
	u->stats.rx++;
	if (f && f->async && f->owner)
		c->host->sigio(c->host_arg, f->owner, f->owner_pidfd);
	for (w = f ? f->waiters : NULL; w && w->interrupted; w = w->next)
		;
	if (w) {
		const uint8_t *frame = fq_tail(&u->rxq, &cap);
		void *req = w->req;
		size_t size = w->size;

		tapdev_waiter_put(w);
		c->host->reply_data(req, frame + off, MIN(len, size));
		return;
	}
	fq_push(&u->rxq, off, len);
	if (f && f->ph) {
		c->host->poll_wake(f->ph);
		f->ph = NULL;
	}
}

/**
 * tapdev_link_update() - the interface's state changed on the host
 * @u:		unit
 * @link:	new state
 *
 * Taking the interface down junks the frames queued for the client, as
 * both BSDs flush the send queue in if_down(). NetBSD's tap_stop() also
 * wakes its readers, which then fail with EHOSTDOWN, and its pollers;
 * FreeBSD's readers sleep on until a frame comes.
 */
void tapdev_link_update(struct tapdev_unit *u, const struct ns_link *link)
{
	bool went_down = (u->link.flags & IFF_UP) && !(link->flags & IFF_UP);
	struct tapdev_file *f = u->opener;

	u->link = *link;
	if (!went_down || u->dying)
		return;
	tapdev_rxq_flush(u);
	if (!f || u->ctx->cfg.abi != TAPDEV_ABI_NETBSD)
		return;
	tapdev_answer_waiters(f, EHOSTDOWN);
	if (f->ph) {
		u->ctx->host->poll_wake(f->ph);
		f->ph = NULL;
	}
}

/**
 * tapdev_set_vnet_hdr() - TAPSVNETHDR: frames carry a virtio-net header
 * @f:		open file
 * @len:	0 (none), 10 (struct virtio_net_hdr) or 12 (with num_buffers)
 *
 * Return: 0, -EINVAL for another length, -ENXIO, or the network side's
 *	   error
 */
int tapdev_set_vnet_hdr(struct tapdev_file *f, int len)
{
	struct tapdev_unit *u = f->unit;
	int ret;

	if (!u)
		return -ENXIO;
	if (len != 0 && len != 10 && len != 12)
		return -EINVAL;
	if ((unsigned)len == u->vnet_hdr)
		return 0;
	ret = f->ctx->ns->set_vnet_hdr(u->port, len);
	if (ret)
		return ret;
	u->vnet_hdr = len;
	/* Frames queued so far carry the old header: junk them */
	tapdev_rxq_flush(u);
	return 0;
}

/**
 * tapdev_set_mtu() - TAPSIFINFO: the interface's MTU
 * @f:		open file
 * @mtu:	new MTU
 *
 * Return: 0, -ENXIO, or the kernel's error for a value it refuses
 */
int tapdev_set_mtu(struct tapdev_file *f, unsigned mtu)
{
	struct tapdev_unit *u = f->unit;
	int ret;

	if (!u)
		return -ENXIO;
	if (mtu == u->link.mtu)
		return 0;
	ret = f->ctx->ns->set_mtu(u->port, mtu);
	if (ret == 0)
		u->link.mtu = mtu;
	return ret;
}

/**
 * tapdev_set_flags() - change interface flags (Linux IFF_* values)
 * @f:		open file
 * @change:	flags to change
 * @flags:	their new values
 *
 * Return: 0, -ENXIO, or the kernel's error
 */
int tapdev_set_flags(struct tapdev_file *f, unsigned change, unsigned flags)
{
	struct tapdev_unit *u = f->unit;
	int ret;

	if (!u)
		return -ENXIO;
	ret = f->ctx->ns->set_flags(u->port, change, flags);
	if (ret == 0)
		u->link.flags = (u->link.flags & ~change) | (flags & change);
	return ret;
}

/**
 * tapdev_set_owner() - FIOSETOWN / TIOCSPGRP: who gets SIGIO
 * @f:		open file
 * @owner:	a pid, a negated process group id, or 0 for nobody
 *
 * The daemon sends the signal itself, with its own privileges, so it only
 * ever signals the process that opened the device (through a pidfd, so a
 * reused pid is never hit) or that process's own group.
 *
 * Return: 0, -ESRCH if there is no such process or group (as fsetown()),
 *	   -EPERM for anyone else
 */
int tapdev_set_owner(struct tapdev_file *f, pid_t owner)
{
	int pidfd = -1;

	if (owner > 0) {
		pid_t tgid = tapdev_tgid(owner);

		/* The opener's own process, still alive: never pid 1, never a
		 * pid the opener's death freed for reuse */
		if (tgid < 0)
			return -ESRCH;
		if (f->tgid <= 1 || tgid != f->tgid)
			return -EPERM;
		pidfd = syscall(SYS_pidfd_open, owner, 0);
	} else if (owner < 0) {
		/* Its process group; -1 would mean every process, and INT_MIN
		 * has no positive counterpart */
		if (owner == INT_MIN || -owner <= 1)
			return -EPERM;
		if (kill(owner, 0) < 0 && errno == ESRCH)
			return -ESRCH;
		if (-owner != f->pgid)
			return -EPERM;
	}
	if (f->owner_pidfd >= 0)
		close(f->owner_pidfd);
	f->owner_pidfd = pidfd;
	f->owner = owner;
	return 0;
}

/**
 * tapdev_set_debug() - TAPSDEBUG: the daemon's debug level
 * @c:		context
 * @level:	0 for normal logging, more for debug logging
 */
void tapdev_set_debug(struct tapdev_ctx *c, int level)
{
	c->debug = level;
	log_threshold = level > 0 ? LOG_LVL_DEBUG : c->log_base;
}
