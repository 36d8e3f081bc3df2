/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * device.h - one BSD device: a cloning node, its units, their interfaces
 *
 * Ties a device model (tapdev) to its CUSE sessions (cdev); every device of
 * the daemon shares the event loop and the network backend.
 */
#ifndef CUSETAP_DEVICE_H
#define CUSETAP_DEVICE_H

#include <stdbool.h>

#include "cdev.h"
#include "ctl.h"
#include "options.h"
#include "tapdev.h"

struct loop;
struct ktap;

/**
 * struct device - one served device
 * @opt:	its settings
 * @tap:	device model
 * @cdev:	CUSE sessions
 * @ctl:	control socket
 * @started:	device_start() succeeded
 */
struct device {
	const struct opt_device *opt;
	struct tapdev_ctx tap;
	struct cdev_ctx cdev;
	struct ctl ctl;
	bool started;
};

int device_check(const struct opt_device *opt);
int device_start(struct device *dv, const struct opt_device *opt,
		 struct loop *loop, struct ktap *kt, bool fuse_debug);
int device_ready(struct device *dv);
void device_adopt(struct device *dv, const char *ifname);
void device_stop(struct device *dv);

#endif /* CUSETAP_DEVICE_H */
