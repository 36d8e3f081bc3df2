// SPDX-License-Identifier: BSD-2-Clause
/*
 * nullcuse.c - the benchmark's reference: a CUSE device that does nothing
 *
 * Every read is answered at once with as many bytes as were asked for (up
 * to --frame), every write with "all of it written", every poll with
 * "ready". One thread, libfuse's
 * own receive/process loop: what is left is the bare CUSE round trip that
 * any CUSE daemon pays per call, the floor cusetap is measured against.
 *
 *   nullcuse --name NAME [--frame BYTES] [--pidfile PATH]
 *
 * The pidfile is written once the node exists (CUSE_INIT answered), so
 * that its appearance means /dev/NAME can be opened. SIGTERM ends it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
 */
struct nullcuse {
	size_t frame;
	const char *pidfile;
	char *data;
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
	fi->direct_io = 1;
	fi->nonseekable = 1;
	fuse_reply_open(req, fi);
}

static void nullcuse_read(fuse_req_t req, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	struct nullcuse *nc = fuse_req_userdata(req);

	fuse_reply_buf(req, nc->data, size < nc->frame ? size : nc->frame);
}

static void nullcuse_write(fuse_req_t req, const char *buf, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	fuse_reply_write(req, size);
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
	.read		= nullcuse_read,
	.write		= nullcuse_write,
	.poll		= nullcuse_poll,
};

static void nullcuse_usage(FILE *f)
{
	fprintf(f, "usage: nullcuse --name NAME [--frame BYTES] "
		   "[--pidfile PATH]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name",	required_argument, NULL, 'n' },
		{ "frame",	required_argument, NULL, 'F' },
		{ "pidfile",	required_argument, NULL, 'p' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* Foreground, single-threaded: the reference is one plain loop */
	char *fuse_argv[] = { argv[0], "-f", "-s", NULL };
	struct nullcuse nc = { .frame = 65536 };
	char devinfo[128];
	const char *dev_info_argv[] = { devinfo };
	struct cuse_info ci = {
		.dev_info_argc	= 1,
		.dev_info_argv	= dev_info_argv,
	};
	const char *name = NULL;
	struct fuse_session *se;
	int mt, c, ret;

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
		return 1;
	snprintf(devinfo, sizeof(devinfo), "DEVNAME=%s", name);

	se = cuse_lowlevel_setup(3, fuse_argv, &ci, &nullcuse_ops, &mt, &nc);
	if (!se) {
		fprintf(stderr, "nullcuse: cannot set up /dev/%s (no /dev/cuse? "
				"try 'modprobe cuse')\n", name);
		return 1;
	}
	ret = fuse_session_loop(se);
	cuse_lowlevel_teardown(se);
	if (nc.pidfile)
		unlink(nc.pidfile);
	free(nc.data);
	return ret < 0 ? 1 : 0;
}
