/* SPDX-License-Identifier: BSD-2-Clause */
/* rtnl.h - rtnetlink: link state, link flags, addresses (libmnl) */
#ifndef CUSETAP_NETSTACK_RTNL_H
#define CUSETAP_NETSTACK_RTNL_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"

struct mnl_socket;

/**
 * struct rtnl - two rtnetlink sockets
 * @req:	requests, each answered (acked) before the call returns
 * @ev:		non-blocking, subscribed to link notifications
 * @seq:	sequence number of the last request
 * @buf:	receive buffer, large enough for a dump batch
 */
struct rtnl {
	struct mnl_socket *req;
	struct mnl_socket *ev;
	unsigned seq;
	uint8_t buf[32768];
};

/**
 * typedef rtnl_link_fn - called for each link notification
 * @arg:	caller's argument
 * @ifindex:	interface index
 * @gone:	the interface was deleted
 * @link:	its state (when not @gone)
 */
typedef void (*rtnl_link_fn)(void *arg, int ifindex, bool gone,
			     const struct ns_link *link);

int rtnl_open(struct rtnl *r);
void rtnl_close(struct rtnl *r);
int rtnl_ev_fd(const struct rtnl *r);
int rtnl_link_get(struct rtnl *r, int ifindex, struct ns_link *link);
int rtnl_link_dump(struct rtnl *r, rtnl_link_fn fn, void *arg);
int rtnl_link_set_flags(struct rtnl *r, int ifindex, unsigned change,
			unsigned flags);
int rtnl_link_set_mtu(struct rtnl *r, int ifindex, unsigned mtu);
int rtnl_addr_flush(struct rtnl *r, int ifindex);
int rtnl_events(struct rtnl *r, rtnl_link_fn fn, void *arg);

#endif /* CUSETAP_NETSTACK_RTNL_H */
