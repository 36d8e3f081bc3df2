// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_priv.c - what the seccomp filter refuses, and what it must not
 *
 * The daemon drops its privileges before it starts its loop threads, so
 * the filter must let a thread start (the C library tries clone3 first and
 * falls back to clone on ENOSYS) while refusing every way out: a new
 * namespace through clone as well as unshare, the file descriptor mount
 * API as well as mount(2), exec, and x32 numbers that pass the arch test.
 *
 * Each confined run happens in a child, since a filter cannot be removed.
 * Many of these calls need CAP_SYS_ADMIN, which priv_drop() also drops, so
 * an EPERM after priv_drop() alone could be the capability's: the filter is
 * therefore also installed alone, with root's capabilities kept, where an
 * EPERM can only be its own. A first child runs the same calls without the
 * filter, to show they would not be refused otherwise. Root is needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "check.h"
#include "priv.h"
#include "util.h"

int check_failures;

#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT	0x40000000
#endif

/* A system call made with fixed arguments, harmless if it is let through */
struct probe {
	const char *name;
	long nr;
	long arg[5];
	bool fd;	/* on success it returns a file descriptor */
};

/*
 * Junk arguments are enough where the filter looks only at the number:
 * unfiltered, those calls fail with EBADF or EINVAL, never EPERM
 */
static const struct probe probes[] = {
	{ "unshare(CLONE_NEWNET)", SYS_unshare, { CLONE_NEWNET }, false },
	{ "unshare(CLONE_NEWUSER)", SYS_unshare, { CLONE_NEWUSER }, false },
	{ "setns(-1, 0)", SYS_setns, { -1, 0 }, false },
	{ "fsopen(\"tmpfs\")", __NR_fsopen, { (long)"tmpfs", 0 }, true },
	{ "fspick(\"/\")", __NR_fspick, { AT_FDCWD, (long)"/", 0 }, true },
	{ "open_tree(\"/\", OPEN_TREE_CLONE)", __NR_open_tree,
	  { AT_FDCWD, (long)"/", OPEN_TREE_CLONE }, true },
	{ "fsconfig(-1, CREATE)", __NR_fsconfig,
	  { -1, FSCONFIG_CMD_CREATE, 0, 0, 0 }, false },
	{ "fsmount(-1)", __NR_fsmount, { -1, 0, 0 }, true },
	{ "move_mount(-1, -1)", __NR_move_mount,
	  { -1, (long)"", -1, (long)"", 0 }, false },
	{ "mount_setattr(-1)", __NR_mount_setattr,
	  { -1, (long)"", 0, 0, 0 }, false },
#ifdef __x86_64__
	{ "x32 getpid", __X32_SYSCALL_BIT | SYS_getpid, { 0 }, false },
#endif
};

/**
 * probe_run() - make one probe's call
 * @p:		the probe
 *
 * A file descriptor it returns is closed, and a namespace it enters is
 * left behind with the child that made it.
 *
 * Return: 0 if the call succeeded, its errno otherwise
 */
static int probe_run(const struct probe *p)
{
	long ret = syscall(p->nr, p->arg[0], p->arg[1], p->arg[2], p->arg[3],
			   p->arg[4]);

	if (ret < 0)
		return errno;
	if (p->fd)
		close((int)ret);
	return 0;
}

/**
 * probe_run_apart() - make one probe's call in a child of its own
 * @p:		the probe
 *
 * Unfiltered, an unshare() succeeds: the calls after it must not run in
 * the namespace it made.
 *
 * Return: as probe_run(); EIO if the child did not exit
 */
static int probe_run_apart(const struct probe *p)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return errno;
	if (!pid)
		_exit(probe_run(p));
	if (waitpid(pid, &status, 0) != pid)
		return errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : EIO;
}

/**
 * errname() - an errno's name, for messages
 * @err:	errno value, 0 for success
 *
 * Return: "EPERM", ..., or "success"
 */
static const char *errname(int err)
{
	const char *name = err ? strerrorname_np(err) : "success";

	return name ? name : "unknown errno";
}

/**
 * expect_err() - check that a call ended as it should, naming both ends
 * @what:	the call, as the message shows it
 * @got:	0 if it succeeded, its errno otherwise
 * @want:	the same, expected
 */
static void expect_err(const char *what, int got, int want)
{
	if (got == want)
		return;
	fprintf(stderr, "%s: expected %s, got %s\n", what, errname(want),
		errname(got));
	check_failures++;
}

/**
 * reaped() - wait for a child that is to exit at once
 * @pid:	its pid
 *
 * Return: 0 if it exited with status 0, EIO otherwise
 */
static int reaped(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return errno;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : EIO;
}

/**
 * try_clone() - clone(2) as fork does, with @flags added
 * @flags:	clone flags, CLONE_NEW* for instance
 *
 * Return: 0 if a child was made (it has exited), the errno otherwise
 */
static int try_clone(unsigned long flags)
{
	long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);

	if (pid < 0)
		return errno;
	if (!pid)
		_exit(0);
	return reaped((pid_t)pid);
}

/**
 * try_clone3() - clone3(2) as fork would use it, with @flags
 * @flags:	clone flags
 *
 * Return: 0 if a child was made (it has exited), the errno otherwise
 */
static int try_clone3(unsigned long long flags)
{
	struct clone_args args = {
		.flags = flags,
		.exit_signal = SIGCHLD,
	};
	long pid = syscall(__NR_clone3, &args, sizeof(args));

	if (pid < 0)
		return errno;
	if (!pid)
		_exit(0);
	return reaped((pid_t)pid);
}

/**
 * try_exec() - execute /bin/true, in a child so that success is harmless
 *
 * Return: 0 if it ran, the errno of execve otherwise
 */
static int try_exec(void)
{
	char *const argv[] = { "true", NULL };
	char *const envp[] = { NULL };
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return errno;
	if (!pid) {
		execve("/bin/true", argv, envp);
		_exit(errno);
	}
	if (waitpid(pid, &status, 0) != pid)
		return errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : EIO;
}

/**
 * thread_main() - a thread that only says it ran
 * @arg:	flag to set
 *
 * Return: NULL
 */
static void *thread_main(void *arg)
{
	*(bool *)arg = true;
	return NULL;
}

/**
 * try_thread() - start a thread the way the loops are started, and join it
 *
 * Return: 0 if it ran, an errno otherwise
 */
static int try_thread(void)
{
	bool ran = false;
	pthread_t t;
	int ret;

	ret = pthread_create(&t, NULL, thread_main, &ran);
	if (ret)
		return ret;
	ret = pthread_join(t, NULL);
	if (ret)
		return ret;
	return ran ? 0 : EIO;
}

/**
 * seccomp_mode() - the calling thread's seccomp mode, from /proc
 *
 * Return: 0 none, 1 strict, 2 filter; -1 if it cannot be read
 */
static int seccomp_mode(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	int mode = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	fclose(f);
	return mode;
}

/**
 * in_child() - run @fn in a child and count its failures as ours
 * @fn:		the checks, on the child's own check_failures
 */
static void in_child(void (*fn)(void))
{
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "fork: %s\n", strerror(errno));
		check_failures++;
		return;
	}
	if (!pid) {
		fn();
		fflush(NULL);
		_exit(check_failures ? 1 : 0);
	}
	if (waitpid(pid, &status, 0) != pid ||
	    !WIFEXITED(status) || WEXITSTATUS(status)) {
		if (WIFSIGNALED(status))
			fprintf(stderr, "child: expected exit 0, got signal "
				"%d\n", WTERMSIG(status));
		check_failures++;
	}
}

/**
 * expect_confined() - what any confined process must and must not do
 *
 * Holds after priv_seccomp() alone and after priv_drop() alike: the
 * filter answers EPERM before any capability check is reached.
 */
static void expect_confined(void)
{
	unsigned i;

	CHECK_EQ(seccomp_mode(), 2);
	/* What the daemon does after priv_drop(): threads, and fork */
	expect_err("pthread_create", try_thread(), 0);
	expect_err("clone(SIGCHLD)", try_clone(0), 0);
	/* What it must not */
	expect_err("clone(CLONE_NEWUSER)", try_clone(CLONE_NEWUSER), EPERM);
	expect_err("clone(CLONE_NEWUSER|CLONE_NEWNS)",
		   try_clone(CLONE_NEWUSER | CLONE_NEWNS), EPERM);
	expect_err("clone(CLONE_NEWNET)", try_clone(CLONE_NEWNET), EPERM);
	expect_err("clone3(0)", try_clone3(0), ENOSYS);
	expect_err("clone3(CLONE_NEWUSER)", try_clone3(CLONE_NEWUSER), ENOSYS);
	expect_err("execve(\"/bin/true\")", try_exec(), EPERM);
	for (i = 0; i < ARRAY_SIZE(probes); i++)
		expect_err(probes[i].name, probe_run(&probes[i]), EPERM);
}

/**
 * note_unfiltered() - say which calls are refused here even unfiltered
 *
 * Without the filter, as root, none of them is refused with EPERM, so
 * the checks that follow would see any hole. Another sandbox around this
 * test may refuse some: the test then proves less, and says so, but that
 * is not the daemon's failure.
 */
static void note_unfiltered(void)
{
	unsigned i;
	int err;

	err = try_clone(CLONE_NEWUSER | CLONE_NEWNS);
	if (err)
		printf("note: clone(CLONE_NEWUSER|CLONE_NEWNS) fails here "
		       "unfiltered (%s)\n", errname(err));
	err = try_clone3(0);
	if (err)
		printf("note: clone3 fails here unfiltered (%s): the "
		       "library's fallback is tested anyway\n", errname(err));
	for (i = 0; i < ARRAY_SIZE(probes); i++) {
		err = probe_run_apart(&probes[i]);
		if (err == EPERM)
			printf("note: %s is refused here even unfiltered: its "
			       "EPERM below proves less\n", probes[i].name);
	}
}

static void filter_alone(void)
{
	CHECK_EQ(priv_seccomp(), 0);
	expect_confined();
}

/* The filter alone, with root's capabilities: every EPERM is its own */
static void test_filter_alone(void)
{
	in_child(filter_alone);
}

static void drop_as_main(void)
{
	/* main.c: priv_drop(d->opt.runas), NULL without --runas */
	CHECK_EQ(priv_drop(NULL), 0);
	expect_confined();
}

/* As the daemon runs without --runas */
static void test_priv_drop(void)
{
	in_child(drop_as_main);
}

static void drop_to_nobody(void)
{
	struct passwd *pw = getpwnam("nobody");

	CHECK_EQ(priv_drop("nobody"), 0);
	CHECK_EQ(getuid(), pw->pw_uid);
	expect_confined();
}

/* As the daemon runs with --runas nobody */
static void test_priv_drop_runas(void)
{
	in_child(drop_to_nobody);
}

int main(void)
{
	if (geteuid()) {
		printf("skip: priv_drop() keeps capabilities only root has; "
		       "run as root\n");
		return 77;
	}
	note_unfiltered();
	RUN(test_filter_alone);
	RUN(test_priv_drop);
	if (getpwnam("nobody"))
		RUN(test_priv_drop_runas);
	else
		printf("skip: test_priv_drop_runas, no user 'nobody'\n");
	return check_failures ? 1 : 0;
}
