// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_loop.c - the event loops' threads, on real io_uring rings
 *
 * A loop thread whose ring fails can no longer serve its sessions: their
 * clients would hang. It must stop the daemon, as a failure of loop 0
 * would, even while loop 0 sleeps with nothing else to wake it. No system
 * test can make a ring fail on demand; here the ring's fd is taken away.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

#include "cdev.h"
#include "check.h"
#include "ctl.h"
#include "loop.h"
#include "main.h"
#include "netstack/ktap.h"

int check_failures;

/* The loop's handlers: no request of theirs is ever posted here */
void cdev_on_read(void *obj, int res) { (void)obj; (void)res; }
void ctl_on_poll(void *obj, int res) { (void)obj; (void)res; }
void ctl_on_conn(void *obj, int res) { (void)obj; (void)res; }
void main_on_signal(void *obj, int res) { (void)obj; (void)res; }
void ktap_on_read(void *obj, int res) { (void)obj; (void)res; }
void ktap_on_write(void *obj, int res) { (void)obj; (void)res; }
void ktap_on_rtnl(void *obj, int res) { (void)obj; (void)res; }
void ktap_on_scan_timer(void *obj, int res) { (void)obj; (void)res; }

static struct loop l0, l1;

/**
 * break_loop1() - once both loops sleep, make loop 1's next enter fail
 * @arg:	unused
 *
 * Return: NULL
 */
static void *break_loop1(void *arg)
{
	(void)arg;
	usleep(300 * 1000);
	loop_lock();
	/* Wake loop 1 with a no-op; its next io_uring_enter gets EBADF */
	io_uring_prep_nop(loop_sqe(&l1, LOOP_CANCEL, NULL));
	io_uring_submit(&l1.ring);
	l1.ring.ring_fd = -1;
	loop_unlock();
	return NULL;
}

static void on_alarm(int sig)
{
	static const char msg[] = "loop 0 was not stopped within 3 s of "
				  "loop 1's failure: expected it to return\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(1);
}

static void test_failed_thread_stops_loop0(void)
{
	pthread_t t;
	int ret;

	loop_lock();
	CHECK_EQ(loop_start(&l1), 0);
	loop_unlock();
	CHECK_EQ(pthread_create(&t, NULL, break_loop1, NULL), 0);
	signal(SIGALRM, on_alarm);
	alarm(3);
	ret = loop_run(&l0);
	alarm(0);
	/* loop 0 returns the failed thread's error */
	CHECK_EQ(ret, -EBADF);
	pthread_join(t, NULL);
}

int main(void)
{
	int ret = loop_init(&l0, 8);

	if (!ret)
		ret = loop_init(&l1, 8);
	if (ret) {
		fprintf(stderr, "io_uring: %s\n", strerror(-ret));
		return 1;
	}
	RUN(test_failed_thread_stops_loop0);
	return check_failures ? 1 : 0;
}
