/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fake.h - a recording character-device side and network side, so the
 * device model runs without CUSE or kernel TAPs (unit tests, fuzzing)
 */
#ifndef CUSETAP_TEST_FAKE_H
#define CUSETAP_TEST_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tapdev.h"

struct reply {
	void *req;
	int err;		/* 0 for data */
	size_t len;
	char data[2048];
};

struct fake_port {
	struct tapdev_unit *u;
	bool carrier, up_called, purged;
	unsigned kicks;
};

extern struct reply replies[64];
extern unsigned nreplies;
extern unsigned poll_wakes, poll_drops, nodes, sigios;
extern bool no_room;		/* the character-device side is full */
extern pid_t sigio_owner;
extern struct ns_link next_link;	/* what sync() "learns" */
extern bool sync_applies;
extern struct fake_port *ports[16];
extern unsigned sent, released;
extern size_t sent_len;
extern const char *taken_name;
extern unsigned vnet_hdr_set;
extern uint8_t mac_set[6];
extern uid_t owner_set;
extern const struct tapdev_host fake_host;
extern const struct ns_ops fake_ns;
extern struct tapdev_ctx ctx;

void setup_cfg(enum tapdev_abi abi, bool vmnet);
void setup(enum tapdev_abi abi);
void teardown(void);
void host_sends(struct tapdev_unit *u, const char *data, size_t len);
struct reply *last(void);

#endif /* CUSETAP_TEST_FAKE_H */
