// SPDX-License-Identifier: BSD-2-Clause
/*
 * main.c - cusetap: BSD tap(4) devices for Linux, served over CUSE
 *
 * Checks that the host can do what is asked (CUSE, /dev/net/tun, io_uring)
 * and says what to do when it cannot, starts every device, announces
 * readiness (pidfile, systemd, the waiting parent) once every node can be
 * opened, drops what privileges it no longer needs, starts the other
 * threads' event loops (so that they inherit the confinement), then runs
 * its own until SIGTERM or SIGINT. On the way out the other threads stop
 * first; every parked read is answered, every node and every interface the
 * daemon created is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "cdev.h"
#include "device.h"
#include "log.h"
#include "loop.h"
#include "main.h"
#include "netstack/ktap.h"
#include "options.h"
#include "priv.h"

/**
 * struct daemon - everything the daemon runs
 * @opt:	command line
 * @loops:	event loops, one per thread; [0] is the main thread's
 * @nloops:	how many
 * @kt:		kernel TAP backend, shared by every device
 * @devs:	devices, one per opt.devs
 * @ready_fd:	pipe to the parent waiting for readiness, -1 in foreground
 * @ready:	readiness was reached and announced
 * @sigfd:	signalfd for SIGTERM, SIGINT, SIGHUP
 * @si:		buffer the signal is read into
 * @status:	exit status
 */
struct daemon {
	struct options opt;
	struct loop loops[OPT_MAX_THREADS];
	unsigned nloops;
	struct ktap kt;
	struct device devs[OPT_MAX_DEVICES];
	int ready_fd;
	bool ready;
	int sigfd;
	struct signalfd_siginfo si;
	int status;
};

/**
 * main_check_host() - can this host serve the devices; say what to do if not
 * @d:		daemon
 *
 * Return: 0, -1 after logging why not
 */
static int main_check_host(struct daemon *d)
{
	unsigned i;
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
	for (i = 0; i < d->opt.ndevs; i++) {
		if (device_check(&d->opt.devs[i]))
			return -1;
	}
	return 0;
}

/**
 * main_std_fds() - make sure descriptors 0, 1 and 2 are open
 *
 * Started with one of them closed (cusetap 2>&-), the next file opened
 * would take its number: an io_uring or a /dev/cuse fd would then be
 * written to as stderr, and replaced by /dev/null when the background
 * daemon lets go of its stderr. /dev/null fills the gaps.
 */
static void main_std_fds(void)
{
	int fd;

	do {
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	} while (fd >= 0 && fd <= STDERR_FILENO && fcntl(fd, F_SETFD, 0) == 0);
	if (fd > STDERR_FILENO)
		close(fd);
}

/**
 * main_check_pidfile() - will the pidfile's directory take it
 * @path:	--pidfile, or NULL
 *
 * The pidfile is written at readiness, once every node and interface
 * exists: a directory that cannot take it is better refused before any is
 * made. The check is made with the effective ids and capabilities (the
 * daemon keeps CAP_DAC_OVERRIDE), so what it can still report (no such
 * directory, not a directory, read-only file system) is what would fail
 * then.
 *
 * Return: 0, -1 after logging why not
 */
static int main_check_pidfile(const char *path)
{
	const char *slash;
	char dir[PATH_MAX];
	size_t len;
	int err;

	if (!path)
		return 0;
	/* With its trailing slash, a directory that is a file is ENOTDIR */
	slash = strrchr(path, '/');
	len = slash ? (size_t)(slash - path) + 1 : 0;
	if (len >= sizeof(dir)) {
		log_err("cannot write pidfile %s: %s: choose a shorter --pidfile",
			path, strerror(ENAMETOOLONG));
		return -1;
	}
	if (len) {
		memcpy(dir, path, len);
		dir[len] = '\0';
	} else {
		strcpy(dir, "./");
	}
	if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS)) {
		err = errno;
		log_err("cannot write pidfile %s: %s: %s: %s", path, dir,
			strerror(err), err == ENOENT ?
			"create the directory, or choose another --pidfile" :
			"choose another --pidfile");
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
	struct io_uring_sqe *sqe = loop_sqe(&d->loops[0], LOOP_SIGNAL, d);

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
	d->loops[0].stop = true;
}

/**
 * main_notify() - a systemd notification (sd_notify protocol), if asked for
 * @state:	e.g. "READY=1"
 *
 * Speaks the datagram protocol directly rather than linking libsystemd:
 * one sendto() on the socket named by $NOTIFY_SOCKET ('@' = abstract).
 */
static void main_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sun.sun_path))
		return;
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		   (struct sockaddr *)&sun, len) < 0)
		log_warn("cannot notify %s: %s", path, strerror(errno));
	close(fd);
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
	unsigned i;

	if (d->opt.pidfile) {
		FILE *f = fopen(d->opt.pidfile, "we");

		if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f)) {
			log_err("cannot write pidfile %s: %s", d->opt.pidfile,
				strerror(errno));
			return -1;
		}
	}
	main_notify("READY=1");
	if (d->ready_fd >= 0) {
		/*
		 * The parent exits 0 on the byte: from then on nobody should
		 * wait on the stderr we share with it (a script reading it to
		 * its end would hang), so hand it back first. stdout is
		 * /dev/null since main_background().
		 */
		log_stderr_off();
		dup2(STDOUT_FILENO, STDERR_FILENO);
		if (write(d->ready_fd, &byte, 1) < 0)
			log_warn("cannot notify parent: %s", strerror(errno));
		close(d->ready_fd);
		d->ready_fd = -1;
	}
	for (i = 0; i < d->opt.ndevs; i++) {
		const struct tapdev_config *cfg = &d->opt.devs[i].cfg;

		log_info("/dev/%s ready (%s%s)", cfg->devname,
			 cfg->abi == TAPDEV_ABI_FREEBSD ? "FreeBSD" : "NetBSD",
			 cfg->vmnet ? " vmnet" : "");
	}
	return 0;
}

/**
 * main_idle() - nothing else to do: send the frames held for a batch
 * @arg:	daemon
 */
static void main_idle(void *arg)
{
	struct daemon *d = arg;

	ktap_tx_issue(&d->kt);
}

/**
 * main_start_loops() - give every loop but the main one its thread
 * @d:		daemon, model lock held
 *
 * A loop whose thread cannot start is served by the main one instead.
 */
static void main_start_loops(struct daemon *d)
{
	unsigned i;
	int ret;

	for (i = 1; i < d->nloops; i++) {
		ret = loop_start(&d->loops[i]);
		if (ret)
			log_warn("cannot start thread %u: %s; the main thread "
				 "serves its devices", i, strerror(-ret));
	}
	log_info("%u thread%s serving", d->nloops, d->nloops > 1 ? "s" : "");
}

/**
 * main_after() - after each batch of completions: adoption, readiness
 * @arg:	daemon
 */
static void main_after(void *arg)
{
	struct daemon *d = arg;
	unsigned i;
	int ready = 1;

	ktap_reap(&d->kt);
	if (d->ready)
		return;
	for (i = 0; i < d->opt.ndevs && ready > 0; i++)
		ready = device_ready(&d->devs[i]);
	if (ready < 0) {
		d->status = 1;
		d->loops[0].stop = true;
		return;
	}
	if (!ready)
		return;
	d->ready = true;
	/* Whoever waits for readiness finds the daemon already confined */
	if (priv_drop(d->opt.runas)) {
		d->status = 1;
		d->loops[0].stop = true;
		return;
	}
	main_start_loops(d);
	if (main_announce(d)) {
		d->status = 1;
		d->loops[0].stop = true;
	}
}

/**
 * main_adopt() - a persistent TAP of the host's appeared: offer it around
 * @arg:	daemon
 * @ifname:	its name
 */
static void main_adopt(void *arg, const char *ifname)
{
	struct daemon *d = arg;
	unsigned i;

	for (i = 0; i < d->opt.ndevs; i++)
		device_adopt(&d->devs[i], ifname);
}

/**
 * main_wait_ready() - the parent's part: exit 0 once the child is ready
 * @fd:		read end of the readiness pipe
 * @pid:	the child
 *
 * A child that failed has said why on the stderr we share; what it cannot
 * say is that a signal killed or stopped it, so that is said here.
 */
static __attribute__((noreturn)) void main_wait_ready(int fd, pid_t pid)
{
	char byte;
	int st;

	if (read(fd, &byte, 1) == 1)
		_exit(0);
	/* End of file without the byte: the child is gone */
	if (waitpid(pid, &st, 0) < 0)
		_exit(1);
	if (WIFSIGNALED(st))
		log_err("the daemon died of signal %d (%s) before it was ready: "
			"run it with -f to see where", WTERMSIG(st),
			strsignal(WTERMSIG(st)));
	else if (WIFEXITED(st) && !WEXITSTATUS(st))
		log_err("the daemon was stopped by a signal before it was ready");
	_exit(WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) : 1);
}

/**
 * main_background() - fork; the parent waits until the child is ready
 *
 * The parent exits 0 once the child announced readiness, non-zero if the
 * child failed first, so "cusetap && use /dev/tap" works. Until then the
 * child logs to syslog and to the stderr it shares with the parent, so a
 * start that fails says why where it was started; main_announce() points
 * stderr at /dev/null when it tells the parent.
 *
 * Return: in the child, the write end of the readiness pipe; -1 on error
 */
static int main_background(void)
{
	int p[2], nullfd;
	pid_t pid;

	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nullfd < 0)
		return -1;
	if (pipe2(p, O_CLOEXEC))
		goto out_null;
	pid = fork();
	if (pid < 0)
		goto out_pipe;
	if (pid > 0) {
		close(p[1]);
		main_wait_ready(p[0], pid);
	}
	close(p[0]);
	setsid();
	log_to_syslog();
	/* main_announce() counts on stdout being /dev/null */
	if (dup2(nullfd, STDIN_FILENO) < 0 || dup2(nullfd, STDOUT_FILENO) < 0) {
		close(p[1]);
		goto out_null;
	}
	close(nullfd);
	return p[1];

out_pipe:
	close(p[0]);
	close(p[1]);
out_null:
	close(nullfd);
	return -1;
}

/**
 * main_setup() - create everything
 * @d:		daemon
 *
 * Return: 0, -1 after logging why
 */
static int main_setup(struct daemon *d)
{
	sigset_t mask;
	cpu_set_t cpus;
	unsigned i;
	int ret;

	d->nloops = d->opt.threads;
	if (!d->nloops) {
		d->nloops = 1;
		if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
			d->nloops = (unsigned)CPU_COUNT(&cpus);
		if (d->nloops > OPT_MAX_THREADS)
			d->nloops = OPT_MAX_THREADS;
	}
	for (i = 0; i < d->nloops; i++) {
		ret = loop_init(&d->loops[i], 256);
		if (ret) {
			log_err("io_uring is not available: %s%s",
				strerror(-ret), ret == -EPERM ?
				" (check sysctl kernel.io_uring_disabled)" : "");
			return -1;
		}
		d->loops[i].idle = main_idle;
		d->loops[i].idle_arg = d;
	}
	d->loops[0].after = main_after;
	d->loops[0].after_arg = d;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* FIOASYNC's SIGIO goes to a client's process group, which may be ours */
	signal(SIGIO, SIG_IGN);
	d->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d->sigfd < 0) {
		log_err("signalfd: %s", strerror(errno));
		return -1;
	}
	main_post_signal_read(d);

	ret = ktap_init(&d->kt, &d->loops[0]);
	if (ret) {
		log_err("rtnetlink: %s", strerror(-ret));
		return -1;
	}
	for (i = 0; i < d->opt.ndevs; i++) {
		if (device_start(&d->devs[i], &d->opt.devs[i], &d->loops[0],
				 &d->kt, d->opt.verbose >= 3))
			return -1;
	}
	/* Persistent TAPs the administrator made before we started */
	d->kt.adopt = main_adopt;
	d->kt.adopt_arg = d;
	ktap_scan(&d->kt);
	return 0;
}

/**
 * main_teardown() - answer everyone, remove every node and interface
 * @d:		daemon
 */
static void main_teardown(struct daemon *d)
{
	unsigned i;

	main_notify("STOPPING=1");
	if (!d->loops[0].ready)
		return;		/* nothing was started */
	/*
	 * From here on the main thread is the only one that runs, and reaps
	 * every ring; the others wait to exit (loop_park())
	 */
	for (i = 1; i < d->nloops; i++)
		loop_stop(&d->loops[i]);
	d->kt.adopt = NULL;
	ktap_stop(&d->kt);
	for (i = 0; i < d->opt.ndevs; i++)
		device_stop(&d->devs[i]);
	if (d->sigfd >= 0)
		loop_cancel(&d->loops[0], LOOP_SIGNAL, d);
	if (loop_drain(5000))
		log_warn("exit: some I/O did not complete");
	loop_join_all();
	ktap_fini(&d->kt);
	for (i = d->nloops; i-- > 0;)
		loop_fini(&d->loops[i]);
	if (d->opt.pidfile && d->ready && unlink(d->opt.pidfile) < 0)
		log_debug("pidfile %s: %s", d->opt.pidfile, strerror(errno));
}

int main(int argc, char **argv)
{
	static struct daemon d;
	uint64_t seed;
	unsigned i;
	int ret;

	main_std_fds();
	ret = opt_parse(&d.opt, argc, argv);
	if (ret)
		return ret > 0 ? 0 : 2;
	if (d.opt.verbose >= 1)
		log_threshold = LOG_LVL_INFO;
	if (d.opt.verbose >= 2)
		log_threshold = LOG_LVL_DEBUG;
	seed = main_mac_seed();
	for (i = 0; i < d.opt.ndevs; i++)
		d.opt.devs[i].cfg.mac_seed = seed;
	d.ready_fd = -1;
	d.sigfd = -1;

	if (main_check_host(&d) || priv_check(d.opt.runas) ||
	    main_check_pidfile(d.opt.pidfile))
		return 1;
	main_raise_nofile();
	if (!d.opt.foreground) {
		d.ready_fd = main_background();
		if (d.ready_fd < 0) {
			log_err("cannot go to the background: %s", strerror(errno));
			return 1;
		}
	}
	if (main_setup(&d) || loop_run(&d.loops[0]))
		d.status = 1;
	main_teardown(&d);
	return d.status;
}
