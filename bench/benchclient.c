// SPDX-License-Identifier: BSD-2-Clause
/*
 * benchclient.c - the measuring client of scripts/bench
 *
 * Theory of operation
 *
 * One run measures one thing and prints one JSON line. The client side is
 * a tap device, one of three targets:
 *
 *   null     a nullcuse device: the bare CUSE round trip, the reference
 *   native   a kernel TAP on /dev/net/tun: the Linux floor
 *   cusetap  a clone of the daemon's cloning node (TAPGIFNAME names it)
 *   nulltap  a nullcuse --tap device, whose TAP --ifname names: the simplest
 *            CUSE TAP, the floor of an echo (echo only)
 *
 * Modes:
 *
 *   write    frames/s of write(), broadcast frames of --size bytes; the
 *            host's rx counters of the interface confirm they arrived
 *   read     frames/s of read() while hostpeer floods the interface
 *   gso      write() of 64 KiB TCP super-frames behind a virtio-net header
 *            (TAPSVNETHDR 10); bytes/s, confirmed by rx_bytes
 *   rtt      null only: latency of one read() + one write(), what an
 *            echo costs on the bare CUSE path
 *   echo     host-side round trip: hostpeer sends a frame, a client child
 *            reads it and writes it back, hostpeer receives it
 *   rss      VmRSS of the daemon idle, then while this process holds
 *            --count clones open
 *
 * write, read and gso run --clients workers at once, each with its own
 * open (a clone of its own unit for cusetap). Workers set up, wait on a
 * common start, run --warmup seconds unmeasured, then --duration measured,
 * and report through shared memory; the JSON line has the aggregate.
 * Throughput loops read the clock every few calls only: under software
 * emulation even a clock read is not free.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <net/if_tap.h>

#include "hostpeer.h"

#define BC_MAX_CLIENTS	16
#define BC_CLOCK_EVERY	16	/* calls between two clock reads */
#define BC_RTT_WARMUP	100	/* null round trips not recorded */
#define BC_GSO_MSS	1448
#define BC_BUF_SIZE	(65536 + 4096)
#define BC_NAMES(t)	(sizeof(t) / sizeof((t)[0]))

enum bc_target { BC_NULL, BC_NATIVE, BC_CUSETAP, BC_NULLTAP };
enum bc_mode { BC_WRITE, BC_READ, BC_GSO, BC_RTT, BC_ECHO, BC_RSS };

static const char *const bc_target_names[] = {
	"null", "native", "cusetap", "nulltap",
};
static const char *const bc_mode_names[] = {
	"write", "read", "gso", "rtt", "echo", "rss",
};

/**
 * struct bc_opts - the command line
 * @mode:	what to measure
 * @target:	what to measure it on
 * @dev:	device node (null, cusetap, nulltap)
 * @ifname:	nulltap: the interface behind @dev
 * @size:	frame length, bytes
 * @duration:	measured seconds
 * @warmup:	unmeasured seconds before
 * @clients:	parallel workers
 * @iters:	round trips (rtt, echo)
 * @count:	clones to hold (rss)
 * @daemon_pid:	whose memory to read (rss)
 * @window:	frames the flooding sender keeps unread at most (read)
 * @server_pid:	the device's server (nullcuse, cusetap), whose CPU time
 *		is reported per frame; 0 for none
 * @sender_cpu:	CPU the flooding sender runs on, -1 for the client's (read)
 * @by_name:	cusetap: worker N opens unit N by name (@dev + N), as bhyve
 *		and QEMU open /dev/tapN, instead of cloning @dev
 * @poll:	read: wait with poll() before each read
 */
struct bc_opts {
	enum bc_mode mode;
	enum bc_target target;
	const char *dev;
	const char *ifname;
	size_t size;
	double duration;
	double warmup;
	unsigned clients;
	unsigned iters;
	unsigned count;
	pid_t daemon_pid;
	unsigned window;
	pid_t server_pid;
	int sender_cpu;
	bool by_name;
	bool poll;
};

/**
 * struct bc_client - one open tap
 * @fd:		its file descriptor
 * @ifname:	the host's interface, empty for null
 */
struct bc_client {
	int fd;
	char ifname[IFNAMSIZ];
};

/**
 * struct bc_result - what one worker measured
 * @frames:	calls counted in the measured window
 * @secs:	length of the window
 * @written:	frames of the whole run, warm-up included
 * @rx_frames:	the interface's rx_packets over the whole run (write, gso)
 * @rx_bytes:	its rx_bytes over the whole run
 * @cpu_ns:	CPU time this worker used over the window
 * @srv_cpu_ns:	CPU time the server (--server-pid) used over the window
 * @srv_csw:	context switches of the server over the window
 * @err:	0, or -errno of the failure
 */
struct bc_result {
	uint64_t frames;
	double secs;
	uint64_t written;
	uint64_t rx_frames;
	uint64_t rx_bytes;
	uint64_t cpu_ns;
	uint64_t srv_cpu_ns;
	uint64_t srv_csw;
	int err;
};

/**
 * struct bc_shared - shared between the coordinator and its workers
 * @res:	one result per worker
 * @flow:	one flow per reading worker and its sender
 */
struct bc_shared {
	struct bc_result res[BC_MAX_CLIENTS];
	struct hp_flow flow[BC_MAX_CLIENTS];
};

/**
 * bc_now() - monotonic time
 *
 * Return: seconds
 */
static double bc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/**
 * bc_file_num() - a number in a /proc file
 * @path:	file
 * @key:	the line starting with this holds it, after the key; NULL
 *		for the file's first number
 *
 * Return: the number, 0 if not found
 */
static uint64_t bc_file_num(const char *path, const char *key)
{
	unsigned long long v = 0;
	char line[128];
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!key) {
			sscanf(line, "%llu", &v);
			break;
		}
		if (!strncmp(line, key, strlen(key))) {
			sscanf(line + strlen(key), "%llu", &v);
			break;
		}
	}
	fclose(f);
	return v;
}

/**
 * bc_task_sum() - a number summed over every thread of a process
 * @pid:	process, 0 for the calling thread only
 * @file:	file under /proc/PID/task/TID/ holding it
 * @key:	as for bc_file_num()
 *
 * The server may run several threads: its cost is all of theirs. A thread
 * that exits takes its counts with it, so a later sum can be smaller
 * (bc_since()).
 *
 * Return: the sum, 0 if unknown
 */
static uint64_t bc_task_sum(pid_t pid, const char *file, const char *key)
{
	char path[PATH_MAX];
	struct dirent *de;
	uint64_t sum = 0;
	DIR *dir;

	if (!pid) {
		snprintf(path, sizeof(path), "/proc/thread-self/%s", file);
		return bc_file_num(path, key);
	}
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/%s",
			 (int)pid, de->d_name, file);
		sum += bc_file_num(path, key);
	}
	closedir(dir);
	return sum;
}

/**
 * bc_since() - how much a counter grew, 0 if it shrank
 * @now:	its value now
 * @then:	its value at the start
 *
 * Return: @now - @then, never wrapped around
 */
static uint64_t bc_since(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

/**
 * bc_cpu_ns() - CPU time a process has used so far (schedstat)
 * @pid:	process, 0 for this thread
 *
 * Return: nanoseconds, 0 if unknown
 */
static uint64_t bc_cpu_ns(pid_t pid)
{
	return bc_task_sum(pid, "schedstat", NULL);
}

/**
 * bc_csw() - context switches of a process so far
 * @pid:	process
 *
 * Return: voluntary + involuntary switches of all its threads, 0 if unknown
 */
static uint64_t bc_csw(pid_t pid)
{
	return bc_task_sum(pid, "status", "voluntary_ctxt_switches:") +
	       bc_task_sum(pid, "status", "nonvoluntary_ctxt_switches:");
}

/**
 * bc_fail() - say what failed, exit
 * @what:	what was being done
 * @err:	-errno
 */
static void bc_fail(const char *what, int err)
{
	fprintf(stderr, "benchclient: %s: %s\n", what, strerror(-err));
	exit(1);
}

/**
 * bc_open() - open a tap of the target, name and prepare its interface
 * @o:		options
 * @idx:	worker index, makes native interface names unique
 * @c:		filled in
 *
 * Return: 0, -errno
 */
static int bc_open(const struct bc_opts *o, unsigned idx, struct bc_client *c)
{
	struct freebsd_ifreq bifr;
	struct ifreq ifr;
	char path[PATH_MAX];

	memset(c, 0, sizeof(*c));
	switch (o->target) {
	case BC_NULL:
		c->fd = open(o->dev, O_RDWR | O_CLOEXEC);
		return c->fd < 0 ? -errno : 0;
	case BC_NULLTAP:
		if (strlen(o->ifname) >= IFNAMSIZ || strchr(o->ifname, '/'))
			return -EINVAL;
		c->fd = open(o->dev, O_RDWR | O_CLOEXEC);
		if (c->fd < 0)
			return -errno;
		snprintf(c->ifname, sizeof(c->ifname), "%s", o->ifname);
		break;
	case BC_NATIVE:
		c->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (c->fd < 0)
			return -errno;
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
		/* bn + 6 pid digits + _ + 2 worker digits fits IFNAMSIZ */
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "bn%d_%u",
			 (int)getpid() % 1000000, idx % 100);
		if (ioctl(c->fd, TUNSETIFF, &ifr) < 0)
			return -errno;
		snprintf(c->ifname, sizeof(c->ifname), "%s", ifr.ifr_name);
		break;
	case BC_CUSETAP:
		snprintf(path, sizeof(path), o->by_name ? "%s%u" : "%s", o->dev,
			 idx);
		c->fd = open(path, O_RDWR | O_CLOEXEC);
		if (c->fd < 0)
			return -errno;
		memset(&bifr, 0, sizeof(bifr));
		if (ioctl(c->fd, TAPGIFNAME, &bifr) < 0)
			return -errno;
		snprintf(c->ifname, sizeof(c->ifname), "%.*s",
			 BSD_IFNAMSIZ, bifr.name);
		break;
	}
	return hp_iface_prepare(c->ifname);
}

/**
 * bc_rx_stats() - the interface's receive counters, or zeroes for null
 * @c:		client
 * @frames:	set to rx_packets
 * @bytes:	set to rx_bytes
 */
static void bc_rx_stats(const struct bc_client *c, uint64_t *frames,
			uint64_t *bytes)
{
	*frames = *bytes = 0;
	if (!c->ifname[0])
		return;
	if (hp_iface_stat(c->ifname, "rx_packets", frames) ||
	    hp_iface_stat(c->ifname, "rx_bytes", bytes))
		*frames = *bytes = 0;
}

/**
 * bc_gso_frame() - a virtio-net header and a TCPv4 super-frame behind it
 * @buf:	buffer, @len bytes
 * @len:	header + frame, the frame at most TAPMRU
 *
 * Checksum offload (NEEDS_CSUM) with the pseudo-header sum in place, as a
 * guest's stack hands it to virtio-net; sent to a TEST-NET address the
 * host has no route to, so it is counted on arrival and dropped cheaply.
 */
static void bc_gso_frame(uint8_t *buf, size_t len)
{
	struct virtio_net_hdr *vh = (struct virtio_net_hdr *)buf;
	uint8_t *eth = buf + sizeof(*vh);
	struct iphdr *ip = (struct iphdr *)(eth + 14);
	struct tcphdr *tcp = (struct tcphdr *)(ip + 1);
	size_t iplen = len - sizeof(*vh) - 14;
	uint32_t sum = 0;
	const uint16_t *w;
	unsigned i;

	hp_frame_fill(eth, len - sizeof(*vh), 0);
	eth[12] = 0x08;				/* ETH_P_IP */
	eth[13] = 0x00;
	memset(vh, 0, sizeof(*vh));
	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	vh->hdr_len = 14 + sizeof(*ip) + sizeof(*tcp);
	vh->gso_size = BC_GSO_MSS;
	vh->csum_start = 14 + sizeof(*ip);
	vh->csum_offset = offsetof(struct tcphdr, check);

	memset(ip, 0, sizeof(*ip) + sizeof(*tcp));
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons((uint16_t)iplen);
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	ip->saddr = htonl(0xc0000201);		/* 192.0.2.1 */
	ip->daddr = htonl(0xc6336401);		/* 198.51.100.1 */
	for (w = (const uint16_t *)ip, i = 0; i < sizeof(*ip) / 2; i++)
		sum += w[i];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip->check = (uint16_t)~sum;

	tcp->source = htons(40000);
	tcp->dest = htons(5001);
	tcp->doff = 5;
	tcp->ack = 1;
	tcp->psh = 1;
	tcp->window = htons(65535);
	/* Pseudo-header sum, not inverted: the offload finishes it */
	sum = (ip->saddr >> 16) + (ip->saddr & 0xffff) +
	      (ip->daddr >> 16) + (ip->daddr & 0xffff) +
	      htons(IPPROTO_TCP) + htons((uint16_t)(iplen - sizeof(*ip)));
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	tcp->check = (uint16_t)sum;
}

/**
 * bc_op_write() - one write of the prepared frame
 * @c:		client
 * @buf:	frame
 * @len:	its length
 * @fl:		unused
 *
 * Return: 1, or -errno (a short write, which is a dropped frame, is -EIO)
 */
static int bc_op_write(struct bc_client *c, uint8_t *buf, size_t len,
		       struct hp_flow *fl)
{
	ssize_t n = write(c->fd, buf, len);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 1 : -EIO;
}

/**
 * bc_op_read() - one read; only our frames count
 * @c:		client
 * @buf:	buffer
 * @len:	bytes asked for
 * @fl:		flow to report the frame to, or NULL
 *
 * Return: 1 for one of our frames, 0 for a stray one, -errno
 */
static int bc_op_read(struct bc_client *c, uint8_t *buf, size_t len,
		      struct hp_flow *fl)
{
	ssize_t n = read(c->fd, buf, len);

	if (n < 0)
		return -errno;
	if (!fl)
		return 1;
	if (n < 14 || buf[12] != (HP_ETHERTYPE >> 8) ||
	    buf[13] != (HP_ETHERTYPE & 0xff))
		return 0;
	hp_flow_took(fl);
	return 1;
}

/**
 * bc_op_poll_read() - wait with poll(), then read, as an event-driven
 *		       client does
 * @c:		client
 * @buf:	buffer
 * @len:	bytes asked for
 * @fl:		flow to report the frame to, or NULL
 *
 * Return: as bc_op_read()
 */
static int bc_op_poll_read(struct bc_client *c, uint8_t *buf, size_t len,
			   struct hp_flow *fl)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

	if (poll(&pfd, 1, -1) < 0)
		return -errno;
	return bc_op_read(c, buf, len, fl);
}

typedef int (*bc_op)(struct bc_client *c, uint8_t *buf, size_t len,
		     struct hp_flow *fl);

/**
 * bc_rx_settle() - wait until the host has received what was written
 * @c:		client
 * @rxf0:	the interface's rx_packets before the first write
 * @written:	frames written since
 *
 * A tap write is answered before its frame reaches the host (cusetap
 * holds small frames for a batch, as a BSD tap queues them): the last few
 * land a moment after the last write returns. Gives up after a second; the
 * caller reports what arrived. A null device has no host side.
 */
static void bc_rx_settle(const struct bc_client *c, uint64_t rxf0,
			 uint64_t written)
{
	uint64_t f, b;
	unsigned i;

	for (i = 0; c->ifname[0] && i < 500; i++) {
		bc_rx_stats(c, &f, &b);
		if (f >= rxf0 + written)
			return;
		usleep(2000);
	}
}

/**
 * bc_timed() - repeat one call: warm up, then count over the window
 * @o:		options
 * @c:		client
 * @op:		the call
 * @buf:	its buffer
 * @len:	its length
 * @fl:		flow, for reads of a flooded interface
 * @r:		filled in
 *
 * Return: 0, -errno of the first failed call
 */
static int bc_timed(const struct bc_opts *o, struct bc_client *c, bc_op op,
		    uint8_t *buf, size_t len, struct hp_flow *fl,
		    struct bc_result *r)
{
	double t, start = 0, warm_end = bc_now() + o->warmup;
	uint64_t n = 0, total = 0, rxf0, rxb0, rxf1, rxb1;
	uint64_t cpu0 = 0, srv0 = 0, csw0 = 0;
	bool counting = false;
	unsigned i;
	int ret;

	/* The host's count covers the whole run: none in flight at its start */
	bc_rx_stats(c, &rxf0, &rxb0);
	for (;;) {
		for (i = 0; i < BC_CLOCK_EVERY; i++) {
			ret = op(c, buf, len, fl);
			if (ret < 0)
				return ret;
			n += ret;
			total += ret;
		}
		t = bc_now();
		if (!counting && t >= warm_end) {
			counting = true;
			n = 0;
			start = t;
			cpu0 = bc_cpu_ns(0);
			if (o->server_pid) {
				srv0 = bc_cpu_ns(o->server_pid);
				csw0 = bc_csw(o->server_pid);
			}
		} else if (counting && t - start >= o->duration) {
			break;
		}
	}
	r->cpu_ns = bc_cpu_ns(0) - cpu0;
	if (o->server_pid) {
		r->srv_cpu_ns = bc_since(bc_cpu_ns(o->server_pid), srv0);
		r->srv_csw = bc_since(bc_csw(o->server_pid), csw0);
	}
	r->frames = n;
	r->secs = t - start;
	r->written = total;
	if (o->mode != BC_READ)
		bc_rx_settle(c, rxf0, total);
	bc_rx_stats(c, &rxf1, &rxb1);
	r->rx_frames = rxf1 - rxf0;
	r->rx_bytes = rxb1 - rxb0;
	return 0;
}

/**
 * bc_drain() - read what the flood left queued before closing
 * @c:		client
 * @buf:	a buffer of BC_BUF_SIZE bytes
 *
 * cusetap stops reading its kernel TAP while a unit's queue is full, and a
 * close that empties the queue does not start it again: a unit closed with
 * a full queue would be deaf for its next opener. Leaving it not full
 * keeps the next measurement on the same unit honest.
 */
static void bc_drain(struct bc_client *c, uint8_t *buf)
{
	int flags = fcntl(c->fd, F_GETFL), quiet = 0;

	fcntl(c->fd, F_SETFL, flags | O_NONBLOCK);
	while (quiet < 3) {
		if (read(c->fd, buf, BC_BUF_SIZE) > 0) {
			quiet = 0;
			continue;
		}
		quiet++;
		usleep(20 * 1000);		/* the TAP's ring refills it */
	}
	fcntl(c->fd, F_SETFL, flags);
}

static void bc_on_alarm(int sig)
{
	(void)sig;	/* only there to interrupt a read that never returns */
}

/**
 * bc_worker() - one client of a throughput run
 * @o:		options
 * @idx:	worker index
 * @sh:		shared memory
 * @ready:	pipe to say "set up" on ('r') or "failed" ('e')
 * @go:		pipe whose end-of-file is the start signal
 *
 * Return: exit status
 */
static int bc_worker(const struct bc_opts *o, unsigned idx,
		     struct bc_shared *sh, int ready, int go)
{
	struct sigaction sa = { .sa_handler = bc_on_alarm };
	struct bc_result *r = &sh->res[idx];
	struct hp_flow *fl = NULL;
	struct bc_client c;
	pid_t sender = -1;
	size_t len = o->size;
	uint8_t *buf;
	char ch;
	int ret, vnet = 10;
	bc_op op = bc_op_write;

	buf = calloc(1, BC_BUF_SIZE);
	ret = buf ? bc_open(o, idx, &c) : -ENOMEM;
	if (ret)
		goto fail;
	switch (o->mode) {
	case BC_WRITE:
		hp_frame_fill(buf, len, idx);
		break;
	case BC_GSO:
		if (ioctl(c.fd, TAPSVNETHDR, &vnet) < 0) {
			ret = -errno;
			goto fail;
		}
		len = o->size + sizeof(struct virtio_net_hdr);
		bc_gso_frame(buf, len);
		break;
	case BC_READ:
		op = o->poll ? bc_op_poll_read : bc_op_read;
		if (o->target == BC_NULL)
			break;
		fl = &sh->flow[idx];
		sender = fork();
		if (sender < 0) {
			ret = -errno;
			goto fail;
		}
		if (sender == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (o->sender_cpu >= 0) {
				cpu_set_t set;

				CPU_ZERO(&set);
				CPU_SET(o->sender_cpu, &set);
				if (sched_setaffinity(0, sizeof(set), &set))
					_exit(1);
			}
			ret = hp_flood(c.ifname, o->size, o->window, fl);
			fprintf(stderr, "benchclient: flood %s: %s\n",
				c.ifname, strerror(-ret));
			_exit(1);
		}
		break;
	default:
		ret = -EINVAL;
		goto fail;
	}
	if (write(ready, "r", 1) != 1 || read(go, &ch, 1) != 0) {
		ret = -EPIPE;
		goto fail;
	}
	/* A read nobody answers must not hang the bench */
	sigaction(SIGALRM, &sa, NULL);
	alarm((unsigned)(o->warmup + o->duration) + 20);
	ret = bc_timed(o, &c, op, buf, len, fl, r);
	alarm(0);
	if (sender > 0) {
		kill(sender, SIGKILL);
		waitpid(sender, NULL, 0);
		bc_drain(&c, buf);
	}
	if (ret)
		goto fail;
	return 0;

fail:
	r->err = ret;
	fprintf(stderr, "benchclient: %s worker %u: %s\n",
		bc_mode_names[o->mode], idx, strerror(-ret));
	if (write(ready, "e", 1) != 1)
		ret = -EPIPE;
	if (sender > 0)
		kill(sender, SIGKILL);
	return 1;
}

/**
 * bc_throughput() - write, read, gso: run the workers, print the aggregate
 * @o:		options
 *
 * Return: exit status
 */
static int bc_throughput(const struct bc_opts *o)
{
	pid_t pids[BC_MAX_CLIENTS];
	int ready[2], go[2], status, bad = 0;
	uint64_t frames = 0, written = 0, rxf = 0, rxb = 0, cpu = 0;
	double fps = 0, secs = 0;
	struct bc_shared *sh;
	unsigned i;
	char ch;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || pipe(ready) || pipe(go))
		bc_fail("setup", -errno);
	memset(sh, 0, sizeof(*sh));
	for (i = 0; i < o->clients; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			bc_fail("fork", -errno);
		if (pids[i] == 0) {
			close(ready[0]);
			close(go[1]);
			_exit(bc_worker(o, i, sh, ready[1], go[0]));
		}
	}
	close(ready[1]);
	close(go[0]);
	for (i = 0; i < o->clients; i++) {
		if (read(ready[0], &ch, 1) != 1 || ch != 'r') {
			bad = 1;
			break;
		}
	}
	if (bad) {
		for (i = 0; i < o->clients; i++)
			kill(pids[i], SIGKILL);
	}
	close(go[1]);				/* start */
	for (i = 0; i < o->clients; i++) {
		waitpid(pids[i], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			bad = 1;
	}
	if (bad) {
		fprintf(stderr, "benchclient: %s on %s failed\n",
			bc_mode_names[o->mode], bc_target_names[o->target]);
		return 1;
	}

	printf("{\"mode\": \"%s\", \"target\": \"%s\", \"size\": %zu, "
	       "\"clients\": %u, \"per_client_fps\": [",
	       bc_mode_names[o->mode], bc_target_names[o->target], o->size,
	       o->clients);
	for (i = 0; i < o->clients; i++) {
		const struct bc_result *r = &sh->res[i];

		printf("%s%.1f", i ? ", " : "", r->frames / r->secs);
		fps += r->frames / r->secs;
		frames += r->frames;
		written += r->written;
		rxf += r->rx_frames;
		rxb += r->rx_bytes;
		cpu += r->cpu_ns;
		if (r->secs > secs)
			secs = r->secs;
	}
	printf("], \"frames\": %" PRIu64 ", \"seconds\": %.3f, "
	       "\"fps\": %.1f, \"bytes_per_s\": %.1f, \"gbit_s\": %.4f",
	       frames, secs, fps, fps * o->size, fps * o->size * 8 / 1e9);
	/* Of the whole run, warm-up included: what the host got of it */
	if (o->target != BC_NULL && o->mode != BC_READ)
		printf(", \"frames_written\": %" PRIu64
		       ", \"host_rx_frames\": %" PRIu64
		       ", \"host_rx_bytes\": %" PRIu64, written, rxf, rxb);
	/* Per frame: what the clients and the server spent on the CPU */
	printf(", \"client_cpu_us_per_frame\": %.2f", cpu / 1e3 / frames);
	if (o->server_pid)
		printf(", \"server_cpu_us_per_frame\": %.2f, "
		       "\"server_csw_per_frame\": %.3f",
		       sh->res[0].srv_cpu_ns / 1e3 / frames,
		       (double)sh->res[0].srv_csw / frames);
	printf("}\n");
	return 0;
}

static int bc_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/**
 * bc_print_latency() - one JSON line of latency percentiles
 * @o:		options
 * @v:		samples, microseconds, sorted here
 * @n:		how many
 * @srv_ns:	CPU time of the server over all round trips, recorded or not
 * @total:	all round trips
 */
static void bc_print_latency(const struct bc_opts *o, double *v, unsigned n,
			     uint64_t srv_ns, unsigned total)
{
	double sum = 0;
	unsigned i;

	qsort(v, n, sizeof(*v), bc_cmp_double);
	for (i = 0; i < n; i++)
		sum += v[i];
	printf("{\"mode\": \"%s\", \"target\": \"%s\", \"size\": %zu, "
	       "\"iters\": %u, \"min_us\": %.2f, \"p50_us\": %.2f, "
	       "\"p99_us\": %.2f, \"mean_us\": %.2f, \"max_us\": %.2f",
	       bc_mode_names[o->mode], bc_target_names[o->target], o->size, n,
	       v[0], v[n / 2], v[(size_t)(n * 0.99)], sum / n, v[n - 1]);
	if (o->server_pid)
		printf(", \"server_cpu_us_per_rtt\": %.2f", srv_ns / 1e3 / total);
	printf("}\n");
}

/**
 * bc_rtt() - the null device's echo cost: one read, one write
 * @o:		options
 *
 * Return: exit status
 */
static int bc_rtt(const struct bc_opts *o)
{
	struct bc_client c;
	double *v, t0;
	uint64_t srv;
	uint8_t *buf;
	unsigned i;
	int ret;

	v = calloc(o->iters, sizeof(*v));
	buf = calloc(1, BC_BUF_SIZE);
	if (!v || !buf)
		bc_fail("rtt", -ENOMEM);
	ret = bc_open(o, 0, &c);
	if (ret)
		bc_fail(o->dev, ret);
	srv = o->server_pid ? bc_cpu_ns(o->server_pid) : 0;
	for (i = 0; i < BC_RTT_WARMUP + o->iters; i++) {
		t0 = bc_now();
		if (read(c.fd, buf, o->size) < 0)
			bc_fail("read", -errno);
		if (write(c.fd, buf, o->size) < 0)
			bc_fail("write", -errno);
		if (i >= BC_RTT_WARMUP)
			v[i - BC_RTT_WARMUP] = (bc_now() - t0) * 1e6;
	}
	if (o->server_pid)
		srv = bc_cpu_ns(o->server_pid) - srv;
	bc_print_latency(o, v, o->iters, srv, BC_RTT_WARMUP + o->iters);
	return 0;
}

/**
 * bc_echo() - host-side round trips through a client that echoes
 * @o:		options
 *
 * Return: exit status
 */
static int bc_echo(const struct bc_opts *o)
{
	struct bc_client c;
	uint8_t *buf;
	pid_t child;
	uint64_t srv;
	double *v;
	int ret;

	v = calloc(o->iters, sizeof(*v));
	buf = calloc(1, BC_BUF_SIZE);
	if (!v || !buf)
		bc_fail("echo", -ENOMEM);
	ret = bc_open(o, 0, &c);
	if (ret)
		bc_fail(o->dev ? o->dev : "/dev/net/tun", ret);
	child = fork();
	if (child < 0)
		bc_fail("fork", -errno);
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;) {
			ssize_t n = read(c.fd, buf, BC_BUF_SIZE);

			if (n < 0 && errno != EINTR)
				bc_fail("echo read", -errno);
			if (n > 0 && write(c.fd, buf, (size_t)n) != n)
				bc_fail("echo write", n < 0 ? -errno : -EIO);
		}
	}
	srv = o->server_pid ? bc_cpu_ns(o->server_pid) : 0;
	ret = hp_echo(c.ifname, o->size, o->iters, v);
	if (o->server_pid)
		srv = bc_cpu_ns(o->server_pid) - srv;
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	if (ret)
		bc_fail("echo", ret);
	bc_print_latency(o, v, o->iters, srv, HP_ECHO_WARMUP + o->iters);
	return 0;
}

/**
 * bc_vmrss() - a process's resident memory
 * @pid:	process
 * @field:	"VmRSS:" or "VmHWM:"
 *
 * Return: KiB, -1 if unreadable
 */
static long bc_vmrss(pid_t pid, const char *field)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, strlen(field))) {
			kib = strtol(line + strlen(field), NULL, 10);
			break;
		}
	}
	fclose(f);
	return kib;
}

/**
 * bc_rss() - the daemon's memory idle and with --count clones open
 * @o:		options
 *
 * Return: exit status
 */
static int bc_rss(const struct bc_opts *o)
{
	struct rlimit rl = { o->count + 64, o->count + 64 };
	long idle, held, hwm;
	double t0, t_open, t_close;
	unsigned i;
	int *fds;

	if (o->daemon_pid <= 0)
		bc_fail("rss needs --daemon-pid", -EINVAL);
	fds = calloc(o->count, sizeof(*fds));
	if (!fds)
		bc_fail("rss", -ENOMEM);
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		bc_fail("RLIMIT_NOFILE", -errno);
	idle = bc_vmrss(o->daemon_pid, "VmRSS:");
	t0 = bc_now();
	for (i = 0; i < o->count; i++) {
		fds[i] = open(o->dev, O_RDWR | O_CLOEXEC);
		if (fds[i] < 0) {
			fprintf(stderr, "benchclient: clone %u of %u: %s\n",
				i + 1, o->count, strerror(errno));
			return 1;
		}
	}
	t_open = bc_now() - t0;
	usleep(300 * 1000);			/* let the daemon settle */
	held = bc_vmrss(o->daemon_pid, "VmRSS:");
	hwm = bc_vmrss(o->daemon_pid, "VmHWM:");
	t0 = bc_now();
	for (i = 0; i < o->count; i++)
		close(fds[i]);
	t_close = bc_now() - t0;
	if (idle < 0 || held < 0)
		bc_fail("reading the daemon's VmRSS", -ESRCH);
	printf("{\"mode\": \"rss\", \"target\": \"%s\", \"count\": %u, "
	       "\"rss_idle_kib\": %ld, \"rss_kib\": %ld, \"hwm_kib\": %ld, "
	       "\"kib_per_clone\": %.1f, \"open_s\": %.3f, "
	       "\"clones_per_s\": %.1f, \"close_s\": %.3f}\n",
	       bc_target_names[o->target], o->count, idle, held, hwm,
	       (double)(held - idle) / o->count, t_open, o->count / t_open,
	       t_close);
	return 0;
}

static void bc_usage(FILE *f)
{
	fprintf(f,
"usage: benchclient MODE [options]\n"
"  MODE               write | read | gso | rtt | echo | rss\n"
"  --target T         null | native | cusetap | nulltap (default cusetap)\n"
"  --dev PATH         device node to open (null, cusetap, nulltap)\n"
"  --ifname NAME      nulltap: the interface behind DEV\n"
"  --size BYTES       frame length (default 64; gso: 65535)\n"
"  --duration SEC     measured seconds (default 2)\n"
"  --warmup SEC       unmeasured seconds before (default 0.3)\n"
"  --clients N        parallel clients, each its own open (default 1)\n"
"  --iters N          round trips (rtt, echo; default 2000)\n"
"  --count N          clones to hold open (rss; default 1000)\n"
"  --daemon-pid PID   process whose memory to read (rss)\n"
"  --window N         frames the host sender keeps unread (read; 128)\n"
"  --server-pid PID   report this server's CPU time per frame\n"
"  --sender-cpu N     run the host sender on CPU N (read; default: the\n"
"                     client's)\n"
"  --by-name          cusetap: client N opens unit N, DEV + N, by name\n"
"  --poll             read: wait with poll() before each read, as an\n"
"                     event-driven client does\n"
"Prints one JSON line.\n");
}

/**
 * bc_lookup() - index of @s in a table of names
 * @names:	table
 * @n:		its size
 * @s:		name
 *
 * Return: index, -1 if absent
 */
static int bc_lookup(const char *const *names, unsigned n, const char *s)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		if (!strcmp(names[i], s))
			return (int)i;
	}
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "target",	required_argument, NULL, 't' },
		{ "dev",	required_argument, NULL, 'd' },
		{ "ifname",	required_argument, NULL, 'I' },
		{ "size",	required_argument, NULL, 's' },
		{ "duration",	required_argument, NULL, 'D' },
		{ "warmup",	required_argument, NULL, 'W' },
		{ "clients",	required_argument, NULL, 'c' },
		{ "iters",	required_argument, NULL, 'i' },
		{ "count",	required_argument, NULL, 'n' },
		{ "daemon-pid",	required_argument, NULL, 'p' },
		{ "window",	required_argument, NULL, 'w' },
		{ "server-pid",	required_argument, NULL, 'P' },
		{ "sender-cpu",	required_argument, NULL, 'S' },
		{ "by-name",	no_argument,	   NULL, 'N' },
		{ "poll",	no_argument,	   NULL, 'L' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bc_opts o = {
		.target = BC_CUSETAP, .duration = 2, .warmup = 0.3,
		.clients = 1, .iters = 2000, .count = 1000, .window = 128,
		.sender_cpu = -1,
	};
	int ch, m, t;

	while ((ch = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			t = bc_lookup(bc_target_names,
				      BC_NAMES(bc_target_names), optarg);
			if (t < 0)
				goto usage;
			o.target = t;
			break;
		case 'd': o.dev = optarg; break;
		case 'I': o.ifname = optarg; break;
		case 's': o.size = strtoul(optarg, NULL, 0); break;
		case 'D': o.duration = atof(optarg); break;
		case 'W': o.warmup = atof(optarg); break;
		case 'c': o.clients = strtoul(optarg, NULL, 0); break;
		case 'i': o.iters = strtoul(optarg, NULL, 0); break;
		case 'n': o.count = strtoul(optarg, NULL, 0); break;
		case 'p': o.daemon_pid = atoi(optarg); break;
		case 'w': o.window = strtoul(optarg, NULL, 0); break;
		case 'P': o.server_pid = atoi(optarg); break;
		case 'S': o.sender_cpu = atoi(optarg); break;
		case 'N': o.by_name = true; break;
		case 'L': o.poll = true; break;
		case 'h': bc_usage(stdout); return 0;
		default: goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;
	m = bc_lookup(bc_mode_names, BC_NAMES(bc_mode_names), argv[optind]);
	if (m < 0)
		goto usage;
	o.mode = m;
	if (!o.size)
		o.size = o.mode == BC_GSO ? TAPMRU : 64;
	if (o.size < 22 || o.size > TAPMRU || o.duration <= 0 ||
	    o.warmup < 0 || !o.clients || o.clients > BC_MAX_CLIENTS ||
	    !o.iters || !o.count || o.window < 64 ||
	    (o.target != BC_NATIVE && !o.dev) ||
	    (o.poll && o.mode != BC_READ) ||
	    (o.mode == BC_RTT && o.target != BC_NULL) ||
	    (o.mode == BC_ECHO && o.target == BC_NULL) ||
	    ((o.target == BC_NULLTAP) != !!o.ifname) ||
	    (o.target == BC_NULLTAP && o.mode != BC_ECHO) ||
	    (o.mode == BC_GSO && o.target != BC_CUSETAP) ||
	    (o.mode == BC_RSS && o.target != BC_CUSETAP))
		goto usage;
	/* Results go to a pipe: never let a worker inherit unflushed output */
	setvbuf(stdout, NULL, _IOLBF, 0);

	switch (o.mode) {
	case BC_RTT:
		return bc_rtt(&o);
	case BC_ECHO:
		return bc_echo(&o);
	case BC_RSS:
		return bc_rss(&o);
	default:
		return bc_throughput(&o);
	}
usage:
	bc_usage(stderr);
	return 2;
}
