/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctl.h - the control socket cusetapctl talks to, one per device:
 * /run/cusetap/NAME.sock
 */
#ifndef CUSETAP_CTL_H
#define CUSETAP_CTL_H

#include <stdbool.h>
#include <sys/types.h>

#define CTL_DIR		"/run/cusetap"

struct loop;
struct tapdev_ctx;
struct ctl_conn;

/**
 * struct ctl - a device's control socket
 * @loop:	event loop polling it
 * @tap:	device model it reports on
 * @fd:		listening socket, -1 if none
 * @polling:	a poll is in flight
 * @stopping:	closing: do not re-arm
 * @conns:	connections being served
 * @nconns:	how many
 * @path:	socket path
 */
struct ctl {
	struct loop *loop;
	struct tapdev_ctx *tap;
	int fd;
	bool polling;
	bool stopping;
	struct ctl_conn *conns;
	unsigned nconns;
	char path[64];
};

int ctl_open(struct ctl *ctl, struct loop *loop, struct tapdev_ctx *tap);
void ctl_stop(struct ctl *ctl);
void ctl_on_poll(void *obj, int res);
void ctl_on_conn(void *obj, int res);

#endif /* CUSETAP_CTL_H */
