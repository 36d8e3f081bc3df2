// SPDX-License-Identifier: BSD-2-Clause
/*
 * device.c - one BSD device: a cloning node, its units, their interfaces
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "device.h"
#include "log.h"
#include "netstack/ktap.h"

/**
 * device_check() - is the device's name free on this host
 * @opt:	device settings
 *
 * Return: 0, -1 after logging that /dev/NAME exists
 */
int device_check(const struct opt_device *opt)
{
	char path[IFNAMSIZ + 8];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/%s", opt->cfg.devname);
	if (stat(path, &st) == 0) {
		log_err("%s already exists: another cusetap (or driver) has the "
			"name; choose another with --devname", path);
		return -1;
	}
	return 0;
}

/**
 * device_start() - create the cloning node, adopt host TAPs, make --units
 * @dv:		device
 * @opt:	its settings, kept by reference
 * @loop:	event loop
 * @kt:		kernel TAP backend
 * @fuse_debug:	let libfuse trace requests
 *
 * Return: 0, -1 after logging why
 */
int device_start(struct device *dv, const struct opt_device *opt,
		 struct loop *loop, struct ktap *kt, bool fuse_debug)
{
	const char *name = opt->cfg.devname;
	unsigned i;
	int ret;

	memset(dv, 0, sizeof(*dv));
	dv->opt = opt;
	ret = tapdev_init(&dv->tap, &opt->cfg, &cdev_host, &dv->cdev,
			  &ktap_ops, kt);
	if (ret) {
		log_err("%s: device model: %s", name, strerror(-ret));
		return -1;
	}
	dv->cdev.fuse_debug = fuse_debug;
	ret = cdev_init(&dv->cdev, &dv->tap, name);
	if (ret) {
		log_err("cannot create /dev/%s: %s", name, strerror(-ret));
		return -1;
	}
	dv->started = true;
	ret = ctl_open(&dv->ctl, loop, &dv->tap);
	if (ret)
		log_warn("no control socket for /dev/%s: %s", name,
			 strerror(-ret));
	for (i = 0; i < opt->units; i++) {
		struct tapdev_unit *u;

		ret = tapdev_unit_create(&dv->tap, i, &u);
		if (ret == -EEXIST) {
			log_warn("%s%u exists on the host and cannot be adopted: "
				 "unit skipped", name, i);
		} else if (ret && ret != -EBUSY) {
			log_err("cannot create unit %s%u: %s", name, i,
				strerror(-ret));
			return -1;
		}
	}
	return 0;
}

/**
 * device_ready() - have all the device's nodes appeared
 * @dv:		device
 *
 * The kernel creates a CUSE node (devtmpfs) while answering CUSE_INIT, so
 * once no session is pending the nodes exist; that is checked, not assumed.
 *
 * Return: 1 if ready, 0 if not yet, -1 if a node could not be created
 */
int device_ready(struct device *dv)
{
	char path[IFNAMSIZ + 8];
	struct stat st;
	unsigned i;

	if (dv->cdev.failed) {
		log_err("could not create the nodes of /dev/%s: %s",
			dv->opt->cfg.devname, strerror(-dv->cdev.failed));
		return -1;
	}
	if (dv->cdev.unready)
		return 0;
	snprintf(path, sizeof(path), "/dev/%s", dv->opt->cfg.devname);
	if (stat(path, &st))
		return 0;
	for (i = 0; i < dv->tap.nunits; i++) {
		struct tapdev_unit *u = dv->tap.units[i];

		snprintf(path, sizeof(path), "/dev/%s", u ? u->ifname : "");
		if (u && stat(path, &st))
			return 0;
	}
	return 1;
}

/**
 * device_adopt() - a TAP the host administrator created appeared
 * @dv:		device
 * @ifname:	its name
 *
 * If the name is this device's NAME<n> and unit n does not exist, the
 * interface becomes unit n with its node /dev/NAMEn, as BSD's
 * "ifconfig tapN create" makes a unit appear.
 */
void device_adopt(struct device *dv, const char *ifname)
{
	const char *name = dv->opt->cfg.devname;
	size_t len = strlen(name);
	char *end;
	long n;

	if (!dv->started || strncmp(ifname, name, len))
		return;
	if (ifname[len] < '0' || ifname[len] > '9' ||
	    (ifname[len] == '0' && ifname[len + 1]))
		return;
	n = strtol(ifname + len, &end, 10);
	if (*end || n >= tapdev_max_units(&dv->tap) ||
	    tapdev_unit_get(&dv->tap, n))
		return;
	tapdev_unit_adopt(&dv->tap, n);
}

/**
 * device_stop() - answer every client, remove every node and interface
 * @dv:		device
 *
 * Adopted interfaces stay: they were the administrator's.
 */
void device_stop(struct device *dv)
{
	if (!dv->started)
		return;
	ctl_stop(&dv->ctl);
	tapdev_fini(&dv->tap);
	cdev_fini(&dv->cdev);
	dv->started = false;
}
