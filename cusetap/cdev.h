/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cdev.h - the character-device side: one CUSE session per device node
 *
 * The cloning node /dev/NAME and every unit's /dev/NAMEn are CUSE devices,
 * each with its own /dev/cuse file descriptor, read by the event loop. The
 * CUSE callbacks are thin: they forward to the device model (tapdev.h).
 */
#ifndef CUSETAP_CDEV_H
#define CUSETAP_CDEV_H

#include <stdbool.h>

#include "tapdev.h"

struct cdev_node;

/**
 * struct cdev_ctx - every CUSE session of the daemon
 * @tap:	device model the callbacks forward to
 * @nodes:	live nodes
 * @cloner:	the cloning node
 * @unready:	nodes whose CUSE initialisation has not completed
 * @failed:	a node could not be initialised (-errno), 0 if none
 * @major:	device major of the cloner, shared by every unit node
 * @cloner_ready: the cloner's node exists (and @major is known)
 * @fuse_debug:	let libfuse log every request
 * @free_rreqs:	reads of the frame path not in use (cdev.c)
 * @clones:	files opened through the cloner and not closed yet
 */
struct cdev_rreq;

struct cdev_ctx {
	struct tapdev_ctx *tap;
	struct cdev_node *nodes;
	struct cdev_node *cloner;
	unsigned unready;
	int failed;
	unsigned major;
	bool cloner_ready;
	bool fuse_debug;
	struct cdev_rreq *free_rreqs;
	unsigned clones;
};

extern const struct tapdev_host cdev_host;

int cdev_init(struct cdev_ctx *cc, struct tapdev_ctx *tap, const char *devname);
void cdev_fini(struct cdev_ctx *cc);
int cdev_probe(void);
void cdev_on_read(void *obj, int res);

#endif /* CUSETAP_CDEV_H */
