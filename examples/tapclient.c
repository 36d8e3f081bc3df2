// SPDX-License-Identifier: BSD-2-Clause
/*
 * tapclient.c - what a BSD program does with /dev/tap, built on Linux
 *
 * The typical sequence of a FreeBSD tap(4) user (a VM monitor, a VPN),
 * compiled against cusetap's <net/if_tap.h> and libc only:
 *
 *   open /dev/tap          a fresh (or the lowest closed) unit
 *   TAPGIFNAME             which interface we got
 *   TAPGIFINFO             its MTU and type
 *   FIONBIO (BSD number)   reads never block: poll() decides when to read
 *   poll, FIONREAD, read   one read is one Ethernet frame
 *   write                  one write is one frame into the host
 *
 * Each frame read is answered with a broadcast frame of ethertype 0x88b5
 * that carries the received payload back, so a peer can match the two.
 *
 * Usage: tapclient [--count N] [--timeout MS] [DEVICE]   (default /dev/tap)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include <net/if_tap.h>		/* cusetap's BSD-valued tap(4) ioctls */

#define ETH_ALEN	6
#define ETH_HLEN	14
#define ETHERTYPE_TEST	0x88b5	/* IEEE local experimental */
#define FRAME_MAX	(TAPMRU + 1)

/* Our replies' source: a locally administered unicast address. */
static const unsigned char src_mac[ETH_ALEN] = { 0x02, 0, 0, 0, 0x7a, 0x9c };

static unsigned char rbuf[FRAME_MAX];
static unsigned char wbuf[FRAME_MAX];

/**
 * die() - print what failed and why, then exit 1
 * @what:	the step that failed
 */
static void die(const char *what)
{
	fprintf(stderr, "tapclient: %s: %s\n", what, strerror(errno));
	exit(1);
}

/**
 * number() - a non-negative decimal option value, or exit 2
 * @opt:	option name, for the message
 * @text:	its argument
 *
 * Return: the value
 */
static long number(const char *opt, const char *text)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || *end || end == text || v < 0) {
		fprintf(stderr, "tapclient: %s: '%s' is not a number\n", opt, text);
		exit(2);
	}
	return v;
}

/**
 * reply() - write one broadcast frame that echoes @len bytes of @payload
 * @fd:		the tap device
 * @payload:	what follows the Ethernet header of the frame read
 * @len:	its length
 */
static void reply(int fd, const unsigned char *payload, size_t len)
{
	ssize_t n;

	memset(wbuf, 0xff, ETH_ALEN);			/* to everyone */
	memcpy(wbuf + ETH_ALEN, src_mac, ETH_ALEN);
	wbuf[12] = ETHERTYPE_TEST >> 8;
	wbuf[13] = ETHERTYPE_TEST & 0xff;
	memcpy(wbuf + ETH_HLEN, payload, len);
	n = write(fd, wbuf, ETH_HLEN + len);
	if (n < 0)
		die("write");
	/* FreeBSD accepts and drops a write while the interface is down */
	if (n == 0)
		printf("tapclient: wrote 0 bytes: the interface is down, frame dropped\n");
	else
		printf("tapclient: wrote %zd bytes, ethertype 0x%04x\n", n, ETHERTYPE_TEST);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count",	required_argument, NULL, 'c' },
		{ "timeout",	required_argument, NULL, 't' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = "/dev/tap";
	long count = 1, timeout = 5000, i;
	struct freebsd_ifreq ifr;
	struct tuninfo ti;
	int fd, on = 1, c;

	while ((c = getopt_long(argc, argv, "c:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			count = number("--count", optarg);
			break;
		case 't':
			timeout = number("--timeout", optarg);
			break;
		default:
			fprintf(c == 'h' ? stdout : stderr,
				"usage: tapclient [--count N] [--timeout MS] [DEVICE]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind < argc)
		path = argv[optind];
	setvbuf(stdout, NULL, _IOLBF, 0);	/* a peer reads us line by line */

	/* Opening the cloning node creates (or picks) a unit */
	fd = open(path, O_RDWR);
	if (fd < 0)
		die(path);

	/* FreeBSD's TAPGIFNAME fills a 32-byte struct ifreq, name first */
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TAPGIFNAME, &ifr) < 0)
		die("TAPGIFNAME");
	printf("tapclient: %s is interface %.*s\n", path, BSD_IFNAMSIZ, ifr.name);

	if (ioctl(fd, TAPGIFINFO, &ti) < 0)
		die("TAPGIFINFO");
	printf("tapclient: mtu %u type %u baudrate %d\n", ti.mtu, ti.type, ti.baudrate);

	/* Linux's FIONBIO would work too; a BSD program uses its own number */
	if (ioctl(fd, BSD_FIONBIO, &on) < 0)
		die("FIONBIO");

	for (i = 1; i <= count; i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int nread = 0, ret;
		ssize_t n;

		ret = poll(&pfd, 1, (int)timeout);
		if (ret < 0)
			die("poll");
		if (ret == 0) {
			fprintf(stderr, "tapclient: no frame within %ld ms\n", timeout);
			return 1;
		}
		/* FIONREAD: the length of the frame the next read returns */
		if (ioctl(fd, BSD_FIONREAD, &nread) < 0)
			die("FIONREAD");
		n = read(fd, rbuf, sizeof(rbuf));
		if (n < 0)
			die("read");
		if (n < ETH_HLEN) {
			printf("tapclient: frame %ld: %zd bytes, too short for Ethernet\n", i, n);
			continue;
		}
		printf("tapclient: frame %ld: %zd bytes, ethertype 0x%04x, FIONREAD %d\n",
		       i, n, rbuf[12] << 8 | rbuf[13], nread);
		reply(fd, rbuf + ETH_HLEN, (size_t)n - ETH_HLEN);
	}
	close(fd);
	return 0;
}
