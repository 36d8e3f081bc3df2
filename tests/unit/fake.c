// SPDX-License-Identifier: BSD-2-Clause
/*
 * fake.c - a recording character-device side and network side
 *
 * The fake character-device side records every reply; the fake network
 * side records every frame sent and lets a test deliver frames "from the
 * host" through the same tapdev_rx_buf/tapdev_rx_done calls the kernel TAP
 * backend uses. Ports live in ports[], so units above 15 are not allowed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>

#include "check.h"
#include "fake.h"

/* --- fake character-device side --- */

struct reply replies[64];
unsigned nreplies;
unsigned poll_wakes, poll_drops, nodes, sigios;
pid_t sigio_owner;

bool no_room;

static bool fake_node_room(void *host)
{
	return !no_room;
}

static int fake_node_add(void *host, struct tapdev_unit *u)
{
	u->node = u;
	nodes++;
	return 0;
}

static void fake_node_del(void *host, struct tapdev_unit *u)
{
	nodes--;
}

static void fake_reply_data(void *req, const void *buf, size_t len)
{
	struct reply *r = &replies[nreplies++ % 64];

	r->req = req;
	r->err = 0;
	r->len = len;
	memcpy(r->data, buf, len < sizeof(r->data) ? len : sizeof(r->data));
}

static void fake_reply_err(void *req, int err)
{
	struct reply *r = &replies[nreplies++ % 64];

	r->req = req;
	r->err = err;
	r->len = 0;
}

static void fake_poll_wake(void *ph)
{
	poll_wakes++;
}

static void fake_poll_drop(void *ph)
{
	poll_drops++;
}

static void fake_sigio(void *host, pid_t owner, int pidfd)
{
	sigios++;
	sigio_owner = owner;
}

const struct tapdev_host fake_host = {
	.node_room = fake_node_room,
	.node_add = fake_node_add,
	.node_del = fake_node_del,
	.reply_data = fake_reply_data,
	.reply_err = fake_reply_err,
	.poll_wake = fake_poll_wake,
	.poll_drop = fake_poll_drop,
	.sigio = fake_sigio,
};

/* --- fake network side --- */

struct ns_link next_link;
bool sync_applies;
struct fake_port *ports[16];
unsigned sent, released;
size_t sent_len;
const char *taken_name;

static int fake_create(void *be, const char *ifname, bool adopt,
		       struct tapdev_unit *u, struct ns_port **pp,
		       struct ns_link *link)
{
	struct fake_port *p;

	if (taken_name && !strcmp(ifname, taken_name))
		return -EEXIST;
	if (u->num >= sizeof(ports) / sizeof(ports[0]))
		return -ENOSPC;		/* the fake's own limit */
	p = calloc(1, sizeof(*p));
	p->u = u;
	ports[u->num] = p;
	memset(link, 0, sizeof(*link));
	memcpy(link->mac, "\x02\x00\x00\x00\x00\x01", 6);
	link->mtu = 1500;
	*pp = (struct ns_port *)p;
	return 0;
}

static void fake_destroy(struct ns_port *np)
{
	struct fake_port *p = (struct fake_port *)np;

	ports[p->u->num] = NULL;
	released++;
	tapdev_port_released(p->u);
	free(p);
}

static void fake_rx_kick(struct ns_port *np)
{
	((struct fake_port *)np)->kicks++;
}

static int fake_send(struct ns_port *np, const void *frame, size_t len)
{
	sent++;
	sent_len = len;
	return 0;
}

static int fake_set_carrier(struct ns_port *np, bool on)
{
	((struct fake_port *)np)->carrier = on;
	return 0;
}

static int fake_set_flags(struct ns_port *np, unsigned change, unsigned flags)
{
	struct fake_port *p = (struct fake_port *)np;

	if (change & IFF_UP) {
		p->up_called = true;
		p->u->link.flags = (p->u->link.flags & ~IFF_UP) | (flags & IFF_UP);
	}
	return 0;
}

unsigned vnet_hdr_set = 99;

static int fake_set_vnet_hdr(struct ns_port *np, unsigned len)
{
	vnet_hdr_set = len;
	return 0;
}

static int fake_set_mtu(struct ns_port *np, unsigned mtu)
{
	return mtu > 65535 ? -EINVAL : 0;
}

uint8_t mac_set[6];

static int fake_set_mac(struct ns_port *np, const uint8_t mac[6])
{
	memcpy(mac_set, mac, 6);
	return 0;
}

static int fake_purge(struct ns_port *np)
{
	((struct fake_port *)np)->purged = true;
	return 0;
}

static void fake_sync(void *be)
{
	unsigned i;

	if (!sync_applies)
		return;
	for (i = 0; i < 16; i++) {
		if (ports[i])
			tapdev_link_update(ports[i]->u, &next_link);
	}
}

uid_t owner_set = (uid_t)-1;

static int fake_set_owner(struct ns_port *np, uid_t uid, gid_t gid)
{
	owner_set = uid;
	return 0;
}

const struct ns_ops fake_ns = {
	.name = "fake",
	.create = fake_create,
	.destroy = fake_destroy,
	.rx_kick = fake_rx_kick,
	.send = fake_send,
	.set_carrier = fake_set_carrier,
	.set_flags = fake_set_flags,
	.set_vnet_hdr = fake_set_vnet_hdr,
	.set_mtu = fake_set_mtu,
	.set_mac = fake_set_mac,
	.set_owner = fake_set_owner,
	.purge_addrs = fake_purge,
	.sync = fake_sync,
};

/* --- helpers --- */

struct tapdev_ctx ctx;

void setup_cfg(enum tapdev_abi abi, bool vmnet)
{
	struct tapdev_config cfg = {
		.abi = abi, .devname = "tap", .queue_len = 4, .vmnet = vmnet,
		.mac_seed = 42, .owner = (uid_t)-1, .group = (gid_t)-1,
		.mode = 0600,
	};

	nreplies = poll_wakes = poll_drops = nodes = sigios = 0;
	sent = released = 0;
	sync_applies = false;
	taken_name = NULL;
	memset(ports, 0, sizeof(ports));
	CHECK_EQ(tapdev_init(&ctx, &cfg, &fake_host, NULL, &fake_ns, NULL), 0);
}

void setup(enum tapdev_abi abi)
{
	setup_cfg(abi, false);
}

void teardown(void)
{
	tapdev_fini(&ctx);
	free(ctx.units);
}

/* the host sends a frame out of the unit's interface */
void host_sends(struct tapdev_unit *u, const char *data, size_t len)
{
	size_t cap;
	void *buf = tapdev_rx_buf(u, &cap);

	CHECK(buf != NULL);
	if (!buf)
		return;
	memcpy(buf, data, len);
	tapdev_rx_done(u, 0, len);
}

struct reply *last(void)
{
	return &replies[(nreplies - 1) % 64];
}

