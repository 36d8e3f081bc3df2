// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_tapdev.c - the BSD device model, driven without CUSE or kernel TAPs
 *
 * A fake character-device side records every reply; a fake network side
 * records every frame sent and lets the test deliver frames "from the
 * host" through the same tapdev_rx_buf/tapdev_rx_done calls the kernel TAP
 * backend uses.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <unistd.h>

#include "check.h"
#include "ioctl.h"
#include "tapdev.h"
#include <net/if_tap.h>

int check_failures;

/* --- fake character-device side --- */

struct reply {
	void *req;
	int err;		/* 0 for data */
	size_t len;
	char data[2048];
};

static struct reply replies[64];
static unsigned nreplies;
static unsigned poll_wakes, poll_drops, nodes, sigios;
static pid_t sigio_owner;

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

static void fake_sigio(void *host, pid_t owner)
{
	sigios++;
	sigio_owner = owner;
}

static const struct tapdev_host fake_host = {
	.node_add = fake_node_add,
	.node_del = fake_node_del,
	.reply_data = fake_reply_data,
	.reply_err = fake_reply_err,
	.poll_wake = fake_poll_wake,
	.poll_drop = fake_poll_drop,
	.sigio = fake_sigio,
};

/* --- fake network side --- */

struct fake_port {
	struct tapdev_unit *u;
	bool carrier, up_called, purged;
	unsigned kicks;
};

static struct ns_link next_link;	/* what sync() "learns" */
static bool sync_applies;
static struct fake_port *ports[16];
static unsigned sent, released;
static size_t sent_len;
static const char *taken_name;

static int fake_create(void *be, const char *ifname, bool adopt,
		       struct tapdev_unit *u, struct ns_port **pp,
		       struct ns_link *link)
{
	struct fake_port *p;

	if (taken_name && !strcmp(ifname, taken_name))
		return -EEXIST;
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

static unsigned vnet_hdr_set = 99;

static int fake_set_vnet_hdr(struct ns_port *np, unsigned len)
{
	vnet_hdr_set = len;
	return 0;
}

static int fake_set_mtu(struct ns_port *np, unsigned mtu)
{
	return mtu > 65535 ? -EINVAL : 0;
}

static uint8_t mac_set[6];

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

static uid_t owner_set = (uid_t)-1;

static int fake_set_owner(struct ns_port *np, uid_t uid, gid_t gid)
{
	owner_set = uid;
	return 0;
}

static const struct ns_ops fake_ns = {
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

static struct tapdev_ctx ctx;

static void setup_cfg(enum tapdev_abi abi, bool vmnet)
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

static void setup(enum tapdev_abi abi)
{
	setup_cfg(abi, false);
}

static void teardown(void)
{
	tapdev_fini(&ctx);
	free(ctx.units);
}

/* the host sends a frame out of the unit's interface */
static void host_sends(struct tapdev_unit *u, const char *data, size_t len)
{
	size_t cap;
	void *buf = tapdev_rx_buf(u, &cap);

	CHECK(buf != NULL);
	if (!buf)
		return;
	memcpy(buf, data, len);
	tapdev_rx_done(u, 0, len);
}

static struct reply *last(void)
{
	return &replies[(nreplies - 1) % 64];
}

/* --- tests --- */

static void test_clone_lowest_and_busy(void)
{
	struct tapdev_file *f0, *f1, *f2;

	setup(TAPDEV_ABI_FREEBSD);
	CHECK_EQ(tapdev_open(&ctx, NULL, getpid(), &f0), 0);
	CHECK_EQ(tapdev_open(&ctx, NULL, getpid(), &f1), 0);
	CHECK(!strcmp(f0->unit->ifname, "tap0"));
	CHECK(!strcmp(f1->unit->ifname, "tap1"));
	CHECK_EQ(nodes, 2);
	CHECK(ports[0]->carrier);
	CHECK_EQ(tapdev_open(&ctx, f0->unit, getpid(), &f2), -EBUSY);

	/* FreeBSD: closed units are kept and cloning reuses the lowest one */
	tapdev_close(f0);
	CHECK(tapdev_unit_get(&ctx, 0) != NULL);
	CHECK(!ports[0]->carrier);
	CHECK(ports[0]->up_called && ports[0]->purged);
	CHECK_EQ(tapdev_open(&ctx, NULL, getpid(), &f2), 0);
	CHECK(!strcmp(f2->unit->ifname, "tap0"));
	tapdev_close(f1);
	tapdev_close(f2);
	teardown();
}

static void test_clone_skips_taken_names(void)
{
	struct tapdev_file *f;

	setup(TAPDEV_ABI_FREEBSD);
	taken_name = "tap0";
	CHECK_EQ(tapdev_open(&ctx, NULL, getpid(), &f), 0);
	CHECK(!strcmp(f->unit->ifname, "tap1"));
	tapdev_close(f);
	teardown();
}

static void test_read_truncates_and_drops_rest(void)
{
	struct tapdev_file *f;
	struct tapdev_waiter *w;

	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	host_sends(f->unit, "0123456789", 10);
	host_sends(f->unit, "abcdef", 6);
	CHECK_EQ(tapdev_nread(f), 10);

	w = tapdev_read(f, (void *)1, 4, false);
	CHECK(w == NULL);
	CHECK_EQ(last()->err, 0);
	CHECK_EQ(last()->len, 4);
	CHECK(!memcmp(last()->data, "0123", 4));

	/* the rest of the first frame is gone: next read is the next frame */
	tapdev_read(f, (void *)2, 100, false);
	CHECK_EQ(last()->len, 6);
	CHECK(!memcmp(last()->data, "abcdef", 6));
	CHECK_EQ(tapdev_nread(f), 0);
	tapdev_close(f);
	teardown();
}

static void test_nonblocking_empty_is_eagain(void)
{
	struct tapdev_file *f;

	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	CHECK(tapdev_read(f, (void *)1, 100, true) == NULL);
	CHECK_EQ(last()->err, EAGAIN);
	/* BSD FIONBIO */
	f->nbio = true;
	CHECK(tapdev_read(f, (void *)2, 100, false) == NULL);
	CHECK_EQ(last()->err, EAGAIN);
	tapdev_close(f);
	teardown();
}

static void test_parked_read_gets_next_frame(void)
{
	struct tapdev_file *f;
	struct tapdev_waiter *w;

	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	w = tapdev_read(f, (void *)7, 3, false);
	CHECK(w != NULL);
	CHECK_EQ(nreplies, 0);
	host_sends(f->unit, "hello", 5);
	CHECK_EQ(nreplies, 1);
	CHECK(last()->req == (void *)7);
	CHECK_EQ(last()->len, 3);
	/* handed over directly, not queued */
	CHECK_EQ(tapdev_nread(f), 0);
	tapdev_close(f);
	teardown();
}

static void test_interrupt_answers_eintr(void)
{
	struct tapdev_file *f;
	struct tapdev_waiter *w;

	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	w = tapdev_read(f, (void *)9, 100, false);
	tapdev_interrupt(w);
	CHECK_EQ(nreplies, 0);		/* deferred until the reap */
	tapdev_reap(&ctx);
	CHECK_EQ(nreplies, 1);
	CHECK(last()->req == (void *)9);
	CHECK_EQ(last()->err, EINTR);
	CHECK(f->waiters == NULL);
	tapdev_close(f);
	teardown();
}

static void test_closed_unit_drops_frames(void)
{
	struct tapdev_file *f;
	struct tapdev_unit *u;

	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	u = f->unit;
	tapdev_close(f);
	host_sends(u, "stale", 5);
	CHECK_EQ(u->stats.rx_drop, 1);
	CHECK_EQ(tapdev_open(&ctx, u, getpid(), &f), 0);
	CHECK_EQ(tapdev_nread(f), 0);
	tapdev_close(f);
	teardown();
}

static void test_poll(void)
{
	struct tapdev_file *f;
	unsigned rev;

	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	rev = tapdev_poll(f, (void *)0x10);
	CHECK_EQ(rev & (POLLIN | POLLOUT), POLLOUT);
	host_sends(f->unit, "x", 1);
	CHECK_EQ(poll_wakes, 1);
	rev = tapdev_poll(f, NULL);
	CHECK_EQ(rev & (POLLIN | POLLOUT), POLLIN | POLLOUT);
	tapdev_close(f);
	teardown();
}

static void test_full_queue_stops_and_kicks(void)
{
	struct tapdev_file *f;
	size_t cap;
	int i;

	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	for (i = 0; i < 4; i++)
		host_sends(f->unit, "y", 1);
	CHECK(tapdev_rx_buf(f->unit, &cap) == NULL);
	tapdev_read(f, (void *)1, 10, false);
	CHECK_EQ(ports[0]->kicks, 1);
	CHECK(tapdev_rx_buf(f->unit, &cap) != NULL);
	tapdev_close(f);
	teardown();
}

static void test_freebsd_write_rules(void)
{
	static char big[TAPDEV_MRU + 1];
	char frame[60] = { 0 };
	struct tapdev_file *f;

	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	memset(frame, 0xff, 6);			/* broadcast */

	/* down: ignored silently, write returns 0 */
	CHECK_EQ(tapdev_write(f, frame, sizeof(frame)), 0);
	CHECK_EQ(sent, 0);

	f->unit->link.flags |= IFF_UP;
	CHECK_EQ(tapdev_write(f, frame, sizeof(frame)), sizeof(frame));
	CHECK_EQ(sent, 1);
	CHECK_EQ(tapdev_write(f, big, sizeof(big)), -EIO);
	CHECK_EQ(tapdev_write(f, frame, 13), 13);	/* runt: dropped */
	CHECK_EQ(sent, 1);

	/* unicast to another MAC: dropped unless promiscuous */
	memcpy(frame, "\x02\x00\x00\x00\x00\x99", 6);
	CHECK_EQ(tapdev_write(f, frame, sizeof(frame)), sizeof(frame));
	CHECK_EQ(sent, 1);
	f->unit->link.flags |= IFF_PROMISC;
	CHECK_EQ(tapdev_write(f, frame, sizeof(frame)), sizeof(frame));
	CHECK_EQ(sent, 2);
	f->unit->link.flags &= ~IFF_PROMISC;
	/* to our own MAC: passes */
	memcpy(frame, f->unit->link.mac, 6);
	tapdev_write(f, frame, sizeof(frame));
	CHECK_EQ(sent, 3);
	tapdev_close(f);
	teardown();
}

static void test_state_synced_before_refusing(void)
{
	char frame[60];
	struct tapdev_file *f;

	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	memset(frame, 0xff, sizeof(frame));
	/* the host just brought the link up; the model has not heard yet */
	next_link = f->unit->link;
	next_link.flags |= IFF_UP;
	sync_applies = true;
	CHECK_EQ(tapdev_write(f, frame, sizeof(frame)), sizeof(frame));
	CHECK_EQ(sent, 1);
	tapdev_close(f);
	teardown();
}

static void test_netbsd_rules(void)
{
	char frame[60] = { 0 };
	struct tapdev_file *f;

	setup(TAPDEV_ABI_NETBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	f->cloned = true;		/* as the character-device side marks it */
	/* read while down: EHOSTDOWN */
	CHECK(tapdev_read(f, (void *)1, 100, false) == NULL);
	CHECK_EQ(last()->err, EHOSTDOWN);
	/* write while down: accepted, even a foreign unicast or a runt */
	CHECK_EQ(tapdev_write(f, frame, sizeof(frame)), sizeof(frame));
	CHECK_EQ(tapdev_write(f, frame, 5), 5);
	CHECK_EQ(sent, 2);
	/* close of a clone destroys the unit and its node */
	tapdev_close(f);
	CHECK(tapdev_unit_get(&ctx, 0) == NULL);
	CHECK_EQ(nodes, 0);
	CHECK_EQ(released, 1);
	/* cloning again makes a new unit 0 */
	CHECK_EQ(tapdev_open(&ctx, NULL, getpid(), &f), 0);
	CHECK(!strcmp(f->unit->ifname, "tap0"));
	/* a unit opened by name (not cloned) survives its close */
	{
		struct tapdev_unit *u = f->unit;

		tapdev_close(f);	/* not marked cloned */
		CHECK(tapdev_unit_get(&ctx, 0) == u);
	}
	teardown();
}

static void test_initial_macs(void)
{
	struct tapdev_file *f;
	uint8_t first[6];

	setup(TAPDEV_ABI_NETBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	CHECK(!memcmp(f->unit->link.mac, "\xf2\x0b\xa4", 3));
	tapdev_close(f);
	teardown();

	/* FreeBSD style: locally administered unicast, stable for a name */
	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	CHECK_EQ(f->unit->link.mac[0] & 0x03, 0x02);
	memcpy(first, f->unit->link.mac, 6);
	tapdev_close(f);
	teardown();
	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	CHECK(!memcmp(first, f->unit->link.mac, 6));
	tapdev_close(f);
	teardown();
}

static void test_vnet_hdr(void)
{
	char frame[80];
	struct tapdev_file *f;

	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	CHECK_EQ(tapdev_set_vnet_hdr(f, 7), -EINVAL);
	CHECK_EQ(tapdev_set_vnet_hdr(f, 12), 0);
	CHECK_EQ(vnet_hdr_set, 12);
	f->unit->link.flags |= IFF_UP;
	/* the Ethernet header is looked for after the virtio-net header */
	memset(frame, 0, sizeof(frame));
	memset(frame + 12, 0xff, 6);
	CHECK_EQ(tapdev_write(f, frame, sizeof(frame)), sizeof(frame));
	CHECK_EQ(sent, 1);
	CHECK_EQ(tapdev_write(f, frame, 12 + 13), 12 + 13);	/* runt */
	CHECK_EQ(sent, 1);
	/* FIONREAD counts the frame without its header */
	host_sends(f->unit, frame, 60);
	CHECK_EQ(tapdev_nread(f), 48);
	/* close switches it off again */
	tapdev_close(f);
	CHECK_EQ(vnet_hdr_set, 0);
	teardown();
}

static void test_transient(void)
{
	struct tapdev_file *f;

	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	f->unit->transient = true;
	tapdev_close(f);
	CHECK(tapdev_unit_get(&ctx, 0) == NULL);
	CHECK_EQ(released, 1);
	teardown();
}

static void test_vmnet_keeps_frames_while_closed(void)
{
	struct tapdev_file *f;
	struct tapdev_unit *u;

	setup_cfg(TAPDEV_ABI_FREEBSD, true);
	tapdev_open(&ctx, NULL, getpid(), &f);
	u = f->unit;
	u->link.flags |= IFF_UP;
	tapdev_close(f);
	/* vmnet: interface left up, not purged */
	CHECK(!ports[0]->up_called);
	CHECK(!ports[0]->purged);
	host_sends(u, "late", 4);
	CHECK_EQ(tapdev_open(&ctx, u, getpid(), &f), 0);
	CHECK_EQ(tapdev_nread(f), 4);
	tapdev_close(f);
	teardown();
}

static void test_sigio_owner_rules(void)
{
	struct tapdev_file *f;

	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	CHECK_EQ(tapdev_set_owner(f, 1), -EPERM);		/* init: not us */
	CHECK_EQ(tapdev_set_owner(f, -1), -EPERM);
	CHECK_EQ(tapdev_set_owner(f, -getpgid(0)), 0);
	CHECK_EQ(tapdev_set_owner(f, getpid()), 0);
	f->async = true;
	host_sends(f->unit, "x", 1);
	CHECK_EQ(sigios, 1);
	CHECK_EQ(sigio_owner, getpid());
	tapdev_close(f);
	teardown();
}

static void test_unit_lost_wakes_reader(void)
{
	struct tapdev_file *f;
	char frame[20] = { 0 };

	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	tapdev_read(f, (void *)5, 100, false);
	tapdev_poll(f, (void *)0x20);
	tapdev_unit_lost(f->unit);
	CHECK_EQ(last()->err, ENXIO);
	CHECK(last()->req == (void *)5);
	CHECK_EQ(poll_wakes, 1);
	CHECK(f->unit == NULL);
	CHECK_EQ(tapdev_write(f, frame, sizeof(frame)), -ENXIO);
	CHECK(tapdev_poll(f, NULL) & POLLHUP);
	tapdev_close(f);
	teardown();
}

static void test_ioctl_table(void)
{
	CHECK(tapioc_find(0x4020745d) != NULL);		/* FreeBSD TAPGIFNAME */
	CHECK(tapioc_find(0x40906500) != NULL);		/* NetBSD TAPGIFNAME */
	CHECK(tapioc_find(0x541b) != NULL);		/* Linux FIONREAD */
	CHECK(tapioc_find(0x4004667f) != NULL);		/* BSD FIONREAD */
	CHECK(tapioc_find(0x4004ffff) == NULL);		/* unknown: ENOTTY */
	CHECK(tapioc_find(TUNSIFPID) == NULL);		/* tun only: ENOTTY */
	CHECK(tapioc_find(TUNSIFHEAD) == NULL);
	/* same number 91, different sizes: two different commands */
	CHECK_EQ(tapioc_find(TAPSVNETHDR)->in, sizeof(int));
	CHECK_EQ(tapioc_find(TAPSIFINFO)->in, sizeof(struct tuninfo));
	CHECK(tapioc_find(0x2000745b) == NULL);	/* right number, no size */
	CHECK_EQ(tapioc_find(TAPGIFNAME)->out, 32);
	CHECK_EQ(tapioc_find(NETBSD_TAPGIFNAME)->out, 144);
}

static void test_ioctl_gifname(void)
{
	struct freebsd_ifreq ifr;
	struct tapdev_file *f;

	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	memset(&ifr, 0x55, sizeof(ifr));
	memset(ifr.name, 0, sizeof(ifr.name));
	{
		struct tapioc_args a = { .out = &ifr };

		CHECK_EQ(tapioc_find(TAPGIFNAME)->fn(f, &a), 0);
	}
	CHECK(!strcmp(ifr.name, "tap0"));
	tapdev_close(f);
	teardown();
}

int main(void)
{
	RUN(test_clone_lowest_and_busy);
	RUN(test_clone_skips_taken_names);
	RUN(test_read_truncates_and_drops_rest);
	RUN(test_nonblocking_empty_is_eagain);
	RUN(test_parked_read_gets_next_frame);
	RUN(test_interrupt_answers_eintr);
	RUN(test_closed_unit_drops_frames);
	RUN(test_poll);
	RUN(test_full_queue_stops_and_kicks);
	RUN(test_freebsd_write_rules);
	RUN(test_state_synced_before_refusing);
	RUN(test_netbsd_rules);
	RUN(test_unit_lost_wakes_reader);
	RUN(test_initial_macs);
	RUN(test_vnet_hdr);
	RUN(test_transient);
	RUN(test_vmnet_keeps_frames_while_closed);
	RUN(test_sigio_owner_rules);
	RUN(test_ioctl_table);
	RUN(test_ioctl_gifname);
	return check_failures ? 1 : 0;
}
