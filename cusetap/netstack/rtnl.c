// SPDX-License-Identifier: BSD-2-Clause
/*
 * rtnl.c - rtnetlink: link state, link flags, addresses
 *
 * Requests go over one socket and wait for their acknowledgement, so when a
 * call returns the kernel has applied it. Link notifications arrive on a
 * second, non-blocking socket that the event loop polls; rtnl_events()
 * drains it, and is also called just before a decision that depends on the
 * link state. Every message from the kernel is read through libmnl's
 * bounds-checked attribute accessors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <net/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "../log.h"
#include "../util.h"
#include "rtnl.h"

/**
 * rtnl_open() - open the request and notification sockets
 * @r:		rtnetlink context
 *
 * Return: 0, or -errno
 */
int rtnl_open(struct rtnl *r)
{
	int fd, ret;

	memset(r, 0, sizeof(*r));
	r->seq = (unsigned)time(NULL);
	r->req = mnl_socket_open(NETLINK_ROUTE);
	if (!r->req)
		return -errno;
	if (mnl_socket_bind(r->req, 0, MNL_SOCKET_AUTOPID) < 0)
		goto err;
	r->ev = mnl_socket_open(NETLINK_ROUTE);
	if (!r->ev)
		goto err;
	if (mnl_socket_bind(r->ev, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0)
		goto err;
	fd = mnl_socket_get_fd(r->ev);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		goto err;
	return 0;
err:
	ret = -errno;
	rtnl_close(r);
	return ret;
}

/**
 * rtnl_close() - close both sockets
 * @r:		rtnetlink context
 */
void rtnl_close(struct rtnl *r)
{
	if (r->ev)
		mnl_socket_close(r->ev);
	if (r->req)
		mnl_socket_close(r->req);
	r->ev = r->req = NULL;
}

/**
 * rtnl_ev_fd() - the notification socket, for the event loop to poll
 * @r:		rtnetlink context
 *
 * Return: file descriptor
 */
int rtnl_ev_fd(const struct rtnl *r)
{
	return mnl_socket_get_fd(r->ev);
}

/**
 * rtnl_do() - send a request, run @cb on each answer until done or acked
 * @r:		rtnetlink context
 * @nlh:	request; its sequence number is set here
 * @cb:		libmnl data callback, or NULL
 * @data:	its argument
 *
 * Messages of other sequence numbers (what is left of an earlier request
 * that failed half-way) are skipped, and after an error the rest of this
 * request's answer is still read: the socket never gets out of step, or
 * every later request would read an earlier one's answer.
 *
 * Return: 0, or -errno from the kernel's answer (-EINTR: a dump was
 *	   interrupted by a change, try again)
 */
static int rtnl_do(struct rtnl *r, struct nlmsghdr *nlh, mnl_cb_t cb,
		   void *data)
{
	unsigned portid = mnl_socket_get_portid(r->req);
	unsigned seq = ++r->seq;
	int err = 0;

	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(r->req, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		const struct nlmsghdr *m;
		int len, ret;

		len = mnl_socket_recvfrom(r->req, r->buf, sizeof(r->buf));
		if (len < 0)
			return -errno;
		for (m = (struct nlmsghdr *)r->buf; mnl_nlmsg_ok(m, len);
		     m = mnl_nlmsg_next(m, &len)) {
			if (m->nlmsg_seq != seq)
				continue;
			ret = mnl_cb_run(m, m->nlmsg_len, seq, portid,
					 err ? NULL : cb, data);
			if (ret < 0 && !err)
				err = errno ? -errno : -EPROTO;
			/* The answer ends with an ack, an error or DONE */
			if (ret <= MNL_CB_STOP && (m->nlmsg_type == NLMSG_ERROR ||
						   m->nlmsg_type == NLMSG_DONE ||
						   !(m->nlmsg_flags & NLM_F_MULTI)))
				return err;
		}
	}
}

/**
 * rtnl_linkinfo_attr() - the kind of link, from IFLA_LINKINFO
 * @attr:	nested attribute
 * @data:	struct ns_link to fill
 *
 * Return: MNL_CB_OK
 */
static int rtnl_linkinfo_attr(const struct nlattr *attr, void *data)
{
	struct ns_link *link = data;

	if (mnl_attr_get_type(attr) == IFLA_INFO_KIND &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		link->tun = !strcmp(mnl_attr_get_str(attr), "tun");
	return MNL_CB_OK;
}

/**
 * rtnl_link_attr() - collect the attributes of a link message we use
 * @attr:	attribute
 * @data:	struct ns_link to fill
 *
 * Return: MNL_CB_OK
 */
static int rtnl_link_attr(const struct nlattr *attr, void *data)
{
	struct ns_link *link = data;

	switch (mnl_attr_get_type(attr)) {
	case IFLA_MTU:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			link->mtu = mnl_attr_get_u32(attr);
		break;
	case IFLA_IFNAME:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			snprintf(link->name, sizeof(link->name), "%s",
				 mnl_attr_get_str(attr));
		break;
	case IFLA_ADDRESS:
		if (mnl_attr_get_payload_len(attr) == sizeof(link->mac))
			memcpy(link->mac, mnl_attr_get_payload(attr),
			       sizeof(link->mac));
		break;
	case IFLA_LINKINFO:
		if (mnl_attr_validate(attr, MNL_TYPE_NESTED) == 0)
			mnl_attr_parse_nested(attr, rtnl_linkinfo_attr, link);
		break;
	}
	return MNL_CB_OK;
}

/**
 * rtnl_link_parse() - state of a link from an RTM_NEWLINK message
 * @nlh:	message
 * @ifindex:	set to its interface index
 * @link:	filled in
 *
 * Return: 0, -EINVAL if the message is too short
 */
static int rtnl_link_parse(const struct nlmsghdr *nlh, int *ifindex,
			   struct ns_link *link)
{
	const struct ifinfomsg *ifi;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifi)))
		return -EINVAL;
	ifi = mnl_nlmsg_get_payload(nlh);
	*ifindex = ifi->ifi_index;
	memset(link, 0, sizeof(*link));
	link->flags = ifi->ifi_flags;
	mnl_attr_parse(nlh, sizeof(*ifi), rtnl_link_attr, link);
	return 0;
}

struct rtnl_get {
	int ifindex;
	struct ns_link *link;
	bool found;
};

/**
 * rtnl_link_get_cb() - answer to RTM_GETLINK
 * @nlh:	message
 * @data:	struct rtnl_get
 *
 * Return: MNL_CB_OK
 */
static int rtnl_link_get_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rtnl_get *g = data;
	int ifindex;

	if (nlh->nlmsg_type == RTM_NEWLINK &&
	    !rtnl_link_parse(nlh, &ifindex, g->link) && ifindex == g->ifindex)
		g->found = true;
	return MNL_CB_OK;
}

/**
 * rtnl_link_req() - start a link request in @buf
 * @buf:	MNL_SOCKET_BUFFER_SIZE bytes
 * @type:	RTM_GETLINK or RTM_NEWLINK
 * @flags:	NLM_F_* besides NLM_F_REQUEST
 * @ifindex:	interface, 0 for all (dumps)
 * @ifi:	set to the request's struct ifinfomsg
 *
 * Return: the message, ready for attributes
 */
static struct nlmsghdr *rtnl_link_req(char *buf, uint16_t type, uint16_t flags,
				      int ifindex, struct ifinfomsg **ifi)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	*ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(**ifi));
	(*ifi)->ifi_family = AF_UNSPEC;
	(*ifi)->ifi_index = ifindex;
	return nlh;
}

/**
 * rtnl_link_get() - current state of one interface
 * @r:		rtnetlink context
 * @ifindex:	interface index
 * @link:	filled in
 *
 * Return: 0, -ENODEV if it does not exist, -errno
 */
int rtnl_link_get(struct rtnl *r, int ifindex, struct ns_link *link)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct rtnl_get g = { .ifindex = ifindex, .link = link };
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh;
	int ret;

	/* The ack ends the answer: without it, rtnl_do() would wait on */
	nlh = rtnl_link_req(buf, RTM_GETLINK, NLM_F_ACK, ifindex, &ifi);
	ret = rtnl_do(r, nlh, rtnl_link_get_cb, &g);
	if (ret)
		return ret;
	return g.found ? 0 : -ENODEV;
}

/**
 * struct rtnl_links - where link messages go
 * @fn:		called for each
 * @arg:	its argument
 */
struct rtnl_links {
	rtnl_link_fn fn;
	void *arg;
};

/**
 * rtnl_links_cb() - one link, from a dump or a notification
 * @nlh:	RTM_NEWLINK or RTM_DELLINK
 * @data:	struct rtnl_links
 *
 * Return: MNL_CB_OK
 */
static int rtnl_links_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rtnl_links *l = data;
	struct ns_link link;
	int ifindex;

	if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
		return MNL_CB_OK;
	if (rtnl_link_parse(nlh, &ifindex, &link))
		return MNL_CB_OK;
	l->fn(l->arg, ifindex, nlh->nlmsg_type == RTM_DELLINK, &link);
	return MNL_CB_OK;
}

/**
 * rtnl_link_dump() - every interface of the host, one call each
 * @r:		rtnetlink context
 * @fn:		called for each link (never with gone set)
 * @arg:	its argument
 *
 * @fn must not issue rtnetlink requests: the dump is still being read.
 *
 * Return: 0, -errno
 */
int rtnl_link_dump(struct rtnl *r, rtnl_link_fn fn, void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct rtnl_links d = { .fn = fn, .arg = arg };
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh;

	nlh = rtnl_link_req(buf, RTM_GETLINK, NLM_F_DUMP, 0, &ifi);
	return rtnl_do(r, nlh, rtnl_links_cb, &d);
}

/**
 * rtnl_link_set_flags() - change interface flags
 * @r:		rtnetlink context
 * @ifindex:	interface index
 * @change:	IFF_* flags to change
 * @flags:	their new values
 *
 * Return: 0, -errno
 */
int rtnl_link_set_flags(struct rtnl *r, int ifindex, unsigned change,
			unsigned flags)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh;

	nlh = rtnl_link_req(buf, RTM_NEWLINK, NLM_F_ACK, ifindex, &ifi);
	ifi->ifi_change = change;
	ifi->ifi_flags = flags & change;
	return rtnl_do(r, nlh, NULL, NULL);
}

/**
 * rtnl_link_set_mtu() - set the MTU
 * @r:		rtnetlink context
 * @ifindex:	interface index
 * @mtu:	new MTU
 *
 * Return: 0, -errno (-EINVAL for a value the device refuses)
 */
int rtnl_link_set_mtu(struct rtnl *r, int ifindex, unsigned mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh;

	nlh = rtnl_link_req(buf, RTM_NEWLINK, NLM_F_ACK, ifindex, &ifi);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return rtnl_do(r, nlh, NULL, NULL);
}

#define RTNL_FLUSH_BATCH	32
#define RTNL_ADDR_MSG_MAX	256

struct rtnl_flush {
	int ifindex;
	unsigned n;
	uint8_t msgs[RTNL_FLUSH_BATCH][RTNL_ADDR_MSG_MAX];
};

/**
 * rtnl_addr_collect() - keep a copy of each address of the interface
 * @nlh:	RTM_NEWADDR message from the dump
 * @data:	struct rtnl_flush
 *
 * Return: MNL_CB_OK
 */
static int rtnl_addr_collect(const struct nlmsghdr *nlh, void *data)
{
	struct rtnl_flush *fl = data;
	const struct ifaddrmsg *ifa;

	if (nlh->nlmsg_type != RTM_NEWADDR ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifa)) ||
	    nlh->nlmsg_len > RTNL_ADDR_MSG_MAX)
		return MNL_CB_OK;
	ifa = mnl_nlmsg_get_payload(nlh);
	if ((int)ifa->ifa_index != fl->ifindex || fl->n == RTNL_FLUSH_BATCH)
		return MNL_CB_OK;
	memcpy(fl->msgs[fl->n++], nlh, nlh->nlmsg_len);
	return MNL_CB_OK;
}

/**
 * rtnl_addr_flush() - remove every address of an interface, like BSD's
 *		       if_purgeaddrs()
 * @r:		rtnetlink context
 * @ifindex:	interface index
 *
 * Addresses are dumped, then each is deleted by echoing its own message
 * back as RTM_DELADDR; repeated while the dump still finds some.
 *
 * Return: 0, -errno
 */
int rtnl_addr_flush(struct rtnl *r, int ifindex)
{
	struct rtnl_flush fl;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned round, i;
	int ret;

	for (round = 0; round < 64; round++) {
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		struct ifaddrmsg *ifa;

		nlh->nlmsg_type = RTM_GETADDR;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
		ifa->ifa_family = AF_UNSPEC;
		fl.ifindex = ifindex;
		fl.n = 0;
		ret = rtnl_do(r, nlh, rtnl_addr_collect, &fl);
		if (ret == -EINTR)
			continue;	/* addresses changed during the dump */
		if (ret)
			return ret;
		if (!fl.n)
			return 0;
		for (i = 0; i < fl.n; i++) {
			nlh = (struct nlmsghdr *)fl.msgs[i];
			nlh->nlmsg_type = RTM_DELADDR;
			nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
			ret = rtnl_do(r, nlh, NULL, NULL);
			/* gone already (e.g. IPv6 on link down) is fine */
			if (ret && ret != -EADDRNOTAVAIL && ret != -ENODEV)
				return ret;
		}
	}
	return -EAGAIN;
}

/**
 * rtnl_events() - handle every pending link notification
 * @r:		rtnetlink context
 * @fn:		called for each
 * @arg:	its argument
 *
 * Return: 0 when drained, -ENOBUFS if notifications were lost (the caller
 *	   must re-read the state it cares about), -errno
 */
int rtnl_events(struct rtnl *r, rtnl_link_fn fn, void *arg)
{
	struct rtnl_links ev = { .fn = fn, .arg = arg };
	int ret;

	for (;;) {
		ret = mnl_socket_recvfrom(r->ev, r->buf, sizeof(r->buf));
		if (ret < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (mnl_cb_run(r->buf, ret, 0, 0, rtnl_links_cb, &ev) < 0)
			return -errno;
	}
}
