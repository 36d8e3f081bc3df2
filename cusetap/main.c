// SPDX-License-Identifier: BSD-2-Clause
/*
 * main.c - cusetap: BSD tap(4) devices for Linux, served over CUSE
 *
 * Parses options, checks that the host can do what is asked (CUSE,
 * /dev/net/tun, io_uring) and says what to do when it cannot, creates the
 * cloning node and the --units, writes the pidfile once every node can be
 * opened, then runs the event loop until SIGTERM or SIGINT. On the way out
 * every parked read is answered, every node and every interface created is
 * removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include "config.h"
#include "cdev.h"
#include "log.h"
#include "loop.h"
#include "main.h"
#include "netstack/ktap.h"
#include "tapdev.h"

/* Room left in IFNAMSIZ for the unit number (up to TAPDEV_MAX_UNITS - 1) */
#define MAIN_DEVNAME_MAX	(IFNAMSIZ - 1 - 5)

/**
 * struct daemon - everything the daemon runs
 * @loop:	event loop
 * @kt:		kernel TAP backend
 * @tap:	device model
 * @cdev:	CUSE sessions
 * @cfg:	device model configuration
 * @pidfile:	path written at readiness, or NULL
 * @units:	units created at start
 * @ready_fd:	pipe to the parent waiting for readiness, -1 in foreground
 * @ready:	readiness was reached and announced
 * @sigfd:	signalfd for SIGTERM, SIGINT, SIGHUP
 * @si:		buffer the signal is read into
 * @status:	exit status
 */
struct daemon {
	struct loop loop;
	struct ktap kt;
	struct tapdev_ctx tap;
	struct cdev_ctx cdev;
	struct tapdev_config cfg;
	const char *pidfile;
	unsigned units;
	int ready_fd;
	bool ready;
	int sigfd;
	struct signalfd_siginfo si;
	int status;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: cusetap [OPTION]...\n"
"Serve BSD tap(4) devices through CUSE, backed by Linux kernel TAPs.\n"
"\n"
"  -f, --foreground     stay in the foreground\n"
"      --devname NAME   cloning device /dev/NAME, units /dev/NAMEn and\n"
"                       interfaces NAMEn (default: tap)\n"
"      --abi FLAVOUR    freebsd (default) or netbsd semantics\n"
"      --pidfile PATH   write the pid here once every node can be opened\n"
"      --units N        create units 0..N-1 at start\n"
"      --vmnet          FreeBSD vmnet semantics (implied by --devname vmnet)\n"
"      --up-on-open     bring the interface up on open (FreeBSD's\n"
"                       net.link.tap.up_on_open)\n"
"  -v, --verbose        more logging (repeat for debug, thrice for libfuse)\n"
"  -h, --help           this help\n"
"      --version        print the version\n");
}

/**
 * main_devname_ok() - a device name we can turn into paths and interfaces
 * @name:	candidate
 *
 * Lower-case letters first, then letters, digits or '_', short enough for
 * IFNAMSIZ with a unit number: nothing that could escape /dev, and no
 * trailing digit that would make "tap1" + "2" ambiguous.
 *
 * Return: true if acceptable
 */
static bool main_devname_ok(const char *name)
{
	size_t i, len = strlen(name);

	if (!len || len > MAIN_DEVNAME_MAX || name[0] < 'a' || name[0] > 'z')
		return false;
	for (i = 1; i < len; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '_'))
			return false;
	}
	return !(name[len - 1] >= '0' && name[len - 1] <= '9');
}

/**
 * main_parse() - command line into the daemon's settings
 * @d:		daemon
 * @argc:	argument count
 * @argv:	arguments
 * @fg:		set when --foreground was given
 *
 * Return: 0, 1 to exit successfully (help, version), -1 on a usage error
 */
static int main_parse(struct daemon *d, int argc, char **argv, bool *fg)
{
	enum { OPT_DEVNAME = 256, OPT_ABI, OPT_PIDFILE, OPT_UNITS, OPT_VMNET,
	       OPT_UP_ON_OPEN, OPT_VERSION };
	static const struct option opts[] = {
		{ "foreground",	no_argument,		NULL, 'f' },
		{ "devname",	required_argument,	NULL, OPT_DEVNAME },
		{ "abi",	required_argument,	NULL, OPT_ABI },
		{ "pidfile",	required_argument,	NULL, OPT_PIDFILE },
		{ "units",	required_argument,	NULL, OPT_UNITS },
		{ "vmnet",	no_argument,		NULL, OPT_VMNET },
		{ "up-on-open",	no_argument,		NULL, OPT_UP_ON_OPEN },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	unsigned verbose = 0;
	char *end;
	long n;
	int c;

	while ((c = getopt_long(argc, argv, "fvh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			*fg = true;
			break;
		case OPT_DEVNAME:
			d->cfg.devname = optarg;
			break;
		case OPT_ABI:
			if (!strcmp(optarg, "freebsd")) {
				d->cfg.abi = TAPDEV_ABI_FREEBSD;
			} else if (!strcmp(optarg, "netbsd")) {
				d->cfg.abi = TAPDEV_ABI_NETBSD;
			} else {
				log_err("--abi: '%s' is neither freebsd nor netbsd",
					optarg);
				return -1;
			}
			break;
		case OPT_PIDFILE:
			d->pidfile = optarg;
			break;
		case OPT_UNITS:
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || *end || n < 0 || n > TAPDEV_MAX_UNITS) {
				log_err("--units: '%s' is not a number from 0 to %d",
					optarg, TAPDEV_MAX_UNITS);
				return -1;
			}
			d->units = n;
			break;
		case OPT_VMNET:
			d->cfg.vmnet = true;
			break;
		case OPT_UP_ON_OPEN:
			d->cfg.up_on_open = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case OPT_VERSION:
			printf("cusetap %s\n", CUSETAP_VERSION);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (!main_devname_ok(d->cfg.devname)) {
		log_err("--devname: '%s' is not a usable device name: use 1 to %d "
			"lower-case letters, digits or '_', starting with a letter "
			"and not ending with a digit", d->cfg.devname,
			MAIN_DEVNAME_MAX);
		return -1;
	}
	/* FreeBSD's vmnet devices are a cloner of their own name */
	if (!strcmp(d->cfg.devname, "vmnet"))
		d->cfg.vmnet = true;
	if (verbose >= 1)
		log_threshold = LOG_LVL_INFO;
	if (verbose >= 2)
		log_threshold = LOG_LVL_DEBUG;
	d->cdev.fuse_debug = verbose >= 3;
	return 0;
}

/**
 * main_check_host() - can this host serve the devices; say what to do if not
 * @d:		daemon
 *
 * Return: 0, -1 after logging why not
 */
static int main_check_host(struct daemon *d)
{
	char path[IFNAMSIZ + 8];
	struct stat st;
	int fd, ret;

	ret = cdev_probe();
	if (ret == -ENODEV) {
		log_err("CUSE is not available (no /dev/cuse): modprobe cuse, "
			"or run under scripts/vm");
		return -1;
	}
	if (ret) {
		log_err("cannot open /dev/cuse: %s: run as root", strerror(-ret));
		return -1;
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		log_err("cannot open /dev/net/tun: %s: %s", strerror(errno),
			errno == ENOENT ? "modprobe tun" : "run as root");
		return -1;
	}
	close(fd);
	snprintf(path, sizeof(path), "/dev/%s", d->cfg.devname);
	if (stat(path, &st) == 0) {
		log_err("%s already exists: another cusetap (or driver) has the "
			"name; choose another with --devname", path);
		return -1;
	}
	return 0;
}

/**
 * main_mac_seed() - the host identity FreeBSD-style MACs are derived from
 *
 * FreeBSD hashes its hostuuid; the Linux equivalent is /etc/machine-id.
 * Without one, addresses are still unique per unit, only not stable across
 * daemon restarts.
 *
 * Return: a 64-bit seed
 */
static uint64_t main_mac_seed(void)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	char id[64] = "";
	FILE *f = fopen("/etc/machine-id", "re");
	const char *p;

	if (f) {
		if (!fgets(id, sizeof(id), f))
			id[0] = '\0';
		fclose(f);
	}
	if (!id[0] && getrandom(&h, sizeof(h), 0) != sizeof(h))
		h ^= (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	for (p = id; *p && *p != '\n'; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	return h;
}

/**
 * main_raise_nofile() - one descriptor per node and per TAP: lift the limit
 */
static void main_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/**
 * main_post_signal_read() - keep a read of the signalfd posted
 * @d:		daemon
 */
static void main_post_signal_read(struct daemon *d)
{
	struct io_uring_sqe *sqe = loop_sqe(&d->loop, LOOP_SIGNAL, d);

	io_uring_prep_read(sqe, d->sigfd, &d->si, sizeof(d->si), 0);
}

/**
 * main_on_signal() - SIGTERM, SIGINT, SIGHUP: leave the loop
 * @obj:	daemon
 * @res:	bytes read, or -errno
 */
void main_on_signal(void *obj, int res)
{
	struct daemon *d = obj;

	if (res == -ECANCELED)
		return;
	if (res != sizeof(d->si)) {
		main_post_signal_read(d);
		return;
	}
	log_info("signal %u: exiting", d->si.ssi_signo);
	d->loop.stop = true;
}

/**
 * main_nodes_exist() - every node we announced can be found in /dev
 * @d:		daemon
 *
 * The kernel creates a CUSE node (devtmpfs) while answering CUSE_INIT, so
 * this normally holds at once; it is checked rather than assumed.
 *
 * Return: true if all exist
 */
static bool main_nodes_exist(struct daemon *d)
{
	char path[IFNAMSIZ + 8];
	struct stat st;
	unsigned i;

	snprintf(path, sizeof(path), "/dev/%s", d->cfg.devname);
	if (stat(path, &st))
		return false;
	for (i = 0; i < d->units; i++) {
		struct tapdev_unit *u = tapdev_unit_get(&d->tap, i);

		if (!u)
			continue;
		snprintf(path, sizeof(path), "/dev/%s", u->ifname);
		if (stat(path, &st))
			return false;
	}
	return true;
}

/**
 * main_announce() - tell the world the devices are ready
 * @d:		daemon
 *
 * Return: 0, -1 if the pidfile could not be written
 */
static int main_announce(struct daemon *d)
{
	char byte = 0;

	if (d->pidfile) {
		FILE *f = fopen(d->pidfile, "w");

		if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f)) {
			log_err("cannot write pidfile %s: %s", d->pidfile,
				strerror(errno));
			return -1;
		}
	}
	if (d->ready_fd >= 0) {
		if (write(d->ready_fd, &byte, 1) < 0)
			log_warn("cannot notify parent: %s", strerror(errno));
		close(d->ready_fd);
		d->ready_fd = -1;
	}
	log_info("/dev/%s ready (%s flavour)", d->cfg.devname,
		 d->cfg.abi == TAPDEV_ABI_FREEBSD ? "FreeBSD" : "NetBSD");
	return 0;
}

/**
 * main_after() - after each batch of completions: readiness, failures
 * @arg:	daemon
 */
static void main_after(void *arg)
{
	struct daemon *d = arg;

	ktap_reap(&d->kt);
	if (d->ready)
		return;
	if (d->cdev.failed) {
		log_err("could not create the device nodes: %s",
			strerror(-d->cdev.failed));
		d->status = 1;
		d->loop.stop = true;
		return;
	}
	if (d->cdev.unready || !main_nodes_exist(d))
		return;
	d->ready = true;
	if (main_announce(d)) {
		d->status = 1;
		d->loop.stop = true;
	}
}

/**
 * main_background() - fork; the parent waits until the child is ready
 *
 * The parent exits 0 once the child announced readiness, 1 if the child
 * failed first, so "cusetap && use /dev/tap" works.
 *
 * Return: in the child, the write end of the readiness pipe; -1 on error
 */
static int main_background(void)
{
	int p[2];
	char byte;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &byte, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	setsid();
	if (!freopen("/dev/null", "r", stdin) ||
	    !freopen("/dev/null", "w", stdout))
		log_warn("cannot redirect stdio: %s", strerror(errno));
	return p[1];
}

/**
 * main_setup() - create everything; on failure, undo nothing (exit does)
 * @d:		daemon
 *
 * Return: 0, -1 after logging why
 */
static int main_setup(struct daemon *d)
{
	sigset_t mask;
	unsigned i;
	int ret;

	ret = loop_init(&d->loop, 256);
	if (ret) {
		log_err("io_uring is not available: %s%s", strerror(-ret),
			ret == -EPERM ? " (check sysctl kernel.io_uring_disabled)"
				      : "");
		return -1;
	}
	d->loop.after = main_after;
	d->loop.after_arg = d;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d->sigfd < 0) {
		log_err("signalfd: %s", strerror(errno));
		return -1;
	}
	main_post_signal_read(d);

	ret = ktap_init(&d->kt, &d->loop);
	if (ret) {
		log_err("rtnetlink: %s", strerror(-ret));
		return -1;
	}
	ret = tapdev_init(&d->tap, &d->cfg, &cdev_host, &d->cdev, &ktap_ops,
			  &d->kt);
	if (ret) {
		log_err("device model: %s", strerror(-ret));
		return -1;
	}
	ret = cdev_init(&d->cdev, &d->loop, &d->tap, d->cfg.devname);
	if (ret) {
		log_err("cannot create /dev/%s: %s", d->cfg.devname,
			strerror(-ret));
		return -1;
	}
	for (i = 0; i < d->units; i++) {
		struct tapdev_unit *u;

		ret = tapdev_unit_create(&d->tap, i, &u);
		if (ret == -EEXIST) {
			log_warn("%s%u exists on the host already: unit skipped",
				 d->cfg.devname, i);
		} else if (ret) {
			log_err("cannot create unit %u: %s", i, strerror(-ret));
			return -1;
		}
	}
	return 0;
}

/**
 * main_teardown() - answer everyone, remove every node and interface
 * @d:		daemon
 */
static void main_teardown(struct daemon *d)
{
	ktap_stop(&d->kt);
	tapdev_fini(&d->tap);
	cdev_fini(&d->cdev);
	loop_cancel(&d->loop, LOOP_SIGNAL, d);
	if (loop_drain(&d->loop, 5000))
		log_warn("exit: some I/O did not complete");
	ktap_fini(&d->kt);
	loop_fini(&d->loop);
	if (d->pidfile && d->ready)
		unlink(d->pidfile);
}

int main(int argc, char **argv)
{
	static struct daemon d;
	bool fg = false;
	int ret;

	d.cfg.devname = "tap";
	d.cfg.abi = TAPDEV_ABI_FREEBSD;
	d.cfg.queue_len = TAPDEV_QUEUE_LEN;
	d.cfg.mac_seed = main_mac_seed();
	d.ready_fd = -1;
	d.sigfd = -1;

	ret = main_parse(&d, argc, argv, &fg);
	if (ret)
		return ret > 0 ? 0 : 2;
	if (main_check_host(&d))
		return 1;
	main_raise_nofile();
	if (!fg) {
		d.ready_fd = main_background();
		if (d.ready_fd < 0) {
			log_err("cannot go to the background: %s", strerror(errno));
			return 1;
		}
	}
	if (main_setup(&d) == 0)
		loop_run(&d.loop);
	else
		d.status = 1;
	main_teardown(&d);
	return d.status;
}
