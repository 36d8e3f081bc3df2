// SPDX-License-Identifier: BSD-2-Clause
/*
 * ctl.c - the control socket: what cusetapctl shows
 *
 * A stream socket per device, /run/cusetap/NAME.sock, mode 0660 and owned
 * by the device's owner and group; on top of that only root and the
 * device's owner (SO_PEERCRED) are answered. A request is one line:
 *
 *   list [json]		every unit
 *   show UNIT [json]		one unit
 *
 * and the answer is a text table (or JSON), after which the connection is
 * closed. Connections are served by the event loop like everything else:
 * the receive and the sends are io_uring operations, each bounded by a
 * linked timeout, so a slow client holds nothing but its own connection.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <net/if.h>

#include "ctl.h"
#include "log.h"
#include "loop.h"
#include "tapdev.h"

/**
 * struct ctl_out - a growing answer buffer
 * @buf:	text
 * @len:	bytes used
 * @cap:	bytes allocated
 * @oom:	an allocation failed: the answer is incomplete
 */
struct ctl_out {
	char *buf;
	size_t len, cap;
	bool oom;
};

/**
 * ctl_printf() - append to the answer
 * @o:		answer
 * @fmt:	printf format
 */
static void __attribute__((format(printf, 2, 3)))
ctl_printf(struct ctl_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		char *grown;

		va_start(ap, fmt);
		n = vsnprintf(o->buf ? o->buf + o->len : NULL,
			      o->buf ? o->cap - o->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0 || o->oom)
			return;
		if (o->buf && o->len + n < o->cap) {
			o->len += n;
			return;
		}
		grown = realloc(o->buf, (o->cap + n + 1) * 2);
		if (!grown) {
			o->oom = true;	/* o->buf is freed with the answer */
			return;
		}
		o->buf = grown;
		o->cap = (o->cap + n + 1) * 2;
	}
}

/**
 * ctl_unit() - one unit, as a JSON object or a table row
 * @o:		answer
 * @u:		unit
 * @json:	JSON rather than text
 * @first:	first of a JSON list
 */
static void ctl_unit(struct ctl_out *o, const struct tapdev_unit *u, bool json,
		     bool first)
{
	const struct tapdev_file *f = u->opener;
	const uint8_t *m = u->link.mac;
	char mac[18];

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
		 m[0], m[1], m[2], m[3], m[4], m[5]);
	if (!json) {
		ctl_printf(o, "%-6u /dev/%-11s %-15s %-17s %5u %-4s %-5s %7d %6d "
			   "%5u %10llu %8llu %10llu %8llu%s\n",
			   u->num, u->ifname, tapdev_ifname(u), mac, u->link.mtu,
			   u->link.flags & IFF_UP ? "up" : "down",
			   f ? "open" : "-", f ? (int)f->pid : 0,
			   f ? (int)f->uid : -1, u->rxq.count,
			   (unsigned long long)u->stats.rx,
			   (unsigned long long)u->stats.rx_drop,
			   (unsigned long long)u->stats.tx,
			   (unsigned long long)u->stats.tx_drop,
			   u->adopted ? " adopted" : "");
		return;
	}
	ctl_printf(o, "%s{\"unit\": %u, \"node\": \"/dev/%s\", "
		   "\"interface\": \"%s\", \"mac\": \"%s\", \"mtu\": %u, "
		   "\"flags\": {\"up\": %s, \"promisc\": %s, \"running\": %s}, "
		   "\"open\": %s, \"pid\": %d, \"uid\": %d, \"queue\": %u, "
		   "\"vnet_hdr\": %u, \"transient\": %s, \"adopted\": %s, "
		   "\"rx\": %llu, \"rx_drop\": %llu, \"tx\": %llu, "
		   "\"tx_drop\": %llu}",
		   first ? "" : ", ", u->num, u->ifname, tapdev_ifname(u), mac,
		   u->link.mtu, u->link.flags & IFF_UP ? "true" : "false",
		   u->link.flags & IFF_PROMISC ? "true" : "false",
		   u->link.flags & IFF_RUNNING ? "true" : "false",
		   f ? "true" : "false", f ? (int)f->pid : 0,
		   f ? (int)f->uid : -1, u->rxq.count, u->vnet_hdr,
		   u->transient ? "true" : "false",
		   u->adopted ? "true" : "false",
		   (unsigned long long)u->stats.rx,
		   (unsigned long long)u->stats.rx_drop,
		   (unsigned long long)u->stats.tx,
		   (unsigned long long)u->stats.tx_drop);
}

/**
 * ctl_answer() - answer one request line
 * @ctl:	control socket
 * @req:	the request, NUL-terminated
 * @o:		answer
 */
static void ctl_answer(struct ctl *ctl, char *req, struct ctl_out *o)
{
	struct tapdev_ctx *c = ctl->tap;
	char *cmd, *arg, *save = NULL;
	bool json = false, one = false, first = true;
	unsigned n, num = 0;

	cmd = strtok_r(req, " \t\r\n", &save);
	arg = strtok_r(NULL, " \t\r\n", &save);
	if (cmd && !strcmp(cmd, "show") && arg) {
		char *end;
		long v = strtol(arg, &end, 10);

		if (*end || v < 0 || !tapdev_unit_get(c, v)) {
			ctl_printf(o, "error: no unit %s\n", arg);
			return;
		}
		one = true;
		num = v;
		arg = strtok_r(NULL, " \t\r\n", &save);
	} else if (!cmd || strcmp(cmd, "list")) {
		ctl_printf(o, "error: unknown request (list|show UNIT) [json]\n");
		return;
	}
	json = arg && !strcmp(arg, "json");
	if (json)
		ctl_printf(o, "{\"device\": \"/dev/%s\", \"abi\": \"%s\", "
			   "\"units\": [", c->cfg.devname,
			   c->cfg.abi == TAPDEV_ABI_FREEBSD ? "freebsd" : "netbsd");
	else
		ctl_printf(o, "%-6s %-16s %-15s %-17s %5s %-4s %-5s %7s %6s %5s "
			   "%10s %8s %10s %8s\n", "UNIT", "NODE", "INTERFACE",
			   "MAC", "MTU", "LINK", "OPEN", "PID", "UID", "QUEUE",
			   "RX", "RX_DROP", "TX", "TX_DROP");
	for (n = 0; n < c->nunits; n++) {
		const struct tapdev_unit *u = c->units[n];

		if (!u || (one && n != num))
			continue;
		ctl_unit(o, u, json, first);
		first = false;
	}
	if (json)
		ctl_printf(o, "]}\n");
}

#define CTL_MAX_CONNS	16
#define CTL_IO_TIMEOUT_S	1

/**
 * struct ctl_conn - one client of the control socket
 * @next:	next connection of the socket
 * @ctl:	control socket
 * @fd:		connection
 * @out:	the answer
 * @off:	bytes of it sent
 * @timeout:	how long one receive or send may take
 * @req:	the request line
 */
struct ctl_conn {
	struct ctl_conn *next;
	struct ctl *ctl;
	int fd;
	struct ctl_out out;
	size_t off;
	struct __kernel_timespec timeout;
	char req[128];
};

/**
 * ctl_conn_end() - close a connection and forget it
 * @c:		connection, nothing in flight
 */
static void ctl_conn_end(struct ctl_conn *c)
{
	struct ctl_conn **pp;

	for (pp = &c->ctl->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	c->ctl->nconns--;
	close(c->fd);
	free(c->out.buf);
	free(c);
}

/**
 * ctl_conn_io() - receive the request, or send (more of) the answer,
 *		   bounded in time
 * @c:		connection
 */
static void ctl_conn_io(struct ctl_conn *c)
{
	struct loop *l = c->ctl->loop;
	struct io_uring_sqe *sqe = loop_sqe_linked(l, LOOP_CTL_CONN, c);

	if (!c->out.buf)
		io_uring_prep_recv(sqe, c->fd, c->req, sizeof(c->req) - 1, 0);
	else
		io_uring_prep_send(sqe, c->fd, c->out.buf + c->off,
				   c->out.len - c->off, MSG_NOSIGNAL);
	loop_link(sqe);
	c->timeout.tv_sec = CTL_IO_TIMEOUT_S;
	c->timeout.tv_nsec = 0;
	io_uring_prep_link_timeout(loop_sqe(l, LOOP_CANCEL, NULL), &c->timeout,
				   0);
}

/**
 * ctl_on_conn() - a connection's receive or send completed
 * @obj:	connection
 * @res:	bytes, or -errno (-ECANCELED: too slow, or shutting down)
 */
void ctl_on_conn(void *obj, int res)
{
	struct ctl_conn *c = obj;

	if (res <= 0 || c->ctl->stopping) {
		ctl_conn_end(c);
		return;
	}
	if (!c->out.buf) {
		c->req[res] = '\0';
		ctl_answer(c->ctl, c->req, &c->out);
		if (c->out.oom || !c->out.len) {
			ctl_conn_end(c);
			return;
		}
	} else {
		c->off += res;
		if (c->off == c->out.len) {
			ctl_conn_end(c);
			return;
		}
	}
	ctl_conn_io(c);
}

/**
 * ctl_accept() - take a connection: root's or the device owner's only
 * @ctl:	control socket
 * @fd:		accepted connection, owned from here on
 */
static void ctl_accept(struct ctl *ctl, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct ctl_conn *c;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
	    (cred.uid != 0 && cred.uid != ctl->tap->cfg.owner)) {
		log_info("%s: refused uid %d", ctl->path, (int)cred.uid);
		close(fd);
		return;
	}
	if (ctl->nconns == CTL_MAX_CONNS || !(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->fd = fd;
	c->next = ctl->conns;
	ctl->conns = c;
	ctl->nconns++;
	ctl_conn_io(c);
}

/**
 * ctl_poll() - arm a poll of the listening socket
 * @ctl:	control socket
 */
static void ctl_poll(struct ctl *ctl)
{
	struct io_uring_sqe *sqe;

	if (ctl->polling || ctl->stopping || ctl->fd < 0)
		return;
	sqe = loop_sqe(ctl->loop, LOOP_CTL, ctl);
	io_uring_prep_poll_add(sqe, ctl->fd, POLLIN);
	ctl->polling = true;
}

/**
 * ctl_on_poll() - connections are waiting
 * @obj:	control socket
 * @res:	poll result
 */
void ctl_on_poll(void *obj, int res)
{
	struct ctl *ctl = obj;
	int fd;

	ctl->polling = false;
	if (ctl->stopping) {
		close(ctl->fd);
		ctl->fd = -1;
		return;
	}
	while ((fd = accept4(ctl->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		ctl_accept(ctl, fd);
	ctl_poll(ctl);
}

/**
 * ctl_open() - create /run/cusetap/NAME.sock
 * @ctl:	control socket
 * @loop:	event loop
 * @tap:	device model to report on
 *
 * Return: 0, -errno
 */
int ctl_open(struct ctl *ctl, struct loop *loop, struct tapdev_ctx *tap)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const struct tapdev_config *cfg = &tap->cfg;
	int ret;

	memset(ctl, 0, sizeof(*ctl));
	ctl->loop = loop;
	ctl->tap = tap;
	ctl->fd = -1;
	snprintf(ctl->path, sizeof(ctl->path), CTL_DIR "/%s.sock", cfg->devname);
	if (mkdir(CTL_DIR, 0755) && errno != EEXIST)
		return -errno;
	unlink(ctl->path);	/* a stale one: /dev/NAME was free, so it is */
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0)
		return -errno;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", ctl->path);
	if (bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    chmod(ctl->path, 0660) ||
	    ((cfg->owner != (uid_t)-1 || cfg->group != (gid_t)-1) &&
	     chown(ctl->path, cfg->owner, cfg->group)) ||
	    listen(ctl->fd, 16)) {
		ret = -errno;
		close(ctl->fd);
		ctl->fd = -1;
		unlink(ctl->path);
		return ret;
	}
	ctl_poll(ctl);
	return 0;
}

/**
 * ctl_stop() - stop answering and remove the socket
 * @ctl:	control socket
 *
 * The fd is closed once the poll in flight is cancelled (ctl_on_poll).
 */
void ctl_stop(struct ctl *ctl)
{
	struct ctl_conn *c;

	if (ctl->fd < 0)
		return;
	ctl->stopping = true;
	unlink(ctl->path);
	for (c = ctl->conns; c; c = c->next)
		loop_cancel(ctl->loop, LOOP_CTL_CONN, c);
	if (ctl->polling) {
		loop_cancel(ctl->loop, LOOP_CTL, ctl);
	} else {
		close(ctl->fd);
		ctl->fd = -1;
	}
}
