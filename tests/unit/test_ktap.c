// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_ktap.c - the kernel TAP backend's send path, on a real TAP
 *
 * The backend holds a client's small frames for a batch (ktap.c), so
 * whatever changes how the TAP reads a frame must first write out the
 * frames held under the old rules. And a frame the kernel has read for
 * us, whose completion waits in the ring while the client changes its
 * virtio-net header, must still reach the client whole. A system test
 * cannot catch the daemon at the right moment; here the loop only runs
 * when the test says so, so the moment is certain.
 *
 * Runs on the host (no CUSE needed), as root: it creates a TAP and reads
 * what the host receives from it with a packet socket. The device model is
 * replaced by the few calls the backend makes into it.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <liburing.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>

#include "cdev.h"
#include "ctl.h"
#include "log.h"
#include "loop.h"
#include "main.h"
#include "netstack/ktap.h"
#include "tapdev.h"
#include "check.h"

#define TEST_ETHERTYPE	0x88b5	/* IEEE local experimental */

int check_failures;

/*
 * The device model, as far as the backend reaches it: a queue that is full
 * (so the backend posts no read) until a test opens it for one frame
 */
static uint8_t rx_slot[TAPDEV_SLOT_SIZE];
static bool rx_open;
static size_t rx_off, rx_len;

void *tapdev_rx_buf(struct tapdev_unit *u, size_t *cap)
{
	(void)u;
	*cap = rx_open ? sizeof(rx_slot) : 0;
	return rx_open ? rx_slot : NULL;
}

void tapdev_rx_done(struct tapdev_unit *u, size_t off, size_t len)
{
	(void)u;
	rx_off = off;
	rx_len = len;
	rx_open = false;
}

void tapdev_link_update(struct tapdev_unit *u, const struct ns_link *link)
{
	(void)u; (void)link;
}

void tapdev_unit_lost(struct tapdev_unit *u)
{
	fprintf(stderr, "%s: unit lost\n", u->ifname);
	check_failures++;
}

static bool released;

void tapdev_port_released(struct tapdev_unit *u)
{
	(void)u;
	released = true;
}

/* The loop's other handlers, never reached here */
void cdev_on_read(void *obj, int res) { (void)obj; (void)res; }
void ctl_on_poll(void *obj, int res) { (void)obj; (void)res; }
void ctl_on_conn(void *obj, int res) { (void)obj; (void)res; }
void main_on_signal(void *obj, int res) { (void)obj; (void)res; }

static struct loop loop;
static struct ktap kt;
static struct tapdev_unit unit;
static struct ns_port *port;
static int sock = -1;

/**
 * frame_make() - a broadcast frame of ours, numbered
 * @buf:	at least @len bytes, after @hdr bytes of zero header
 * @hdr:	virtio-net header length in front (0, 10 or 12)
 * @len:	frame length
 * @seq:	its number, in every payload byte
 *
 * Return: header plus frame length
 */
static size_t frame_make(uint8_t *buf, size_t hdr, size_t len, uint8_t seq)
{
	uint16_t type = htons(TEST_ETHERTYPE);

	memset(buf, 0, hdr);
	memset(buf + hdr, 0xff, 6);
	memcpy(buf + hdr + 6, "\x02\x00\x00\x00\x00\x01", 6);
	memcpy(buf + hdr + 12, &type, 2);
	memset(buf + hdr + 14, seq, len - 14);
	return hdr + len;
}

/**
 * host_recv() - the next of our frames the host received from the TAP
 * @buf:	buffer, 4096 bytes
 * @wait_ms:	how long to wait for it
 *
 * Return: its length, 0 if none came
 */
static size_t host_recv(uint8_t *buf, int wait_ms)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };

	while (poll(&pfd, 1, wait_ms) > 0) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(sock, buf, 4096, 0,
				     (struct sockaddr *)&from, &fl);

		/* What the host itself sends out (IPv6 chatter) is not ours */
		if (n >= 14 && from.sll_pkttype != PACKET_OUTGOING &&
		    buf[12] == TEST_ETHERTYPE >> 8 &&
		    buf[13] == (TEST_ETHERTYPE & 0xff))
			return (size_t)n;
	}
	return 0;
}

/**
 * expect_frame() - the host received exactly this frame next
 * @len:	its length
 * @seq:	its number
 */
static void expect_frame(size_t len, uint8_t seq)
{
	uint8_t got[4096], want[4096];
	size_t n = host_recv(got, 1000);

	frame_make(want, 0, len, seq);
	CHECK_EQ(n, len);
	if (n == len && memcmp(got, want, len)) {
		fprintf(stderr, "frame %u arrived altered (first bytes %02x %02x "
			"%02x, payload byte %02x)\n", seq, got[0], got[1],
			got[2], got[20]);
		check_failures++;
	}
}

static void test_lone_frame_written_at_once(void)
{
	uint8_t f[128];

	/* A new batch of completions; no batch has written a frame yet */
	loop.batches++;
	ktap_ops.send(port, f, frame_make(f, 0, 60, 1));
	expect_frame(60, 1);
	CHECK(!loop.holding);
}

static void test_held_until_batch_or_idle(void)
{
	uint8_t f[128], got[4096];

	/* The second frame of the batch: the client is streaming */
	ktap_ops.send(port, f, frame_make(f, 0, 60, 2));
	/* Nothing was submitted: the frame must still be held */
	CHECK_EQ(host_recv(got, 50), 0);
	CHECK(loop.holding);
	/* The loop's idle hook */
	ktap_tx_issue(&kt);
	loop_submit(&loop);
	expect_frame(60, 2);
	/* The next batch's first frame is held too: the last one wrote two */
	loop.batches++;
	ktap_ops.send(port, f, frame_make(f, 0, 60, 3));
	CHECK_EQ(host_recv(got, 50), 0);
	ktap_tx_issue(&kt);
	loop_submit(&loop);
	expect_frame(60, 3);
}

static void test_lone_frame_follows_held_ones(void)
{
	uint8_t f[128], got[4096];

	/* A batch that writes two frames: the client streams */
	loop.batches++;
	ktap_ops.send(port, f, frame_make(f, 0, 60, 18));
	ktap_ops.send(port, f, frame_make(f, 0, 60, 19));
	ktap_tx_issue(&kt);
	loop_submit(&loop);
	expect_frame(60, 18);
	expect_frame(60, 19);
	/* So the next batch's one frame is held */
	loop.batches++;
	ktap_ops.send(port, f, frame_make(f, 0, 60, 20));
	CHECK_EQ(host_recv(got, 50), 0);
	/* The last batch wrote one: the client takes turns, this one is lone,
	 * and goes at once, after the held one */
	loop.batches++;
	ktap_ops.send(port, f, frame_make(f, 0, 60, 21));
	expect_frame(60, 20);
	expect_frame(60, 21);
	CHECK_EQ(host_recv(got, 50), 0);
}

static void test_vnet_hdr_flushes_held_frames(void)
{
	uint8_t f[128];

	/* Held under "no header": the backend put 10 zero bytes in front */
	ktap_ops.send(port, f, frame_make(f, 0, 60, 12));
	ktap_ops.send(port, f, frame_make(f, 0, 61, 13));
	/* The TAP's header becomes 12 bytes: the held frames go first */
	CHECK_EQ(ktap_ops.set_vnet_hdr(port, 12), 0);
	expect_frame(60, 12);
	expect_frame(61, 13);
	/* A frame sent now carries the client's own 12-byte header */
	ktap_ops.send(port, f, frame_make(f, 12, 62, 14));
	CHECK_EQ(ktap_ops.set_vnet_hdr(port, 0), 0);
	expect_frame(62, 14);
}

/**
 * rx_across_switch() - a frame read under one header length, handled
 *			under another
 * @from:	the client's header length when the TAP read the frame
 * @to:		its length when the backend handles the completion
 * @seq:	the frame's number
 */
static void rx_across_switch(unsigned from, unsigned to, uint8_t seq)
{
	struct sockaddr_ll to_tap = {
		.sll_family = AF_PACKET,
		.sll_ifindex = (int)if_nametoindex(unit.ifname),
		.sll_halen = 6,
	};
	enum log_level saved = log_threshold;
	struct io_uring_cqe *cqe = NULL;
	uint8_t f[128], want[128];
	int tries;

	CHECK_EQ(ktap_ops.set_vnet_hdr(port, from), 0);
	rx_open = true;
	rx_len = 0;
	ktap_ops.rx_kick(port);
	loop_submit(&loop);
	/* The host sends a frame out of the interface: the TAP gets it */
	frame_make(f, 0, 60, seq);
	CHECK_EQ(sendto(sock, f, 60, 0, (struct sockaddr *)&to_tap,
			sizeof(to_tap)), 60);
	for (tries = 0; tries < 100 && io_uring_peek_cqe(&loop.ring, &cqe);
	     tries++)
		usleep(10000);	/* each system call lets the read finish */
	CHECK(cqe != NULL);
	/* Completed, not yet handled: now the client switches */
	CHECK_EQ(ktap_ops.set_vnet_hdr(port, to), 0);
	/* Handle it: the drain times out, since the rtnetlink poll stays in
	 * flight, and would say so */
	log_threshold = LOG_LVL_ERROR;
	loop_drain(20);
	log_threshold = saved;
	CHECK_EQ(loop.inflight_tag[LOOP_TAP_READ], 0);

	CHECK_EQ(rx_len, to + 60);
	frame_make(want, to, 60, seq);
	if (to == 12)
		want[10] = 1;	/* num_buffers */
	if (rx_len == to + 60 && memcmp(rx_slot + rx_off, want, rx_len)) {
		fprintf(stderr, "frame %u read with a %u-byte header, handled "
			"with %u: arrived altered\n", seq, from, to);
		check_failures++;
	}
}

static void test_rx_across_header_switch(void)
{
	rx_across_switch(0, 12, 30);
	rx_across_switch(12, 10, 31);
	rx_across_switch(10, 0, 32);
	rx_across_switch(0, 10, 33);
	CHECK_EQ(ktap_ops.set_vnet_hdr(port, 0), 0);
}

static void test_large_frame_after_held(void)
{
	static uint8_t big[4096];
	uint8_t f[128];

	/* Larger than a copy slot: written at once, after the held one */
	ktap_ops.send(port, f, frame_make(f, 0, 60, 5));
	ktap_ops.send(port, big, frame_make(big, 0, 2500, 6));
	expect_frame(60, 5);
	expect_frame(2500, 6);
}

static void test_carrier_change_flushes_held_frames(void)
{
	uint8_t f[128];

	ktap_ops.send(port, f, frame_make(f, 0, 60, 7));
	/* A frame must not meet the link change that followed its write */
	CHECK_EQ(ktap_ops.set_carrier(port, false), 0);
	expect_frame(60, 7);
	CHECK_EQ(ktap_ops.set_carrier(port, true), 0);
}

/**
 * setup() - a loop, the backend, one TAP up with carrier, a host socket
 *
 * Return: 0, -1 after saying why
 */
static int setup(void)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct ns_link link;
	char path[128];
	FILE *f;
	int ret;

	ret = loop_init(&loop, 64);
	if (!ret)
		ret = ktap_init(&kt, &loop);
	if (ret) {
		fprintf(stderr, "io_uring or rtnetlink: %s\n", strerror(-ret));
		return -1;
	}
	snprintf(unit.ifname, sizeof(unit.ifname), "utk%d", (int)getpid());
	ret = ktap_ops.create(&kt, unit.ifname, false, &unit, &port, &link);
	if (ret) {
		fprintf(stderr, "creating TAP %s: %s%s\n", unit.ifname,
			strerror(-ret), ret == -EPERM ?
			" (needs CAP_NET_ADMIN: run as root, as scripts/test "
			"does)" : "");
		return -1;
	}
	/* Quiet: the host's own IPv6 chatter would be read from the TAP too */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 unit.ifname);
	f = fopen(path, "we");
	if (f) {
		fputs("1", f);
		fclose(f);
	}
	if (ktap_ops.set_flags(port, IFF_UP, IFF_UP) ||
	    ktap_ops.set_carrier(port, true)) {
		fprintf(stderr, "%s: cannot bring it up\n", unit.ifname);
		return -1;
	}
	sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex(unit.ifname);
	if (sock < 0 || bind(sock, (struct sockaddr *)&sll, sizeof(sll))) {
		fprintf(stderr, "packet socket: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

int main(void)
{
	if (setup())
		return 1;
	/*
	 * In this order: the tests share one TAP and the loop's count of
	 * frames per batch of completions. The first starts from a loop that
	 * never wrote; each later one sends in the batch the one before left
	 * (held, since it already wrote), or starts the batches it needs.
	 */
	RUN(test_lone_frame_written_at_once);
	RUN(test_held_until_batch_or_idle);
	RUN(test_lone_frame_follows_held_ones);
	RUN(test_vnet_hdr_flushes_held_frames);
	RUN(test_large_frame_after_held);
	RUN(test_carrier_change_flushes_held_frames);
	RUN(test_rx_across_header_switch);

	/* Teardown: every write completes, the port is freed, nothing leaks */
	close(sock);
	ktap_ops.destroy(port);
	ktap_stop(&kt);
	CHECK_EQ(loop_drain(2000), 0);
	CHECK(released);
	CHECK_EQ(if_nametoindex(unit.ifname), 0);
	ktap_fini(&kt);
	loop_fini(&loop);
	return check_failures ? 1 : 0;
}
