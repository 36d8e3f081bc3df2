// SPDX-License-Identifier: BSD-2-Clause
/*
 * hostpeer.c - the host's side of a benchmarked interface
 *
 * Theory of operation
 *
 * What a tap client reads is what the host sends out of the interface, and
 * what it writes arrives on the host as received traffic. The host's side
 * here is an AF_PACKET socket bound to the interface, bypassing the qdisc:
 *
 * - hp_flood() keeps frames coming for a reader, with flow control through
 *   shared memory (struct hp_flow): at most a window of frames unread, and
 *   asleep on a futex rather than spinning while the window is full. A
 *   frame lost on the way only costs a short timeout, after which the
 *   window is considered empty.
 * - hp_echo() measures round trips: send one frame, wait until the client
 *   has read it and written it back, record the time, repeat.
 *
 * Every frame is broadcast (FreeBSD's input filter passes it whatever the
 * interface's MAC), of ethertype HP_ETHERTYPE, with a magic and a sequence
 * number after the Ethernet header so that stray traffic is told apart.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/futex.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "hostpeer.h"

#define HP_MAGIC	0x4354424eu	/* "CTBN" */
#define HP_BATCH	32		/* frames per sendmmsg */
#define HP_LOST_MS	20		/* no progress this long: frames lost */
#define HP_ECHO_WAIT_MS	2000		/* one round trip's timeout */
#define HP_ECHO_RETRIES	20		/* lost round trips before giving up */

/* struct hp_flow is shared between processes: every access is atomic */
#define HP_LOAD(p)	__atomic_load_n((p), __ATOMIC_SEQ_CST)
#define HP_STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_SEQ_CST)

/**
 * hp_iface_prepare() - quiet the interface, then bring it up
 * @ifname:	interface
 *
 * IPv6 is switched off first, so bringing it up sends no router or
 * neighbour solicitations into the measurement.
 *
 * Return: 0, -errno
 */
int hp_iface_prepare(const char *ifname)
{
	char path[128];
	struct ifreq ifr;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 ifname);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1\n", 2) != 2)
			ret = -errno;
		close(fd);
		if (ret)
			return ret;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		ret = -errno;
		goto out;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		ret = -errno;
out:
	close(fd);
	return ret;
}

/**
 * hp_iface_stat() - one counter of /sys/class/net/IF/statistics
 * @ifname:	interface
 * @name:	counter, e.g. "rx_bytes"
 * @val:	set to its value
 *
 * Return: 0, -errno
 */
int hp_iface_stat(const char *ifname, const char *name, uint64_t *val)
{
	char path[128];
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s",
		 ifname, name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fscanf(f, "%" SCNu64, val) != 1)
		ret = -EIO;
	fclose(f);
	return ret;
}

/**
 * hp_socket() - a packet socket on the interface, past the qdisc
 * @ifname:	interface
 * @proto:	ethertype to receive, 0 to only send
 *
 * Return: the socket, -errno
 */
int hp_socket(const char *ifname, uint16_t proto)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	int fd, one = 1, ret;

	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (!sll.sll_ifindex)
		return -ENODEV;
	sll.sll_protocol = htons(proto);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(proto));
	if (fd < 0)
		return -errno;
	/* Nothing queues in front of the TAP: measure it, not a qdisc */
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/**
 * hp_frame_fill() - a benchmark frame: broadcast, our ethertype, marked
 * @frame:	buffer, @len bytes, at least 22
 * @len:	frame length
 * @seq:	sequence number to carry
 */
void hp_frame_fill(uint8_t *frame, size_t len, uint32_t seq)
{
	static const uint8_t src[ETH_ALEN] = { 0x02, 0x62, 0x65, 0x6e, 0x63, 0x68 };
	uint32_t magic = htonl(HP_MAGIC), nseq = htonl(seq);
	uint16_t type = htons(HP_ETHERTYPE);

	memset(frame, 0, len);
	memset(frame, 0xff, ETH_ALEN);
	memcpy(frame + ETH_ALEN, src, ETH_ALEN);
	memcpy(frame + 12, &type, 2);
	memcpy(frame + 14, &magic, 4);
	memcpy(frame + 18, &nseq, 4);
}

/**
 * hp_frame_seq() - the sequence number of one of our frames
 * @frame:	frame
 * @len:	its length
 * @seq:	set to the number
 *
 * Return: 0, -EINVAL if the frame is not one of ours
 */
static int hp_frame_seq(const uint8_t *frame, size_t len, uint32_t *seq)
{
	uint32_t magic, nseq;
	uint16_t type;

	if (len < 22)
		return -EINVAL;
	memcpy(&type, frame + 12, 2);
	memcpy(&magic, frame + 14, 4);
	if (type != htons(HP_ETHERTYPE) || magic != htonl(HP_MAGIC))
		return -EINVAL;
	memcpy(&nseq, frame + 18, 4);
	*seq = ntohl(nseq);
	return 0;
}

/**
 * hp_futex() - futex(2), which glibc does not wrap
 * @uaddr:	futex word
 * @op:		FUTEX_WAIT or FUTEX_WAKE
 * @val:	expected value, or how many to wake
 * @ts:		timeout for FUTEX_WAIT, or NULL
 *
 * Return: as the system call
 */
static long hp_futex(uint32_t *uaddr, int op, uint32_t val,
		     const struct timespec *ts)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

/**
 * hp_flow_took() - the reader took one frame: count it, wake the sender
 *		    once the window has drained to its low mark
 * @fl:		flow
 */
void hp_flow_took(struct hp_flow *fl)
{
	uint32_t r = __atomic_add_fetch(&fl->received, 1, __ATOMIC_SEQ_CST);

	if (HP_LOAD(&fl->sleeping) &&
	    (int32_t)(r - HP_LOAD(&fl->wake_at)) >= 0) {
		HP_STORE(&fl->sleeping, 0);
		hp_futex(&fl->received, FUTEX_WAKE, 1, NULL);
	}
}

/**
 * hp_flood() - keep frames coming out of the interface, until killed
 * @ifname:	interface
 * @size:	frame length
 * @window:	frames unread at most; the sender sleeps until half are read
 * @fl:		flow shared with the reader
 *
 * Return: only on error, -errno
 */
int hp_flood(const char *ifname, size_t size, unsigned window,
	     struct hp_flow *fl)
{
	static struct mmsghdr msgs[HP_BATCH];
	static struct iovec iov;
	uint32_t sent = 0, lost = 0;
	uint8_t *frame;
	unsigned i;
	int fd;

	fd = hp_socket(ifname, 0);
	if (fd < 0)
		return fd;
	frame = malloc(size);
	if (!frame)
		return -ENOMEM;
	hp_frame_fill(frame, size, 0);
	iov.iov_base = frame;
	iov.iov_len = size;
	for (i = 0; i < HP_BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	for (;;) {
		uint32_t rcv = HP_LOAD(&fl->received);
		uint32_t unread = sent - lost - rcv;
		int n;

		if ((int32_t)unread < 0) {	/* the reader took strays */
			lost = sent - rcv;
			unread = 0;
		}
		if (unread + HP_BATCH > window) {
			struct timespec ts = { 0, HP_LOST_MS * 1000000L };

			HP_STORE(&fl->wake_at, rcv + unread - window / 2);
			HP_STORE(&fl->sleeping, 1);
			if (HP_LOAD(&fl->received) == rcv &&
			    hp_futex(&fl->received, FUTEX_WAIT, rcv, &ts) < 0 &&
			    errno == ETIMEDOUT &&
			    HP_LOAD(&fl->received) == rcv)
				lost = sent - rcv;	/* nothing moved: lost */
			HP_STORE(&fl->sleeping, 0);
			continue;
		}
		n = sendmmsg(fd, msgs, HP_BATCH, 0);
		if (n < 0) {
			if (errno == ENOBUFS || errno == EAGAIN ||
			    errno == EINTR)
				continue;
			return -errno;
		}
		sent += n;
		HP_STORE(&fl->sent, sent);
	}
}

/**
 * hp_now_us() - monotonic time
 *
 * Return: microseconds
 */
static double hp_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/**
 * hp_echo() - round trips through a client that writes back what it reads
 * @ifname:	interface
 * @size:	frame length
 * @iters:	round trips to record (after a few unrecorded ones)
 * @rtt_us:	filled with @iters round-trip times, microseconds
 *
 * A round trip that does not come back in time is sent again under a new
 * sequence number; frames that are not the awaited echo are ignored.
 *
 * Return: 0, -ETIMEDOUT when the client stopped answering, -errno
 */
int hp_echo(const char *ifname, size_t size, unsigned iters, double *rtt_us)
{
	unsigned i, retries = 0;
	uint8_t *frame, *buf;
	uint32_t seq = 0;
	int fd, ret = 0;

	fd = hp_socket(ifname, HP_ETHERTYPE);
	if (fd < 0)
		return fd;
	frame = malloc(size);
	buf = malloc(65536);
	if (!frame || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < HP_ECHO_WARMUP + iters; ) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		double t0, deadline;
		bool done = false;

		hp_frame_fill(frame, size, ++seq);
		t0 = hp_now_us();
		if (send(fd, frame, size, 0) != (ssize_t)size) {
			ret = -errno;
			goto out;
		}
		deadline = t0 + HP_ECHO_WAIT_MS * 1000.0;
		while (!done) {
			double left = deadline - hp_now_us();
			uint32_t got;
			ssize_t n;

			if (left <= 0 || poll(&pfd, 1, (int)(left / 1000) + 1) == 0)
				break;
			n = recv(fd, buf, 65536, MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				ret = -errno;
				goto out;
			}
			if (n > 0 && !hp_frame_seq(buf, (size_t)n, &got) &&
			    got == seq)
				done = true;
		}
		if (!done) {
			if (++retries > HP_ECHO_RETRIES) {
				ret = -ETIMEDOUT;
				goto out;
			}
			continue;
		}
		if (i >= HP_ECHO_WARMUP)
			rtt_us[i - HP_ECHO_WARMUP] = hp_now_us() - t0;
		i++;
	}
out:
	free(frame);
	free(buf);
	close(fd);
	return ret;
}
