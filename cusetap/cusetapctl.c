// SPDX-License-Identifier: BSD-2-Clause
/*
 * cusetapctl.c - ask a running cusetap about its units
 *
 *   cusetapctl [--devname NAME] list [--json]
 *   cusetapctl [--devname NAME] show UNIT [--json]
 *
 * Talks to /run/cusetap/NAME.sock, which only root and the device's owner
 * may use; prints the daemon's answer as it comes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "ctl.h"
#include "options.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: cusetapctl [--devname NAME] list [--json]\n"
		   "       cusetapctl [--devname NAME] show UNIT [--json]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "devname",	required_argument,	NULL, 'd' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *devname = "tap", *cmd, *unit = NULL;
	char req[64], buf[4096];
	bool json = false;
	ssize_t n;
	int c, fd, got = 0;

	while ((c = getopt_long(argc, argv, "d:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			devname = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind++];
	if (!strcmp(cmd, "show") && optind < argc)
		unit = argv[optind++];
	if ((strcmp(cmd, "list") && !unit) || optind < argc ||
	    !opt_devname_ok(devname)) {
		usage(stderr);
		return 2;
	}
	snprintf(req, sizeof(req), "%s%s%s%s\n", unit ? "show " : "list",
		 unit ? unit : "", json ? " " : "", json ? "json" : "");
	snprintf(sun.sun_path, sizeof(sun.sun_path), CTL_DIR "/%s.sock",
		 devname);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		fprintf(stderr, "cusetapctl: %s: %s%s\n", sun.sun_path,
			strerror(errno), errno == ENOENT ?
			" (is cusetap running with this --devname?)" : "");
		return 1;
	}
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		fprintf(stderr, "cusetapctl: send: %s\n", strerror(errno));
		return 1;
	}
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		fwrite(buf, 1, n, stdout);
		got = 1;
		if (!strncmp(buf, "error:", 6))
			got = -1;
	}
	close(fd);
	if (!got) {
		fprintf(stderr, "cusetapctl: no answer (not permitted?)\n");
		return 1;
	}
	return got < 0 ? 1 : 0;
}
