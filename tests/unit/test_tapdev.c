// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_tapdev.c - the BSD device model, driven without CUSE or kernel TAPs
 *
 * The fakes (fake.c) record every reply and every frame sent, and deliver
 * frames "from the host" the way the kernel TAP backend does.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <unistd.h>

#include "check.h"
#include "fake.h"
#include "ioctl.h"
#include "tapdev.h"
#include "util.h"
#include <net/if_tap.h>

int check_failures;

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

/* A unit made at start (--units) or adopted is there to be opened by name:
 * cloning never hands it out, as FreeBSD's cloning never does */
static void test_clone_leaves_units_made_otherwise(void)
{
	struct tapdev_unit *u0;
	struct tapdev_file *f, *g;

	setup(TAPDEV_ABI_FREEBSD);
	CHECK_EQ(tapdev_unit_create(&ctx, 0, &u0), 0);
	CHECK_EQ(tapdev_unit_adopt(&ctx, 1), 0);
	CHECK_EQ(tapdev_open(&ctx, NULL, getpid(), &f), 0);
	CHECK(!strcmp(f->unit->ifname, "tap2"));
	tapdev_close(f);
	/* the clone's own unit is handed out again, the others still not */
	CHECK_EQ(tapdev_open(&ctx, NULL, getpid(), &f), 0);
	CHECK(!strcmp(f->unit->ifname, "tap2"));
	CHECK_EQ(tapdev_open(&ctx, NULL, getpid(), &g), 0);
	CHECK(!strcmp(g->unit->ifname, "tap3"));
	tapdev_close(f);
	tapdev_close(g);
	teardown();
}

/* No room for another node: ENXIO, and no interface made and unmade */
static void test_no_room_for_node(void)
{
	struct tapdev_file *f;
	unsigned before;

	setup(TAPDEV_ABI_FREEBSD);
	before = released;
	no_room = true;
	CHECK_EQ(tapdev_open(&ctx, NULL, getpid(), &f), -ENXIO);
	CHECK(ports[0] == NULL);
	CHECK_EQ(released, before);
	no_room = false;
	CHECK_EQ(tapdev_open(&ctx, NULL, getpid(), &f), 0);
	tapdev_close(f);
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
	tapdev_interrupt(w, (void *)9);
	CHECK_EQ(nreplies, 0);		/* deferred until the reap */
	tapdev_reap(&ctx);
	CHECK_EQ(nreplies, 1);
	CHECK(last()->req == (void *)9);
	CHECK_EQ(last()->err, EINTR);
	CHECK(f->waiters == NULL);
	tapdev_close(f);
	teardown();
}

/*
 * A signal that crosses the answer: the read was answered (from another
 * thread, in the daemon) and its waiter reused by the next read before
 * the interrupt is handled. The next read must not get its EINTR.
 */
static void test_late_interrupt_leaves_reused_waiter(void)
{
	struct tapdev_file *f;
	struct tapdev_waiter *w, *w2;

	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	w = tapdev_read(f, (void *)9, 100, false);
	host_sends(f->unit, "hello", 5);
	CHECK_EQ(nreplies, 1);
	w2 = tapdev_read(f, (void *)10, 100, false);
	CHECK(w2 == w);			/* recycled: the case that matters */
	tapdev_interrupt(w, (void *)9);
	tapdev_reap(&ctx);
	CHECK_EQ(nreplies, 1);		/* read 10 still parked */
	CHECK(f->waiters == w2);
	tapdev_interrupt(w2, (void *)10);
	tapdev_reap(&ctx);
	CHECK_EQ(nreplies, 2);
	CHECK(last()->req == (void *)10);
	CHECK_EQ(last()->err, EINTR);
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

static void test_close_with_full_queue_restarts_receive(void)
{
	struct tapdev_file *f;
	struct tapdev_unit *u;
	size_t cap;
	int i;

	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	u = f->unit;
	for (i = 0; i < 4; i++)
		host_sends(u, "z", 1);
	CHECK(tapdev_rx_buf(u, &cap) == NULL);	/* full: receiving stopped */
	tapdev_close(f);
	/* junking a full queue must restart receiving, or the unit is deaf */
	CHECK_EQ(ports[0]->kicks, 1);
	CHECK(tapdev_rx_buf(u, &cap) != NULL);
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
	CHECK_EQ(tapdev_set_owner(f, 0x3ffffffe), -ESRCH);	/* no such pid */
	CHECK_EQ(tapdev_set_owner(f, -0x3ffffffe), -ESRCH);	/* no such group */
	CHECK_EQ(tapdev_set_owner(f, -getpgid(0)), 0);
	CHECK_EQ(tapdev_set_owner(f, getpid()), 0);
	f->async = true;
	host_sends(f->unit, "x", 1);
	CHECK_EQ(sigios, 1);
	CHECK_EQ(sigio_owner, getpid());
	/* owner 0: nobody, as fsetown(0) */
	CHECK_EQ(tapdev_set_owner(f, 0), 0);
	host_sends(f->unit, "y", 1);
	CHECK_EQ(sigios, 1);
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

/* The host takes the interface down: the queue is junked (both BSDs'
 * if_down); NetBSD's blocked readers fail with EHOSTDOWN, FreeBSD's sleep on */
static void test_link_down_junks_queue(void)
{
	static const enum tapdev_abi abis[] = {
		TAPDEV_ABI_FREEBSD, TAPDEV_ABI_NETBSD
	};
	struct tapdev_file *f, *g;
	struct ns_link down;
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(abis); i++) {
		setup(abis[i]);
		tapdev_open(&ctx, NULL, getpid(), &f);
		tapdev_open(&ctx, NULL, getpid(), &g);
		f->unit->link.flags |= IFF_UP;
		g->unit->link.flags |= IFF_UP;
		host_sends(f->unit, "queued", 6);
		CHECK_EQ(tapdev_nread(f), 6);
		CHECK(tapdev_read(g, (void *)7, 100, false) != NULL);
		tapdev_poll(g, (void *)0x20);

		down = f->unit->link;
		down.flags &= ~IFF_UP;
		tapdev_link_update(f->unit, &down);
		CHECK_EQ(tapdev_nread(f), 0);
		CHECK(!(tapdev_poll(f, NULL) & POLLIN));

		nreplies = 0;
		poll_wakes = 0;
		down = g->unit->link;
		down.flags &= ~IFF_UP;
		tapdev_link_update(g->unit, &down);
		if (abis[i] == TAPDEV_ABI_NETBSD) {
			CHECK_EQ(nreplies, 1);
			CHECK(last()->req == (void *)7);
			CHECK_EQ(last()->err, EHOSTDOWN);
			CHECK_EQ(poll_wakes, 1);
			CHECK(g->waiters == NULL);
		} else {
			CHECK_EQ(nreplies, 0);
			CHECK(g->waiters != NULL);
		}
		/* a change that is not a fall leaves everything as it is */
		host_sends(f->unit, "again", 5);
		tapdev_link_update(f->unit, &f->unit->link);
		CHECK_EQ(tapdev_nread(f), 5);
		tapdev_close(f);
		tapdev_close(g);
		teardown();
	}
}

/* The host renamed the interface: TAPGIFNAME says its name now, as
 * FreeBSD's if_xname; the unit keeps its number */
static void test_gifname_after_rename(void)
{
	struct freebsd_ifreq ifr;
	struct tapioc_args a = { .out = &ifr };
	struct tapdev_file *f;
	struct ns_link renamed;

	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	renamed = f->unit->link;
	snprintf(renamed.name, sizeof(renamed.name), "vm0");
	tapdev_link_update(f->unit, &renamed);
	memset(&ifr, 0, sizeof(ifr));
	CHECK_EQ(tapioc_find(TAPGIFNAME)->fn(f, &a), 0);
	CHECK(!strcmp(ifr.name, "vm0"));
	CHECK_EQ(f->unit->num, 0);
	tapdev_close(f);
	teardown();
}

/* TAPSIFINFO checks only an MTU it changes, as FreeBSD tunioctl(): a
 * get-modify-set of the baudrate works whatever the host set */
static void test_sifinfo_checks_changed_mtu_only(void)
{
	struct tuninfo ti;
	struct tapioc_args get = { .out = &ti }, set = { .in = &ti };
	struct tapdev_file *f;

	setup(TAPDEV_ABI_FREEBSD);
	tapdev_open(&ctx, NULL, getpid(), &f);
	f->unit->link.mtu = 68;		/* the host's choice, below IF_MINMTU */
	CHECK_EQ(tapioc_find(TAPGIFINFO)->fn(f, &get), 0);
	ti.baudrate = 1000;
	CHECK_EQ(tapioc_find(TAPSIFINFO)->fn(f, &set), 0);
	CHECK_EQ(f->unit->baudrate, 1000);
	ti.mtu = 70;
	CHECK_EQ(tapioc_find(TAPSIFINFO)->fn(f, &set), -EINVAL);
	ti.mtu = 9000;
	CHECK_EQ(tapioc_find(TAPSIFINFO)->fn(f, &set), 0);
	CHECK_EQ(f->unit->link.mtu, 9000);
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
	RUN(test_clone_leaves_units_made_otherwise);
	RUN(test_no_room_for_node);
	RUN(test_clone_skips_taken_names);
	RUN(test_read_truncates_and_drops_rest);
	RUN(test_nonblocking_empty_is_eagain);
	RUN(test_parked_read_gets_next_frame);
	RUN(test_interrupt_answers_eintr);
	RUN(test_late_interrupt_leaves_reused_waiter);
	RUN(test_closed_unit_drops_frames);
	RUN(test_poll);
	RUN(test_full_queue_stops_and_kicks);
	RUN(test_close_with_full_queue_restarts_receive);
	RUN(test_freebsd_write_rules);
	RUN(test_state_synced_before_refusing);
	RUN(test_netbsd_rules);
	RUN(test_unit_lost_wakes_reader);
	RUN(test_initial_macs);
	RUN(test_vnet_hdr);
	RUN(test_transient);
	RUN(test_vmnet_keeps_frames_while_closed);
	RUN(test_sigio_owner_rules);
	RUN(test_link_down_junks_queue);
	RUN(test_gifname_after_rename);
	RUN(test_sifinfo_checks_changed_mtu_only);
	RUN(test_ioctl_table);
	RUN(test_ioctl_gifname);
	return check_failures ? 1 : 0;
}
