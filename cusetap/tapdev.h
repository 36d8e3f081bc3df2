/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tapdev.h - the BSD tap(4) device model: units, opens, reads, writes, polls
 *
 * This is the one core every entry point forwards to, like NetBSD's
 * tap_dev_*(). It knows nothing of libfuse: the character-device side
 * reaches it through these functions and is called back through struct
 * tapdev_host; the network side is driven through struct ns_ops. Requests
 * (void *req) and poll handles (void *ph) are opaque tokens of the
 * character-device side.
 *
 * Everything here is owned by the event loop thread; nothing locks.
 */
#ifndef CUSETAP_TAPDEV_H
#define CUSETAP_TAPDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <net/if.h>

#include "fq.h"
#include "netstack/backend.h"

/* Which BSD driver's rules apply where the two differ (DESIGN.md). */
enum tapdev_abi {
	TAPDEV_ABI_FREEBSD,	/* FreeBSD if_tuntap.c */
	TAPDEV_ABI_NETBSD,	/* NetBSD if_tap.c */
};

#define TAPDEV_MRU		65535	/* largest frame a client may write */
#define TAPDEV_MAX_UNITS	32768	/* FreeBSD IF_MAXUNIT + 1 */
/* NetBSD has no such limit; a unit's node minor (unit + 1) must fit 20 bits */
#define TAPDEV_MAX_UNITS_NETBSD	999999
#define TAPDEV_QUEUE_LEN	32	/* frames held for a slow reader */
/* A receive slot holds the largest frame the kernel can hand us. */
#define TAPDEV_SLOT_SIZE	(65536 + 4096)

/**
 * struct tapdev_host - calls into the character-device side
 * @node_room:	is there room for one more node (NULL: always); asked
 *		before a unit's interface is made, so that a unit refused
 *		for want of a node costs no interface made and unmade
 * @node_add:	create the device node of unit @u; stores it in u->node
 * @node_del:	remove u->node
 * @reply_data:	answer read request @req with @len bytes
 * @reply_err:	answer request @req with error @err
 * @poll_wake:	wake the pollers behind @ph, then release it
 * @poll_drop:	release @ph without waking anyone
 * @sigio:	send SIGIO to @owner (a pid, or a process group if negative),
 *		through @pidfd when it is not -1 (immune to pid reuse)
 */
struct tapdev_host {
	bool (*node_room)(void *host);
	int (*node_add)(void *host, struct tapdev_unit *u);
	void (*node_del)(void *host, struct tapdev_unit *u);
	void (*reply_data)(void *req, const void *buf, size_t len);
	void (*reply_err)(void *req, int err);
	void (*poll_wake)(void *ph);
	void (*poll_drop)(void *ph);
	void (*sigio)(void *host, pid_t owner, int pidfd);
};

/**
 * struct tapdev_config - daemon-wide choices
 * @abi:	flavour
 * @devname:	cloning device name, also the interface name prefix
 * @queue_len:	frames held per unit for a slow reader
 * @vmnet:	FreeBSD vmnet semantics: close leaves the interface alone and
 *		frames sent while closed wait for the next opener
 * @up_on_open:	bring the interface up on open (FreeBSD's
 *		net.link.tap.up_on_open)
 * @mac_seed:	host-specific seed of FreeBSD-style stable MAC addresses
 * @owner:	owner of every node and kernel TAP, (uid_t)-1 for root
 * @group:	group of every node and kernel TAP, (gid_t)-1 for root's
 * @mode:	permissions of every node
 */
struct tapdev_config {
	enum tapdev_abi abi;
	const char *devname;
	unsigned queue_len;
	bool vmnet;
	bool up_on_open;
	uint64_t mac_seed;
	uid_t owner;
	gid_t group;
	mode_t mode;
};

struct tapdev_waiter;
struct tapdev_file;

/**
 * struct tapdev_unit - one tapN: an interface and its device node
 * @ctx:	device model
 * @num:	unit number N
 * @ifname:	device node name, and the interface's name until the host
 *		renames it (see tapdev_ifname())
 * @port:	network side of the interface
 * @node:	character-device side node, NULL while it has none
 * @opener:	the open file, NULL while closed (one opener at a time)
 * @rxq:	frames from the host not yet read
 * @link:	interface state, as last learnt from the network side
 * @remote_mac:	the peer's MAC (SIOC[GS]IFADDR on the device), set from the
 *		interface's at open, as FreeBSD's tun_ether
 * @baudrate:	reported by TAPGIFINFO, set by TAPSIFINFO
 * @vnet_hdr:	virtio-net header length frames carry (TAPSVNETHDR)
 * @transient:	destroy the unit on last close (TAPSTRANSIENT)
 * @adopted:	the interface is the host administrator's: never destroyed
 * @cloned:	made by an open of the cloning node; FreeBSD cloning may hand
 *		it out again once it is closed
 * @dying:	destroyed, waiting for the network side to let go
 * @stats:	frame counters
 */
struct tapdev_unit {
	struct tapdev_ctx *ctx;
	unsigned num;
	char ifname[IFNAMSIZ];
	struct ns_port *port;
	void *node;
	struct tapdev_file *opener;
	struct fq rxq;
	struct ns_link link;
	uint8_t remote_mac[6];
	int baudrate;
	unsigned vnet_hdr;
	bool transient;
	bool adopted;
	bool cloned;
	bool dying;
	struct {
		uint64_t rx, rx_drop, tx, tx_drop;
	} stats;
};

/**
 * struct tapdev_file - one open of a node (the CUSE file handle)
 * @ctx:	device model
 * @unit:	the unit, NULL once it was destroyed under the opener
 * @waiters:	parked reads, oldest first
 * @ph:		latest poll handle, NULL if none
 * @nbio:	BSD FIONBIO set: reads never block
 * @async:	BSD FIOASYNC set: SIGIO to @owner when a frame arrives
 * @owner:	SIGIO recipient: pid, -pgid, or 0 for none
 * @owner_pidfd: pidfd of a positive @owner, -1 if none
 * @pid:	thread that opened the device
 * @tgid:	its process, -1 if it could not be found
 * @uid:	its user
 * @pgid:	its process group at open, -1 if unknown
 * @cloned:	opened through the cloning node (NetBSD destroys such units
 *		on close, and keeps units opened by name)
 */
struct tapdev_file {
	struct tapdev_ctx *ctx;
	struct tapdev_unit *unit;
	struct tapdev_waiter *waiters;
	void *ph;
	bool nbio;
	bool async;
	pid_t owner;
	int owner_pidfd;
	pid_t pid;
	pid_t tgid;
	uid_t uid;
	pid_t pgid;
	bool cloned;
};

/**
 * struct tapdev_waiter - a read parked until a frame arrives
 * @next:	next in the file's queue, or in the free list
 * @file:	the file it waits on
 * @req:	request to answer
 * @size:	bytes the client asked for
 * @interrupted: the client was signalled; answer EINTR at the next reap
 */
struct tapdev_waiter {
	struct tapdev_waiter *next;
	struct tapdev_file *file;
	void *req;
	size_t size;
	bool interrupted;
};

/**
 * struct tapdev_ctx - the device model
 * @cfg:	configuration
 * @host:	character-device side, and its argument
 * @host_arg:	argument for @host calls
 * @ns:		network side, and its argument
 * @ns_arg:	argument for @ns calls
 * @units:	units by number, @nunits slots
 * @nunits:	size of @units
 * @free_waiters: recycled waiters, so parking never allocates in steady state
 * @ninterrupted: waiters marked interrupted, answered at the next tapdev_reap()
 * @debug:	TAPSDEBUG level
 * @log_base:	log threshold when @debug is 0
 */
struct tapdev_ctx {
	struct tapdev_config cfg;
	const struct tapdev_host *host;
	void *host_arg;
	const struct ns_ops *ns;
	void *ns_arg;
	struct tapdev_unit **units;
	unsigned nunits;
	struct tapdev_waiter *free_waiters;
	unsigned ninterrupted;
	int debug;
	int log_base;
};

int tapdev_init(struct tapdev_ctx *c, const struct tapdev_config *cfg,
		const struct tapdev_host *host, void *host_arg,
		const struct ns_ops *ns, void *ns_arg);
void tapdev_fini(struct tapdev_ctx *c);

int tapdev_unit_create(struct tapdev_ctx *c, int num, struct tapdev_unit **up);
void tapdev_unit_destroy(struct tapdev_unit *u);
int tapdev_unit_adopt(struct tapdev_ctx *c, unsigned num);
struct tapdev_unit *tapdev_unit_get(struct tapdev_ctx *c, unsigned num);
const char *tapdev_ifname(const struct tapdev_unit *u);
unsigned tapdev_max_units(const struct tapdev_ctx *c);

int tapdev_open(struct tapdev_ctx *c, struct tapdev_unit *u, pid_t pid,
		struct tapdev_file **fp);
void tapdev_close(struct tapdev_file *f);
struct tapdev_waiter *tapdev_read(struct tapdev_file *f, void *req,
				  size_t size, bool nonblock);
void tapdev_interrupt(struct tapdev_waiter *w, const void *req);
void tapdev_reap(struct tapdev_ctx *c);
ssize_t tapdev_write(struct tapdev_file *f, const void *frame, size_t len);
unsigned tapdev_poll(struct tapdev_file *f, void *ph);
size_t tapdev_nread(const struct tapdev_file *f);
int tapdev_set_vnet_hdr(struct tapdev_file *f, int len);
int tapdev_set_mtu(struct tapdev_file *f, unsigned mtu);
int tapdev_set_flags(struct tapdev_file *f, unsigned change, unsigned flags);
int tapdev_set_owner(struct tapdev_file *f, pid_t owner);
void tapdev_set_debug(struct tapdev_ctx *c, int level);

/* Calls from the network side */
void *tapdev_rx_buf(struct tapdev_unit *u, size_t *cap);
void tapdev_rx_done(struct tapdev_unit *u, size_t off, size_t len);
void tapdev_link_update(struct tapdev_unit *u, const struct ns_link *link);
void tapdev_unit_lost(struct tapdev_unit *u);
void tapdev_port_released(struct tapdev_unit *u);

#endif /* CUSETAP_TAPDEV_H */
