// SPDX-License-Identifier: BSD-2-Clause
/*
 * nullcuse.c - the benchmark's references: a CUSE device that does nothing,
 *		and the simplest CUSE TAP
 *
 * Every read is answered at once with as many bytes as were asked for (up
 * to --frame), every write with "all of it written", every poll with
 * "ready". One thread, libfuse's
 * own receive/process loop: what is left is the bare CUSE round trip that
 * any CUSE daemon pays per call, the floor cusetap is measured against.
 *
 * With --tap IFNAME the device is backed by a kernel TAP of that name,
 * with plain blocking system calls: a write is written to the TAP, a read
 * waits for the TAP's next frame. That is the floor of an echo through a
 * CUSE TAP (the host's frame must be read from a TAP, and the client's
 * written to one, on top of the CUSE round trips), which the null
 * device's read + write alone leaves out. So that a client blocked in
 * read can still be interrupted, as on any tap(4), the read waits for the
 * TAP and the CUSE connection together: a request arriving meanwhile ends
 * it with EINTR. That is its interrupt when the one opener (a second open
 * is refused, as tap(4) does) waits in read, as a blocking client such as
 * the bench's echo does; a client that polls or writes from another
 * thread meanwhile would see its read fail. It is a floor for blocking
 * clients only: O_NONBLOCK is not honoured, and poll says "ready".
 *
 *   nullcuse --name NAME [--frame BYTES] [--tap IFNAME] [--pidfile PATH]
 *
 * The pidfile is written once the node exists (CUSE_INIT answered), so
 * that its appearance means /dev/NAME can be opened. SIGTERM ends it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <cuse_lowlevel.h>

/* Largest write the kernel may send us: a TAPMRU frame and a header, as
 * the daemon allows */
#define NULLCUSE_MAX_WRITE	(65536 + 4096)

/**
 * struct nullcuse - the device's settings
 * @frame:	largest read answer, bytes
 * @pidfile:	written once the node exists, or NULL
 * @data:	what reads return (zeroes), @frame bytes
 * @tap:	the kernel TAP behind the device (--tap), or -1
 * @opened:	with a TAP: the device is open (one opener at a time)
 * @se:		the CUSE session, for its fd
 */
struct nullcuse {
	size_t frame;
	const char *pidfile;
	char *data;
	int tap;
	bool opened;
	struct fuse_session *se;
};

/**
 * nullcuse_init() - CUSE_INIT: accept writes as large as the daemon does
 * @userdata:	device
 * @conn:	connection parameters
 */
static void nullcuse_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->max_write = NULLCUSE_MAX_WRITE;
}

/**
 * nullcuse_init_done() - the node exists: announce readiness
 * @userdata:	device
 */
static void nullcuse_init_done(void *userdata)
{
	struct nullcuse *nc = userdata;
	char tmp[4096];
	FILE *f;

	if (!nc->pidfile)
		return;
	/* Written beside and renamed, so a reader never sees half a pid */
	snprintf(tmp, sizeof(tmp), "%s.tmp", nc->pidfile);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) ||
	    rename(tmp, nc->pidfile)) {
		fprintf(stderr, "nullcuse: cannot write %s: %s\n",
			nc->pidfile, strerror(errno));
		exit(1);
	}
}

static void nullcuse_open(fuse_req_t req, struct fuse_file_info *fi)
{
	struct nullcuse *nc = fuse_req_userdata(req);

	if (nc->tap >= 0 && nc->opened) {
		fuse_reply_err(req, EBUSY);
		return;
	}
	nc->opened = nc->tap >= 0;
	fi->direct_io = 1;
	fi->nonseekable = 1;
	fuse_reply_open(req, fi);
}

static void nullcuse_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct nullcuse *nc = fuse_req_userdata(req);

	nc->opened = false;
	fuse_reply_err(req, 0);
}

/**
 * nullcuse_tap_read() - wait for the TAP's next frame, or an interrupt
 * @nc:		device, with a TAP
 * @req:	the client's read
 * @size:	its size
 */
static void nullcuse_tap_read(struct nullcuse *nc, fuse_req_t req,
			      size_t size)
{
	struct pollfd pfd[2] = {
		{ .fd = nc->tap, .events = POLLIN },
		{ .fd = fuse_session_fd(nc->se), .events = POLLIN },
	};
	ssize_t n;
	int err = 0;

	if (size > nc->frame)
		size = nc->frame;
	while (!err) {
		if (poll(pfd, 2, -1) < 0)
			err = errno;
		else if (pfd[0].revents &&
			 (n = read(nc->tap, nc->data, size)) >= 0)
			break;
		else if (pfd[0].revents && errno != EAGAIN)
			err = errno;
		/* An interface going away: do not spin until it has */
		else if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL))
			err = EIO;
		else if (pfd[1].revents)
			err = EINTR;
	}
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, nc->data, (size_t)n);
}

static void nullcuse_read(fuse_req_t req, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	struct nullcuse *nc = fuse_req_userdata(req);

	if (nc->tap >= 0)
		nullcuse_tap_read(nc, req, size);
	else
		fuse_reply_buf(req, nc->data, size < nc->frame ? size : nc->frame);
}

/**
 * nullcuse_write() - all of it written; with a TAP, to the TAP first
 * @req:	the client's write
 * @buf:	frame
 * @size:	its length
 * @off:	unused
 * @fi:		unused
 *
 * The frame goes to the host before the answer: it is what an echo waits
 * for.
 */
static void nullcuse_write(fuse_req_t req, const char *buf, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	struct nullcuse *nc = fuse_req_userdata(req);

	if (nc->tap >= 0 && write(nc->tap, buf, size) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, size);
}

/**
 * nullcuse_tap_open() - create the kernel TAP behind the device
 * @nc:		device
 * @ifname:	its interface name
 *
 * Return: 0, -errno
 */
static int nullcuse_tap_open(struct nullcuse *nc, const char *ifname)
{
	/* Never someone else's interface of that name */
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_TUN_EXCL };

	if (strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	nc->tap = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (nc->tap < 0)
		return -errno;
	strcpy(ifr.ifr_name, ifname);
	if (ioctl(nc->tap, TUNSETIFF, &ifr) < 0) {
		int ret = -errno;

		close(nc->tap);
		nc->tap = -1;
		return ret;
	}
	return 0;
}

/* Always ready, so no notification is ever due: every poll() of a
 * client is one round trip, as a reading client's poll of a device with a
 * frame waiting is */
static void nullcuse_poll(fuse_req_t req, struct fuse_file_info *fi,
			  struct fuse_pollhandle *ph)
{
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM);
}

static const struct cuse_lowlevel_ops nullcuse_ops = {
	.init		= nullcuse_init,
	.init_done	= nullcuse_init_done,
	.open		= nullcuse_open,
	.release	= nullcuse_release,
	.read		= nullcuse_read,
	.write		= nullcuse_write,
	.poll		= nullcuse_poll,
};

static void nullcuse_usage(FILE *f)
{
	fprintf(f, "usage: nullcuse --name NAME [--frame BYTES] [--tap IFNAME] "
		   "[--pidfile PATH]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name",	required_argument, NULL, 'n' },
		{ "frame",	required_argument, NULL, 'F' },
		{ "pidfile",	required_argument, NULL, 'p' },
		{ "tap",	required_argument, NULL, 't' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* Foreground, single-threaded: the reference is one plain loop */
	char *fuse_argv[] = { argv[0], "-f", "-s", NULL };
	struct nullcuse nc = { .frame = 65536, .tap = -1 };
	char devinfo[128];
	const char *dev_info_argv[] = { devinfo };
	struct cuse_info ci = {
		.dev_info_argc	= 1,
		.dev_info_argv	= dev_info_argv,
	};
	const char *name = NULL, *ifname = NULL;
	struct fuse_session *se;
	int mt, c, ret = 1;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'F':
			nc.frame = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			nc.pidfile = optarg;
			break;
		case 't':
			ifname = optarg;
			break;
		case 'h':
			nullcuse_usage(stdout);
			return 0;
		default:
			nullcuse_usage(stderr);
			return 2;
		}
	}
	if (!name || strchr(name, '/') || !nc.frame ||
	    nc.frame > NULLCUSE_MAX_WRITE) {
		nullcuse_usage(stderr);
		return 2;
	}
	nc.data = calloc(1, nc.frame);
	if (!nc.data)
		goto cleanup;
	if (ifname) {
		int err = nullcuse_tap_open(&nc, ifname);

		if (err) {
			fprintf(stderr, "nullcuse: cannot create TAP %s: %s\n",
				ifname, strerror(-err));
			goto cleanup;
		}
	}
	snprintf(devinfo, sizeof(devinfo), "DEVNAME=%s", name);

	se = cuse_lowlevel_setup(3, fuse_argv, &ci, &nullcuse_ops, &mt, &nc);
	if (!se) {
		fprintf(stderr, "nullcuse: cannot set up /dev/%s (no /dev/cuse? "
				"try 'modprobe cuse')\n", name);
		goto cleanup;
	}
	nc.se = se;
	ret = fuse_session_loop(se) < 0;
	cuse_lowlevel_teardown(se);
	if (nc.pidfile)
		unlink(nc.pidfile);
cleanup:
	if (nc.tap >= 0)
		close(nc.tap);
	free(nc.data);
	return ret;
}
