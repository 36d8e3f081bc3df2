/* SPDX-License-Identifier: BSD-2-Clause */
/* ktap.h - the kernel TAP backend: one Linux TAP interface per unit */
#ifndef CUSETAP_NETSTACK_KTAP_H
#define CUSETAP_NETSTACK_KTAP_H

#include "../loop.h"
#include "backend.h"
#include "rtnl.h"
#include <linux/time_types.h>

struct loop;
struct ktap_port;

/**
 * struct ktap - kernel TAP backend
 * @loop:	event loop that reads every TAP and the rtnetlink socket
 * @rtnl:	rtnetlink context
 * @ports:	live ports
 * @polling:	a poll of the rtnetlink socket is in flight
 * @reap_pending: some port's interface was deleted by the host
 * @scan_pending: an interface appeared that may be one to adopt
 * @rescans:	more scans due, for a TAP that was not persistent yet
 * @timer:	a rescan is scheduled
 * @timeout:	its delay
 * @adopt:	offered each unattached persistent TAP of the host, by name
 * @adopt_arg:	argument of @adopt
 * @stopping:	shutting down: do not re-arm the poll
 * @tx_slots:	copies of small frames on their way to a TAP, KTAP_TX_SLOTS
 * @tx_free:	slots not in use
 * @held:	frames held for the next batch, per loop (by id): each
 *		loop's batch goes out on its own ring (a port's frames are
 *		all in one, struct ktap_port.tx)
 */
struct ktap_tx;

/**
 * struct ktap_held - frames a loop holds for its next batch
 * @head:	oldest first
 * @tail:	where the next one goes
 * @n:		how many
 * @batch:	the loop's batch of completions (struct loop.batches) they
 *		were written in
 * @sent:	frames written in that batch, held or not
 * @sent_before: frames written in the last batch that had any
 */
struct ktap_held {
	struct ktap_tx *head;
	struct ktap_tx **tail;
	unsigned n;
	unsigned long batch;
	unsigned sent;
	unsigned sent_before;
};

struct ktap {
	struct loop *loop;
	struct rtnl rtnl;
	struct ktap_port *ports;
	bool polling;
	bool reap_pending;
	bool scan_pending;
	bool stopping;
	unsigned rescans;
	bool timer;
	struct __kernel_timespec timeout;
	void (*adopt)(void *arg, const char *ifname);
	void *adopt_arg;
	struct ktap_tx *tx_slots;
	struct ktap_tx *tx_free;
	struct ktap_held held[LOOP_MAX];
};

extern const struct ns_ops ktap_ops;

int ktap_init(struct ktap *kt, struct loop *loop);
void ktap_stop(struct ktap *kt);
void ktap_fini(struct ktap *kt);
void ktap_on_read(void *obj, int res);
void ktap_on_write(void *obj, int res);
void ktap_tx_issue(struct ktap *kt);
void ktap_on_rtnl(void *obj, int res);
void ktap_reap(struct ktap *kt);
void ktap_scan(struct ktap *kt);
void ktap_on_scan_timer(void *obj, int res);

#endif /* CUSETAP_NETSTACK_KTAP_H */
