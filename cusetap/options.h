/* SPDX-License-Identifier: BSD-2-Clause */
/* options.h - the daemon's command line */
#ifndef CUSETAP_OPTIONS_H
#define CUSETAP_OPTIONS_H

#include <stdbool.h>
#include <sys/types.h>

#include "tapdev.h"

#define OPT_MAX_DEVICES	16
/* Threads at most, each with its own event loop (LOOP_MAX) */
#define OPT_MAX_THREADS	16

/**
 * struct opt_device - one BSD device to serve
 * @cfg:	its device model configuration (cfg.devname points into argv
 *		or into @name)
 * @units:	units created at start
 * @name:	storage for a name given in a --device spec
 */
struct opt_device {
	struct tapdev_config cfg;
	unsigned units;
	char name[IFNAMSIZ];
};

/**
 * struct options - everything the command line says
 * @foreground:	stay in the foreground, log to stderr
 * @pidfile:	written at readiness, or NULL
 * @runas:	user to run as after setup, or NULL
 * @verbose:	-v count
 * @threads:	threads serving the devices, each with its own event loop;
 *		0 for one per CPU the daemon may run on
 * @devs:	devices, at least one
 * @ndevs:	number of devices
 */
struct options {
	bool foreground;
	const char *pidfile;
	const char *runas;
	int verbose;
	unsigned threads;
	struct opt_device devs[OPT_MAX_DEVICES];
	unsigned ndevs;
};

int opt_parse(struct options *o, int argc, char **argv);
bool opt_devname_ok(const char *name);

#endif /* CUSETAP_OPTIONS_H */
