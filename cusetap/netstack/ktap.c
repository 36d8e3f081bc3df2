// SPDX-License-Identifier: BSD-2-Clause
/*
 * ktap.c - the kernel TAP backend
 *
 * Each unit is a Linux TAP (IFF_TAP | IFF_NO_PI) created on /dev/net/tun
 * with IFF_TUN_EXCL, so an interface of the same name that is not ours is
 * never attached to. The daemon keeps the TAP fd open for the unit's whole
 * life, which is what keeps the interface alive: there is no persistence
 * flag to forget, and if the daemon dies the interfaces go with it.
 *
 * The exception is adoption: a persistent TAP the administrator made
 * ("ip tuntap add dev tapN mode tap") is attached to as it is, and being
 * persistent it outlives our fd: the daemon never removes it.
 *
 * Receive: one read per TAP is kept posted on the event loop, straight into
 * the unit's queue slot (tapdev_rx_buf); when the queue is full, reading
 * stops and the kernel's own TAP queue holds (and eventually drops) frames
 * until the device model kicks us.
 *
 * Send: the client's write is answered first (BSD tap writes are
 * asynchronous enqueues too), then the frame goes to the TAP on the event
 * loop. Frames up to a slot's size are copied into a slot and held, so
 * that a client streaming writes gets them into the kernel in batches:
 * they are issued together when KTAP_TX_BATCH are held or when the loop
 * has nothing else to do (ktap_tx_issue(), the loop's idle hook). Measured
 * with scripts/bench, a TAP write per request cost more than the rest of
 * the daemon's work on it, because it runs cold, after the switch back
 * from the client; in a batch it runs warm. A client that is not
 * streaming gains nothing from a batch, and its frame would wait: a lone
 * frame is written at once (ktap_tx_lone()). Larger frames (GSO
 * super-frames) are not copied: they are written at once, straight from
 * the request buffer, after the held frames; at 64 KiB a frame, the
 * system call is a small part of their cost. Either way the request
 * buffer is free again when ns_ops.send returns.
 *
 * Virtio-net header: Linux fixes IFF_VNET_HDR when the TAP is attached, but
 * a BSD client may switch its header on and off at any time (TAPSVNETHDR).
 * So every TAP is created with IFF_VNET_HDR, and its header size is set
 * once, to the largest (12 bytes, struct virtio_net_hdr_mrg_rxbuf), and
 * never changed: a read completed but not yet handled when the client
 * switches would otherwise be taken with the wrong size, and one frame's
 * bytes would be cut or taken as a header. Each frame is made to fit the
 * client's header as it is handled: a 12-byte client's pass through, a
 * 10-byte client's header moves by two bytes, and for a client with none
 * the header is skipped on receive and a zero one put in front on send.
 * While the client wants no header, offloads are off (the kernel's header
 * is then all zeroes, no GSO, checksums complete).
 *
 * Link state comes from rtnetlink notifications, polled by the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <net/if_arp.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <poll.h>

#include "config.h"
#include "../log.h"
#include "../loop.h"
#include "../tapdev.h"
#include "ktap.h"

/* Looks for a TAP being set up: every 100 ms, for two seconds */
#define KTAP_RESCANS		20
#define KTAP_RESCAN_NS		(100 * 1000 * 1000)
/* Frames taken with plain reads after a posted read completed */
#define KTAP_READ_BUDGET	16
/* Copy slots for small frames, shared by all ports: a batch is held per loop,
 * and each loop has room for two, so that the next batch fills while the
 * last one completes (slots never touched cost no memory) */
#define KTAP_TX_BATCH		32
#define KTAP_TX_SLOTS		(2 * KTAP_TX_BATCH * LOOP_MAX)
/* A slot holds a virtio-net header and a frame of up to 2036 bytes */
#define KTAP_TX_SLOT_SIZE	2048
/* The kernel's header, whatever the client's: virtio_net_hdr_mrg_rxbuf */
#define KTAP_KHDR		12
/* Where the 10-byte struct virtio_net_hdr ends in it: num_buffers follows */
#define KTAP_HDR_SHORT		10
/* Offloads a client with a header can take: checksums and TCP segmentation */
#define KTAP_OFFLOADS	(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)

/**
 * struct ktap_port - one kernel TAP
 * @next:	next live port
 * @kt:		backend
 * @unit:	unit it backs
 * @fd:		TAP file descriptor, -1 once closed
 * @ifindex:	interface index
 * @vnet_hdr:	virtio-net header length the client wants (0, 10, 12)
 * @reading:	a read is in flight into the unit's queue
 * @home:	the loop that should read it: the one serving the unit's
 *		client (ktap_rx_follow())
 * @ring:	the loop the read in flight was posted on
 * @draining:	a plain read of the next frame runs without the model lock
 *		(ktap_drain_one()): no other read, and the fd stays open
 * @writing:	frames held or in flight (struct ktap_tx)
 * @tx:		while @writing: the loop whose batch holds them and whose
 *		ring carries them, the same for all, so that they reach the
 *		kernel in the order they were written (a clone's writes may
 *		come through any thread: the cloner's session is shared)
 * @gone:	the host deleted the interface; ktap_reap() tells the model
 * @dying:	destroyed, waiting for the read to be cancelled
 */
struct ktap_port {
	struct ktap_port *next;
	struct ktap *kt;
	struct tapdev_unit *unit;
	int fd;
	int ifindex;
	unsigned vnet_hdr;
	bool reading;
	struct loop *home;
	struct loop *ring;
	bool draining;
	unsigned writing;
	struct loop *tx;
	bool gone;
	bool dying;
};

/**
 * struct ktap_tx - a copy of a small frame on its way to a TAP
 * @next:	next free slot, or next held frame
 * @port:	port it goes to, NULL while the slot is free
 * @len:	bytes in @buf
 * @buf:	the header the TAP expects, then the frame
 */
struct ktap_tx {
	struct ktap_tx *next;
	struct ktap_port *port;
	unsigned len;
	uint8_t buf[KTAP_TX_SLOT_SIZE];
};

static int ktap_set_vnet_hdr(struct ns_port *np, unsigned len);
static void ktap_scan_links(struct ktap *kt, bool retry);

/**
 * ktap_post_read() - keep a read posted, if the queue has room
 * @p:		port
 */
static void ktap_post_read(struct ktap_port *p)
{
	struct io_uring_sqe *sqe;
	size_t cap;
	void *buf;

	if (p->reading || p->draining || p->dying)
		return;
	buf = tapdev_rx_buf(p->unit, &cap);
	if (!buf)
		return;
	p->ring = loop_serving(p->home);
	sqe = loop_sqe(p->ring, LOOP_TAP_READ, p);
	io_uring_prep_read(sqe, p->fd, buf, cap, 0);
	p->reading = true;
}

/*
 * Batches of other loops the calling thread added frames to (by loop id):
 * it issues them itself, before it sleeps, since their own thread may be
 * asleep already
 */
static __thread uint32_t ktap_tx_foreign;

/**
 * ktap_tx_queue() - queue the writes of one loop's batch, oldest first
 * @kt:		backend
 * @id:		the loop's id
 *
 * They go out with the next submission of that loop's ring.
 */
static void ktap_tx_queue(struct ktap *kt, unsigned id)
{
	struct ktap_held *h = &kt->held[id];
	struct loop *l = loop_for(id);
	struct ktap_tx *t;

	for (t = h->head; t; t = t->next) {
		struct io_uring_sqe *sqe = loop_sqe(l, LOOP_TAP_WRITE, t);

		io_uring_prep_write(sqe, t->port->fd, t->buf, t->len, 0);
	}
	h->head = NULL;
	h->tail = &h->head;
	h->n = 0;
}

/**
 * ktap_flush_tx() - put the frames written so far into the kernel before
 *		     changing state
 * @p:		port
 *
 * A write is answered before its frame is issued; a close or a link
 * change that follows it must not overtake it (the frame would meet a
 * down interface). Its frames are all in one loop's batch or queued on
 * that loop's ring, the queued ones older: submitting the ring once the
 * batch is queued behind them issues them all, in order, and they are in
 * the kernel when it returns (a TAP write does not wait).
 */
static void ktap_flush_tx(struct ktap_port *p)
{
	if (!p->writing)
		return;
	ktap_tx_queue(p->kt, p->tx->id);
	loop_submit(p->tx);
}

/**
 * ktap_tx_issue() - queue the writes of the calling loop's batch, and of
 *		     the batches of other loops it added frames to
 * @kt:		backend
 *
 * The loop's idle hook: they go out with the next submissions.
 */
void ktap_tx_issue(struct ktap *kt)
{
	ktap_tx_queue(kt, loop_self()->id);
	while (ktap_tx_foreign) {
		unsigned id = (unsigned)__builtin_ctz(ktap_tx_foreign);

		ktap_tx_foreign &= ktap_tx_foreign - 1;
		ktap_tx_queue(kt, id);
	}
}

/**
 * ktap_tx_lone() - count a frame the calling loop writes; is it a lone one?
 * @h:		the loop's held frames
 *
 * A lone frame is written at once rather than held: the first of a batch
 * of completions when the last batch that wrote any wrote only one. Its
 * client is not streaming but taking turns (a request and its answer, an
 * echo), and a held frame would reach the host only once the loop is
 * idle, after the client's next request has been read and answered:
 * scripts/bench's echo round trip was 1.5-20 % shorter written at once, in
 * five rounds of five. A streaming client's frames come many per batch,
 * and stay held.
 *
 * Return: true if it is lone
 */
static bool ktap_tx_lone(struct ktap_held *h)
{
	unsigned long batch = loop_self()->batches;

	if (h->batch != batch) {
		h->batch = batch;
		h->sent_before = h->sent;
		h->sent = 0;
	}
	return !h->sent++ && h->sent_before <= 1;
}

/**
 * ktap_tx_fit() - put a client's frame in the shape the TAP takes
 * @p:		port
 * @dst:	KTAP_KHDR bytes more than @len
 * @frame:	frame, after the client's header if it has one
 * @len:	its length, at least the header's
 *
 * A missing header is all zeroes (no offloads, checksums complete); a
 * 10-byte one gets num_buffers, which the kernel ignores on send.
 *
 * Return: bytes in @dst
 */
static size_t ktap_tx_fit(const struct ktap_port *p, uint8_t *dst,
			  const void *frame, size_t len)
{
	unsigned hdr = p->vnet_hdr;

	memcpy(dst, frame, hdr);
	memset(dst + hdr, 0, KTAP_KHDR - hdr);
	memcpy(dst + KTAP_KHDR, (const uint8_t *)frame + hdr, len - hdr);
	return KTAP_KHDR + len - hdr;
}

/**
 * ktap_tx_hold() - copy a small frame into a slot for the next batch
 * @p:		port
 * @frame:	frame, with the client's virtio-net header if it has one
 * @len:	its length
 *
 * Return: true if held, false if it is lone, does not fit, or no slot is
 *	   free
 */
static bool ktap_tx_hold(struct ktap_port *p, const void *frame, size_t len)
{
	struct ktap *kt = p->kt;
	unsigned pad = KTAP_KHDR - p->vnet_hdr;
	struct ktap_tx *t = kt->tx_free;
	struct loop *self = loop_self();
	struct ktap_held *h;

	if (ktap_tx_lone(&kt->held[self->id]) || !t ||
	    len + pad > KTAP_TX_SLOT_SIZE)
		return false;
	if (!p->writing)
		p->tx = self;
	h = &kt->held[p->tx->id];
	kt->tx_free = t->next;
	t->len = ktap_tx_fit(p, t->buf, frame, len);
	t->port = p;
	t->next = NULL;
	*h->tail = t;
	h->tail = &t->next;
	p->writing++;
	if (++h->n == KTAP_TX_BATCH) {
		ktap_tx_queue(kt, p->tx->id);
		return true;
	}
	if (p->tx != self)
		ktap_tx_foreign |= 1u << p->tx->id;
	loop_hold(self);
	return true;
}

/**
 * ktap_port_free() - free a destroyed port, release its unit
 * @p:		port, nothing in flight
 */
static void ktap_port_free(struct ktap_port *p)
{
	tapdev_port_released(p->unit);
	free(p);
}

/**
 * ktap_port_end() - close a destroyed port's TAP, free it once idle
 * @p:		port, dying, not draining
 *
 * Closing the fd removes the interface once the ring drops the reference
 * a posted read holds, which the cancellation does.
 */
static void ktap_port_end(struct ktap_port *p)
{
	/*
	 * A read posted on a ring whose thread has not submitted it yet
	 * would be issued on a closed fd, or on one that took its number
	 */
	if (p->reading)
		loop_submit(p->ring);
	close(p->fd);
	p->fd = -1;
	if (p->reading)
		loop_cancel(p->ring, LOOP_TAP_READ, p);
	else if (!p->writing)
		ktap_port_free(p);
}

/**
 * ktap_rx() - hand a frame read from the TAP to the unit
 * @p:		port
 * @len:	bytes read, the kernel's header included
 */
static void ktap_rx(struct ktap_port *p, unsigned len)
{
	unsigned skip = KTAP_KHDR - p->vnet_hdr;
	size_t cap;
	uint8_t *buf = tapdev_rx_buf(p->unit, &cap);
	const struct virtio_net_hdr *vh = (const void *)buf;

	if (len <= KTAP_KHDR)
		return;
	switch (p->vnet_hdr) {
	case 0:
		/* Offloads were on until just now: a client without a header
		 * cannot take a super-frame or a checksum left to do */
		if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE ||
		    (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
			p->unit->stats.rx_drop++;
			return;
		}
		break;
	case KTAP_HDR_SHORT:
		memmove(buf + skip, buf, KTAP_HDR_SHORT);
		break;
	default:
		/* the kernel leaves num_buffers to us: one buffer */
		buf[10] = 1;
		buf[11] = 0;
	}
	tapdev_rx_done(p->unit, skip, len - skip);
}

/**
 * ktap_drain_one() - read the TAP's next queued frame, without the lock
 * @p:		port
 * @buf:	the unit's receive buffer
 * @cap:	its size
 *
 * The model lock is let go of for the system call, so that the other
 * loops' threads go on meanwhile. What may change under our feet: the
 * port is destroyed (its fd is closed only once we are done), or the
 * queue is junked by an open or a close (the tail slot stays, and the
 * frame is handed on as one that arrived just after), or the client
 * changes its header length (the kernel's stays: ktap_rx() fits the frame
 * to the new one).
 *
 * Return: frame length, 0 if it was dropped, -errno (-EAGAIN: none queued)
 */
static int ktap_drain_one(struct ktap_port *p, void *buf, size_t cap)
{
	int res;

	p->draining = true;
	loop_unlock();
	res = (int)read(p->fd, buf, cap);
	if (res < 0)
		res = -errno;
	loop_lock();
	p->draining = false;
	if (p->dying)
		return -ECANCELED;
	if (res > 0 && tapdev_rx_buf(p->unit, &cap) != buf) {
		p->unit->stats.rx_drop++;
		return 0;
	}
	return res;
}

/**
 * ktap_on_read() - a TAP read completed
 * @obj:	port
 * @res:	frame length, or -errno
 *
 * Frames come in bursts (a host sending to the TAP queues several at a
 * time): after one, the ones already queued behind it are taken with plain
 * non-blocking reads, up to KTAP_READ_BUDGET, into the unit's queue. A
 * client reading then finds its next frame waiting instead of parking its
 * read: scripts/bench measured read throughput at 0.65 of the null CUSE
 * device with one frame per posted read, 0.83 with the budget.
 */
void ktap_on_read(void *obj, int res)
{
	struct ktap_port *p = obj;
	unsigned budget = KTAP_READ_BUDGET;

	p->reading = false;
	if (p->dying) {
		if (!p->writing)
			ktap_port_free(p);
		return;
	}
	while (res >= 0) {
		size_t cap;
		void *buf;

		if (res > 0)
			ktap_rx(p, (unsigned)res);
		buf = tapdev_rx_buf(p->unit, &cap);
		if (!--budget || !buf)
			break;
		res = ktap_drain_one(p, buf, cap);
	}
	if (res == -ECANCELED) {
		/* Destroyed meanwhile: what ktap_destroy() left to us */
		ktap_port_end(p);
		return;
	}
	if (res < 0 && res != -EAGAIN && res != -EINTR) {
		/* EBADFD: the interface was deleted under our fd */
		log_debug("%s: TAP read: %s", p->unit->ifname, strerror(-res));
		tapdev_unit_lost(p->unit);
		return;
	}
	ktap_post_read(p);
}

/**
 * ktap_on_write() - a held frame went into the host, or was refused
 * @obj:	its slot
 * @res:	bytes written, or -errno
 */
void ktap_on_write(void *obj, int res)
{
	struct ktap_tx *t = obj;
	struct ktap_port *p = t->port;

	t->port = NULL;
	t->next = p->kt->tx_free;
	p->kt->tx_free = t;
	p->writing--;
	if (res < 0) {
		p->unit->stats.tx_drop++;
		log_debug("%s: TAP write: %s", p->unit->ifname, strerror(-res));
	}
	if (p->dying && !p->reading && !p->draining && !p->writing)
		ktap_port_free(p);
}

/**
 * ktap_find() - live port by interface index
 * @kt:		backend
 * @ifindex:	interface index
 *
 * Return: the port, NULL if the interface is not ours
 */
static struct ktap_port *ktap_find(struct ktap *kt, int ifindex)
{
	struct ktap_port *p;

	for (p = kt->ports; p; p = p->next) {
		if (p->ifindex == ifindex)
			return p;
	}
	return NULL;
}

/**
 * ktap_link_event() - a link notification from rtnetlink
 * @arg:	backend
 * @ifindex:	interface
 * @gone:	deleted
 * @link:	new state
 */
static void ktap_link_event(void *arg, int ifindex, bool gone,
			    const struct ns_link *link)
{
	struct ktap *kt = arg;
	struct ktap_port *p = ktap_find(kt, ifindex);

	if (!p) {
		/* Perhaps the administrator's "ip tuntap add": look at it */
		if (!gone) {
			kt->scan_pending = true;
			kt->reap_pending = true;
		}
		return;
	}
	if (gone) {
		/* Not destroyed here: sync may run in the middle of a write */
		p->gone = true;
		kt->reap_pending = true;
	} else {
		tapdev_link_update(p->unit, link);
	}
}

/**
 * ktap_resync() - re-read the state of every port after lost notifications
 * @kt:		backend
 */
static void ktap_resync(struct ktap *kt)
{
	struct ktap_port *p, *next;
	struct ns_link link;

	/* A TAP the administrator made meanwhile was announced, too */
	kt->scan_pending = true;
	kt->reap_pending = true;
	for (p = kt->ports; p; p = next) {
		int ret = rtnl_link_get(&kt->rtnl, p->ifindex, &link);

		next = p->next;
		if (ret == -ENODEV)
			ktap_link_event(kt, p->ifindex, true, NULL);
		else if (ret == 0)
			tapdev_link_update(p->unit, &link);
	}
}

/**
 * ktap_reap() - tell the device model about interfaces the host deleted
 * @kt:		backend
 *
 * Called from the event loop between batches, never from inside the model.
 */
void ktap_reap(struct ktap *kt)
{
	struct ktap_port *p, *next;

	if (!kt->reap_pending)
		return;
	kt->reap_pending = false;
	for (p = kt->ports; p; p = next) {
		next = p->next;
		if (p->gone)
			tapdev_unit_lost(p->unit);
	}
	if (kt->scan_pending) {
		kt->scan_pending = false;
		ktap_scan_links(kt, false);
	}
}

/**
 * ktap_sysfs_num() - a number an interface shows in sysfs
 * @ifname:	interface name
 * @attr:	file under /sys/class/net/@ifname: "tun_flags" (hex, 0x...),
 *		"owner" or "group" (decimal, -1 for none)
 * @none:	what to return if there is no such file or number
 *
 * Return: the number, @none if it cannot be read (the interface is gone,
 *	   or is no tun/tap interface)
 */
static long ktap_sysfs_num(const char *ifname, const char *attr, long none)
{
	char path[64], buf[32], *end;
	long val = none;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", ifname, attr);
	f = fopen(path, "re");
	if (!f)
		return none;
	if (fgets(buf, sizeof(buf), f)) {
		val = strtol(buf, &end, 0);
		if (end == buf)
			val = none;
	}
	fclose(f);
	return val;
}

/**
 * ktap_tun_flags() - the tun/tap flags of an interface, from sysfs
 * @ifname:	interface name
 *
 * Return: IFF_* flags of /dev/net/tun, 0 if it is no tun/tap interface
 */
static unsigned long ktap_tun_flags(const char *ifname)
{
	return (unsigned long)ktap_sysfs_num(ifname, "tun_flags", 0);
}

/**
 * ktap_free_tap() - is @ifname a persistent TAP nobody created through us
 * @ifname:	interface name
 *
 * @u:		the unit it would back
 *
 * "ip tuntap add dev NAME mode tap" makes one: tun_flags in sysfs then has
 * IFF_TAP and IFF_PERSIST. Whether someone else is attached shows only when
 * attaching (EBUSY). One made for a user or group ("... user bob") is
 * theirs: adopting it would hand its traffic to whoever may open the
 * device's nodes, and lock bob out of it. It is adopted only if the nodes
 * belong to that user and group too (root's by default).
 *
 * Return: true if it is one, free to adopt
 */
static bool ktap_free_tap(const char *ifname, const struct tapdev_unit *u)
{
	const struct tapdev_config *cfg = &u->ctx->cfg;
	long node_uid = cfg->owner == (uid_t)-1 ? 0 : (long)cfg->owner;
	long node_gid = cfg->group == (gid_t)-1 ? 0 : (long)cfg->group;
	long owner, group;

	if ((ktap_tun_flags(ifname) & (IFF_TAP | IFF_PERSIST)) !=
	    (IFF_TAP | IFF_PERSIST))
		return false;
	owner = ktap_sysfs_num(ifname, "owner", -1);
	group = ktap_sysfs_num(ifname, "group", -1);
	if ((owner != -1 && owner != node_uid) ||
	    (group != -1 && group != node_gid)) {
		log_debug("%s: not adopted: it belongs to uid %ld gid %ld",
			  ifname, owner, group);
		return false;
	}
	return true;
}

/* Tries of a link dump that a change on the host interrupted */
#define KTAP_SCAN_TRIES	3

/**
 * struct ktap_scan - TAPs of the host that are not ours, from a link dump
 * @kt:		backend
 * @n:		names collected
 * @cap:	room in @names
 * @names:	their names, grown as needed (a host may have thousands of
 *		links, of which a few are TAPs)
 */
struct ktap_scan {
	struct ktap *kt;
	unsigned n;
	unsigned cap;
	char (*names)[IFNAMSIZ];
};

/**
 * ktap_scan_link() - collect a link of the dump: a TAP that is not ours
 * @arg:	struct ktap_scan
 * @ifindex:	interface index
 * @gone:	unused (dumps list live links)
 * @link:	its state and name
 */
static void ktap_scan_link(void *arg, int ifindex, bool gone,
			   const struct ns_link *link)
{
	struct ktap_scan *sc = arg;

	(void)gone;
	/* The dump says which links are tun/tap: sysfs only for those */
	if (!link->tun || ktap_find(sc->kt, ifindex) || !link->name[0] ||
	    !(ktap_tun_flags(link->name) & IFF_TAP))
		return;
	if (sc->n == sc->cap) {
		unsigned cap = sc->cap ? 2 * sc->cap : 8;
		char (*names)[IFNAMSIZ] = realloc(sc->names,
						  cap * sizeof(*names));

		if (!names)
			return;		/* the next scan will see it */
		sc->names = names;
		sc->cap = cap;
	}
	memcpy(sc->names[sc->n++], link->name, IFNAMSIZ);
}

/**
 * ktap_scan_links() - offer every unattached persistent TAP of the host for
 *		       adoption
 * @kt:		backend
 * @retry:	a scheduled look again, which does not schedule more than
 *		the event that started it allowed
 */
static void ktap_scan_links(struct ktap *kt, bool retry)
{
	bool setting_up = false;
	struct ktap_scan sc;
	unsigned i;
	int ret = 0;

	if (!kt->adopt)
		return;
	memset(&sc, 0, sizeof(sc));
	sc.kt = kt;
	for (i = 0; i < KTAP_SCAN_TRIES; i++) {
		sc.n = 0;
		ret = rtnl_link_dump(&kt->rtnl, ktap_scan_link, &sc);
		if (ret != -EINTR)
			break;
	}
	if (ret) {
		log_debug("looking for TAPs to adopt: %s", strerror(-ret));
		free(sc.names);
		return;
	}
	for (i = 0; i < sc.n; i++) {
		unsigned long flags = ktap_tun_flags(sc.names[i]);

		if ((flags & (IFF_TAP | IFF_PERSIST)) == (IFF_TAP | IFF_PERSIST))
			kt->adopt(kt->adopt_arg, sc.names[i]);
		else if (flags & IFF_TAP)
			setting_up = true;
	}
	free(sc.names);
	/*
	 * "ip tuntap add" makes the TAP (which announces it) and only then
	 * makes it persistent (which announces nothing): look again a few
	 * times while a TAP that is not ours is not persistent yet.
	 */
	if (!setting_up)
		kt->rescans = 0;
	else if (!retry)
		kt->rescans = KTAP_RESCANS;
	if (kt->rescans && !kt->timer && !kt->stopping) {
		struct io_uring_sqe *sqe;

		kt->rescans--;
		kt->timeout.tv_sec = 0;
		kt->timeout.tv_nsec = KTAP_RESCAN_NS;
		sqe = loop_sqe(kt->loop, LOOP_SCAN_TIMER, kt);
		io_uring_prep_timeout(sqe, &kt->timeout, 0, 0);
		kt->timer = true;
	}
}

/**
 * ktap_on_scan_timer() - look for TAPs to adopt again
 * @obj:	backend
 * @res:	-ETIME when the time is up
 */
void ktap_on_scan_timer(void *obj, int res)
{
	struct ktap *kt = obj;

	kt->timer = false;
	if (!kt->stopping && kt->rescans)
		ktap_scan_links(kt, true);
}

/**
 * ktap_scan() - look for TAPs to adopt, now and, while one is being set
 *		 up, again a few times
 * @kt:		backend
 */
void ktap_scan(struct ktap *kt)
{
	ktap_scan_links(kt, false);
}

/**
 * ktap_sync() - apply every pending link notification now
 * @be:		backend
 */
static void ktap_sync(void *be)
{
	struct ktap *kt = be;
	int ret = rtnl_events(&kt->rtnl, ktap_link_event, kt);

	if (ret == -ENOBUFS) {
		log_debug("rtnetlink: notifications lost, re-reading links");
		ktap_resync(kt);
	} else if (ret) {
		log_warn("rtnetlink: %s", strerror(-ret));
	}
}

/**
 * ktap_poll_rtnl() - arm a poll of the rtnetlink notification socket
 * @kt:		backend
 */
static void ktap_poll_rtnl(struct ktap *kt)
{
	struct io_uring_sqe *sqe;

	if (kt->polling || kt->stopping)
		return;
	sqe = loop_sqe(kt->loop, LOOP_RTNL_POLL, kt);
	io_uring_prep_poll_add(sqe, rtnl_ev_fd(&kt->rtnl), POLLIN);
	kt->polling = true;
}

/**
 * ktap_on_rtnl() - the rtnetlink socket became readable
 * @obj:	backend
 * @res:	poll result
 */
void ktap_on_rtnl(void *obj, int res)
{
	struct ktap *kt = obj;

	kt->polling = false;
	if (kt->stopping)
		return;
	ktap_sync(kt);
	ktap_reap(kt);
	ktap_poll_rtnl(kt);
}

/**
 * ktap_create() - create the kernel TAP of a unit
 * @be:		backend
 * @ifname:	interface name
 * @u:		unit
 * @pp:		set to the new port
 * @link:	set to the interface's initial state
 *
 * The carrier starts down: on BSD the link comes up when the device is
 * opened, not when the interface exists.
 *
 * Return: 0, -EEXIST if an interface of that name exists, -errno
 */
static int ktap_create(void *be, const char *ifname, bool adopt,
		       struct tapdev_unit *u, struct ns_port **pp,
		       struct ns_link *link)
{
	struct ktap *kt = be;
	struct ktap_port *p;
	struct ifreq ifr;
	int off = 0, khdr = KTAP_KHDR, ret;

	if (adopt && !ktap_free_tap(ifname, u))
		return -EEXIST;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->kt = kt;
	p->unit = u;
	p->home = loop_self();
	p->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (p->fd < 0) {
		ret = -errno;
		goto err_free;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
			(adopt ? 0 : IFF_TUN_EXCL);
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	if (ioctl(p->fd, TUNSETIFF, &ifr) < 0) {
		ret = errno == EBUSY ? -EEXIST : -errno;
		goto err_close;
	}
	/* Deleted between the look and the attach: we made a new one */
	ret = -ENODEV;
	if (adopt && (ioctl(p->fd, TUNGETIFF, &ifr) < 0 ||
		      !(ifr.ifr_flags & IFF_PERSIST)))
		goto err_close;
	ret = -ENODEV;
	p->ifindex = if_nametoindex(ifname);
	if (!p->ifindex)
		goto err_close;
	if (ioctl(p->fd, TUNSETCARRIER, &off) < 0)
		log_warn("%s: TUNSETCARRIER: %s", ifname, strerror(errno));
	/* The kernel's header size, for good (see the top of the file) */
	if (ioctl(p->fd, TUNSETVNETHDRSZ, &khdr) < 0) {
		ret = -errno;
		goto err_close;
	}
	ret = ktap_set_vnet_hdr((struct ns_port *)p, 0);
	if (ret)
		goto err_close;
	ret = rtnl_link_get(&kt->rtnl, p->ifindex, link);
	if (ret)
		goto err_close;

	p->next = kt->ports;
	kt->ports = p;
	*pp = (struct ns_port *)p;
	ktap_post_read(p);
	return 0;

err_close:
	close(p->fd);
err_free:
	free(p);
	return ret;
}

/**
 * ktap_destroy() - remove the interface, stop reading
 * @np:		port
 *
 * Closing the fd removes the interface once the ring drops the reference
 * its posted read holds, which the cancellation does.
 */
static void ktap_destroy(struct ns_port *np)
{
	struct ktap_port *p = (struct ktap_port *)np, **pp;

	for (pp = &p->kt->ports; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	p->dying = true;
	ktap_flush_tx(p);
	if (!p->draining)
		ktap_port_end(p);
}

/**
 * ktap_rx_kick() - the unit's queue has room again
 * @np:		port
 */
static void ktap_rx_kick(struct ns_port *np)
{
	ktap_post_read((struct ktap_port *)np);
}

/**
 * ktap_rx_follow() - read the TAP on the caller's loop from now on
 * @np:		port
 *
 * The caller serves the unit's client: a frame read on the same thread
 * answers a parked read without waking another. A read in flight
 * elsewhere completes there; the next one is posted here.
 */
static void ktap_rx_follow(struct ns_port *np)
{
	((struct ktap_port *)np)->home = loop_self();
}

/**
 * ktap_set_vnet_hdr() - the client's virtio-net header length
 * @np:		port
 * @len:	0, 10 or 12
 *
 * Return: 0, -errno
 */
static int ktap_set_vnet_hdr(struct ns_port *np, unsigned len)
{
	struct ktap_port *p = (struct ktap_port *)np;
	unsigned offloads = len ? KTAP_OFFLOADS : 0;

	/* As with every change to the TAP (carrier, flags): a setting never
	 * overtakes a frame written before it */
	ktap_flush_tx(p);
	if (ioctl(p->fd, TUNSETOFFLOAD, offloads) < 0)
		return -errno;
	p->vnet_hdr = len;
	return 0;
}

/**
 * ktap_send() - inject one frame into the host stack
 * @np:		port
 * @frame:	frame, with the client's virtio-net header if it has one
 * @len:	its length
 *
 * Return: 0; a refusal by the kernel is counted, as a TAP that cannot
 *	   queue a frame drops it
 */
static int ktap_send(struct ns_port *np, const void *frame, size_t len)
{
	static const uint8_t zero[KTAP_KHDR];
	struct ktap_port *p = (struct ktap_port *)np;
	unsigned hdr = p->vnet_hdr;
	struct iovec iov[3] = {
		{ (void *)frame, hdr },
		{ (void *)zero, KTAP_KHDR - hdr },
		{ (uint8_t *)frame + hdr, len - hdr },
	};

	if (len < hdr) {
		p->unit->stats.tx_drop++;
		return 0;
	}
	if (ktap_tx_hold(p, frame, len))
		return 0;
	/* Lone, too large to copy, or every slot in use: the held ones first */
	ktap_flush_tx(p);
	if (writev(p->fd, iov, 3) < 0) {
		p->unit->stats.tx_drop++;
		log_debug("%s: TAP write: %s", p->unit->ifname, strerror(errno));
	}
	return 0;
}

/**
 * ktap_set_carrier() - link state as the host sees it
 * @np:		port
 * @on:		carrier up
 *
 * Return: 0, -errno
 */
static int ktap_set_carrier(struct ns_port *np, bool on)
{
	struct ktap_port *p = (struct ktap_port *)np;
	int v = on;

	ktap_flush_tx(p);
	return ioctl(p->fd, TUNSETCARRIER, &v) < 0 ? -errno : 0;
}

/**
 * ktap_set_flags() - interface flags
 * @np:		port
 * @change:	IFF_* flags to change
 * @flags:	their new values
 *
 * Return: 0, -errno
 */
static int ktap_set_flags(struct ns_port *np, unsigned change, unsigned flags)
{
	struct ktap_port *p = (struct ktap_port *)np;

	ktap_flush_tx(p);
	return rtnl_link_set_flags(&p->kt->rtnl, p->ifindex, change, flags);
}

/**
 * ktap_set_mtu() - MTU
 * @np:		port
 * @mtu:	new MTU
 *
 * Return: 0, the kernel's -errno
 */
static int ktap_set_mtu(struct ns_port *np, unsigned mtu)
{
	struct ktap_port *p = (struct ktap_port *)np;

	ktap_flush_tx(p);
	return rtnl_link_set_mtu(&p->kt->rtnl, p->ifindex, mtu);
}

/**
 * ktap_set_mac() - hardware address, through the TAP itself
 * @np:		port
 * @mac:	address
 *
 * Return: 0, -errno
 */
static int ktap_set_mac(struct ns_port *np, const uint8_t mac[6])
{
	struct ktap_port *p = (struct ktap_port *)np;
	struct ifreq ifr;

	ktap_flush_tx(p);
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	return ioctl(p->fd, SIOCSIFHWADDR, &ifr) < 0 ? -errno : 0;
}

/**
 * ktap_set_owner() - the user and group the TAP belongs to
 * @np:		port
 * @uid:	owner, (uid_t)-1 for none
 * @gid:	group, (gid_t)-1 for none
 *
 * Return: 0, -errno
 */
static int ktap_set_owner(struct ns_port *np, uid_t uid, gid_t gid)
{
	struct ktap_port *p = (struct ktap_port *)np;

	if (uid != (uid_t)-1 && ioctl(p->fd, TUNSETOWNER, (unsigned long)uid) < 0)
		return -errno;
	if (gid != (gid_t)-1 && ioctl(p->fd, TUNSETGROUP, (unsigned long)gid) < 0)
		return -errno;
	return 0;
}

/**
 * ktap_purge_addrs() - remove every address of the interface
 * @np:		port
 *
 * Return: 0, -errno
 */
static int ktap_purge_addrs(struct ns_port *np)
{
	struct ktap_port *p = (struct ktap_port *)np;

	ktap_flush_tx(p);
	return rtnl_addr_flush(&p->kt->rtnl, p->ifindex);
}

const struct ns_ops ktap_ops = {
	.name		= "kernel TAP",
	.create		= ktap_create,
	.destroy	= ktap_destroy,
	.rx_kick	= ktap_rx_kick,
	.rx_follow	= ktap_rx_follow,
	.send		= ktap_send,
	.set_vnet_hdr	= ktap_set_vnet_hdr,
	.set_carrier	= ktap_set_carrier,
	.set_flags	= ktap_set_flags,
	.set_mtu	= ktap_set_mtu,
	.set_mac	= ktap_set_mac,
	.set_owner	= ktap_set_owner,
	.purge_addrs	= ktap_purge_addrs,
	.sync		= ktap_sync,
};

/**
 * ktap_init() - open rtnetlink and start watching link notifications
 * @kt:		backend
 * @loop:	event loop
 *
 * Return: 0, -errno
 */
int ktap_init(struct ktap *kt, struct loop *loop)
{
	unsigned i;
	int ret;

	memset(kt, 0, sizeof(*kt));
	kt->loop = loop;
	for (i = 0; i < LOOP_MAX; i++)
		kt->held[i].tail = &kt->held[i].head;
	/* Large enough for calloc() to map it: untouched slots cost no memory */
	kt->tx_slots = calloc(KTAP_TX_SLOTS, sizeof(*kt->tx_slots));
	if (!kt->tx_slots)
		return -ENOMEM;
	for (i = KTAP_TX_SLOTS; i-- > 0;) {
		kt->tx_slots[i].next = kt->tx_free;
		kt->tx_free = &kt->tx_slots[i];
	}
	ret = rtnl_open(&kt->rtnl);
	if (ret) {
		free(kt->tx_slots);
		kt->tx_slots = NULL;
		return ret;
	}
	ktap_poll_rtnl(kt);
	return 0;
}

/**
 * ktap_stop() - stop watching rtnetlink; ports are destroyed by the model
 * @kt:		backend
 */
void ktap_stop(struct ktap *kt)
{
	kt->stopping = true;
	if (kt->polling)
		loop_cancel(kt->loop, LOOP_RTNL_POLL, kt);
	if (kt->timer)
		loop_cancel(kt->loop, LOOP_SCAN_TIMER, kt);
}

/**
 * ktap_fini() - close rtnetlink, once the loop has drained
 * @kt:		backend
 */
void ktap_fini(struct ktap *kt)
{
	rtnl_close(&kt->rtnl);
	free(kt->tx_slots);
	kt->tx_slots = NULL;
}
