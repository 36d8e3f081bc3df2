// SPDX-License-Identifier: BSD-2-Clause
/*
 * options.c - the daemon's command line
 *
 * Options outside --device set the defaults of every device; each --device
 * NAME[:key=value,...] adds a device with those defaults and its own
 * overrides. Without --device, one device is made from --devname (default
 * "tap") and the other options. Every value is validated here, before it
 * becomes a path, an interface name or an id.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>

#include "config.h"
#include "log.h"
#include "options.h"

/* Room left in IFNAMSIZ for a unit number (NetBSD's go up to 6 digits) */
#define OPT_DEVNAME_MAX	(IFNAMSIZ - 1 - 6)

static void opt_usage(FILE *f)
{
	fprintf(f,
"Usage: cusetap [OPTION]... [--device NAME[:KEY=VALUE,...]]...\n"
"Serve BSD tap(4) devices through CUSE, backed by Linux kernel TAPs.\n"
"\n"
"  -f, --foreground     stay in the foreground, log to stderr\n"
"      --pidfile PATH   write the pid here once every node can be opened\n"
"      --runas USER     drop to USER (keeping only the capabilities needed)\n"
"  -v, --verbose        more logging (repeat for debug, thrice for libfuse)\n"
"      --threads N      threads serving the devices, 1 to 16 (default: one\n"
"                       per CPU); unit nodes are spread over them\n"
"  -h, --help           this help\n"
"      --version        print the version\n"
"\n"
"      --devname NAME   the one device: cloning device /dev/NAME, units\n"
"                       /dev/NAMEn and interfaces NAMEn (default: tap);\n"
"                       with --device, name each device there instead\n"
"\n"
"Device settings (defaults for every --device):\n"
"      --abi FLAVOUR    freebsd (default) or netbsd semantics\n"
"      --units N        create units 0..N-1 at start\n"
"      --vmnet          FreeBSD vmnet semantics (implied by --devname vmnet;\n"
"                       not with --abi netbsd)\n"
"      --up-on-open     bring the interface up on open (FreeBSD's\n"
"                       net.link.tap.up_on_open)\n"
"      --owner USER[:GROUP]  owner of every node and interface\n"
"      --group GROUP    group of every node and interface\n"
"      --mode OCTAL     permissions of every node (default 0600)\n"
"      --device NAME[:KEY=VALUE,...]  serve another device; keys: abi, units,\n"
"                       owner, group, mode, vmnet, up_on_open\n");
}

/**
 * opt_devname_ok() - a device name we can turn into paths and interfaces
 * @name:	candidate
 *
 * Lower-case letters first, then letters, digits or '_', short enough for
 * IFNAMSIZ with a unit number: nothing that could escape /dev, and no
 * trailing digit that would make "tap1" + "2" ambiguous.
 *
 * Return: true if acceptable
 */
bool opt_devname_ok(const char *name)
{
	size_t i, len = strlen(name);

	if (!len || len > OPT_DEVNAME_MAX || name[0] < 'a' || name[0] > 'z')
		return false;
	for (i = 1; i < len; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '_'))
			return false;
	}
	return !(name[len - 1] >= '0' && name[len - 1] <= '9');
}

/**
 * opt_number() - a whole number in a range
 * @what:	option name, for the message
 * @s:		text
 * @base:	10, or 8 for modes
 * @max:	largest value accepted
 * @out:	set to the value
 *
 * Return: 0, -1 after logging what is wrong
 */
static int opt_number(const char *what, const char *s, int base, long max,
		      long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, base);
	if (errno || *end || !*s || n < 0 || n > max) {
		if (base == 8)
			log_err("%s: '%s' is not an octal mode from 0 to 0%lo",
				what, s, max);
		else
			log_err("%s: '%s' is not a number from 0 to %ld", what,
				s, max);
		return -1;
	}
	*out = n;
	return 0;
}

/**
 * opt_group() - a group name or number
 * @s:		text
 * @gid:	set to the group id
 *
 * Return: 0, -1 after logging that there is no such group
 */
static int opt_group(const char *s, gid_t *gid)
{
	struct group *gr = getgrnam(s);
	long n;

	if (gr) {
		*gid = gr->gr_gid;
		return 0;
	}
	if (opt_number("group", s, 10, 0x7fffffff, &n)) {
		log_err("no such group '%s'", s);
		return -1;
	}
	*gid = n;
	return 0;
}

/**
 * opt_owner() - USER[:GROUP], names or numbers
 * @s:		text
 * @uid:	set to the user id
 * @gid:	set to the group id, if one was given
 *
 * Return: 0, -1 after logging that there is no such user or group
 */
static int opt_owner(const char *s, uid_t *uid, gid_t *gid)
{
	char user[256], *colon;
	struct passwd *pw;
	long n;

	snprintf(user, sizeof(user), "%s", s);
	colon = strchr(user, ':');
	if (colon) {
		*colon = '\0';
		if (opt_group(colon + 1, gid))
			return -1;
	}
	pw = getpwnam(user);
	if (pw) {
		*uid = pw->pw_uid;
		return 0;
	}
	if (opt_number("owner", user, 10, 0x7fffffff, &n)) {
		log_err("no such user '%s'", user);
		return -1;
	}
	*uid = n;
	return 0;
}

/**
 * opt_setting() - apply one device setting
 * @d:		device
 * @key:	setting name, as in a --device spec
 * @val:	its value, NULL for a flag
 *
 * Return: 0, -1 after logging what is wrong
 */
static int opt_setting(struct opt_device *d, const char *key, const char *val)
{
	long n;

	if (!strcmp(key, "vmnet") && !val) {
		d->cfg.vmnet = true;
	} else if (!strcmp(key, "up_on_open") && !val) {
		d->cfg.up_on_open = true;
	} else if (!val) {
		log_err("device setting '%s' needs a value", key);
		return -1;
	} else if (!strcmp(key, "abi")) {
		if (!strcmp(val, "freebsd")) {
			d->cfg.abi = TAPDEV_ABI_FREEBSD;
		} else if (!strcmp(val, "netbsd")) {
			d->cfg.abi = TAPDEV_ABI_NETBSD;
		} else {
			log_err("abi: '%s' is neither freebsd nor netbsd", val);
			return -1;
		}
	} else if (!strcmp(key, "units")) {
		if (opt_number("units", val, 10, TAPDEV_MAX_UNITS, &n))
			return -1;
		d->units = n;
	} else if (!strcmp(key, "owner")) {
		return opt_owner(val, &d->cfg.owner, &d->cfg.group);
	} else if (!strcmp(key, "group")) {
		return opt_group(val, &d->cfg.group);
	} else if (!strcmp(key, "mode")) {
		if (opt_number("mode", val, 8, 0777, &n))
			return -1;
		d->cfg.mode = n;
	} else {
		log_err("unknown device setting '%s'", key);
		return -1;
	}
	return 0;
}

/**
 * opt_device_spec() - NAME[:key=value,...] into a device
 * @d:		device, holding the defaults
 * @spec:	the --device argument
 *
 * Return: 0, -1 after logging what is wrong
 */
static int opt_device_spec(struct opt_device *d, const char *spec)
{
	char buf[512], *settings, *item, *save = NULL;

	if (strlen(spec) >= sizeof(buf)) {
		log_err("--device: '%.32s...' is too long", spec);
		return -1;
	}
	strcpy(buf, spec);
	settings = strchr(buf, ':');
	if (settings)
		*settings++ = '\0';
	if (strlen(buf) >= sizeof(d->name)) {
		log_err("--device: name '%s' is too long", buf);
		return -1;
	}
	strcpy(d->name, buf);
	d->cfg.devname = d->name;
	for (item = settings ? strtok_r(settings, ",", &save) : NULL; item;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');

		if (eq)
			*eq++ = '\0';
		if (opt_setting(d, item, eq))
			return -1;
	}
	return 0;
}

/**
 * opt_finish_device() - checks that need the whole device
 * @d:		device
 *
 * Return: 0, -1 after logging what is wrong
 */
static int opt_finish_device(struct opt_device *d)
{
	if (!opt_devname_ok(d->cfg.devname)) {
		log_err("device name '%s' is not usable: use 1 to %d lower-case "
			"letters, digits or '_', starting with a letter and not "
			"ending with a digit", d->cfg.devname, OPT_DEVNAME_MAX);
		return -1;
	}
	/* FreeBSD's vmnet devices are a cloner of their own name */
	if (!strcmp(d->cfg.devname, "vmnet"))
		d->cfg.vmnet = true;
	if (d->cfg.vmnet && d->cfg.abi == TAPDEV_ABI_NETBSD) {
		log_err("%s: vmnet is FreeBSD's (NetBSD has none): drop "
			"abi netbsd or vmnet", d->cfg.devname);
		return -1;
	}
	return 0;
}

/**
 * opt_parse() - the command line into options
 * @o:		options, filled in
 * @argc:	argument count
 * @argv:	arguments
 *
 * Return: 0, 1 to exit successfully (help, version), -1 on a usage error
 */
int opt_parse(struct options *o, int argc, char **argv)
{
	enum { O_DEVNAME = 256, O_ABI, O_PIDFILE, O_UNITS, O_VMNET, O_UP,
	       O_OWNER, O_GROUP, O_MODE, O_DEVICE, O_RUNAS, O_VERSION,
	       O_THREADS };
	static const struct option opts[] = {
		{ "foreground",	no_argument,		NULL, 'f' },
		{ "devname",	required_argument,	NULL, O_DEVNAME },
		{ "abi",	required_argument,	NULL, O_ABI },
		{ "pidfile",	required_argument,	NULL, O_PIDFILE },
		{ "units",	required_argument,	NULL, O_UNITS },
		{ "vmnet",	no_argument,		NULL, O_VMNET },
		{ "up-on-open",	no_argument,		NULL, O_UP },
		{ "owner",	required_argument,	NULL, O_OWNER },
		{ "group",	required_argument,	NULL, O_GROUP },
		{ "mode",	required_argument,	NULL, O_MODE },
		{ "device",	required_argument,	NULL, O_DEVICE },
		{ "runas",	required_argument,	NULL, O_RUNAS },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "threads",	required_argument,	NULL, O_THREADS },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct opt_device base = {
		.cfg = {
			.abi = TAPDEV_ABI_FREEBSD,
			.devname = "tap",
			.queue_len = TAPDEV_QUEUE_LEN,
			.owner = (uid_t)-1,
			.group = (gid_t)-1,
			.mode = 0600,
		},
	};
	const char *specs[OPT_MAX_DEVICES];
	unsigned nspecs = 0, i;
	bool devname_given = false;
	int c, ret = 0;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "fvh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->foreground = true;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			opt_usage(stdout);
			return 1;
		case O_VERSION:
			printf("cusetap %s\n", CUSETAP_VERSION);
			return 1;
		case O_PIDFILE:
			o->pidfile = optarg;
			break;
		case O_RUNAS:
			o->runas = optarg;
			break;
		case O_THREADS: {
			long n;

			ret = opt_number("--threads", optarg, 10, OPT_MAX_THREADS,
					 &n);
			if (!ret && !n) {
				log_err("--threads: at least 1");
				ret = -1;
			}
			o->threads = (unsigned)n;
			break;
		}
		case O_DEVNAME:
			base.cfg.devname = optarg;
			devname_given = true;
			break;
		case O_DEVICE:
			if (nspecs == OPT_MAX_DEVICES) {
				log_err("--device: at most %d devices",
					OPT_MAX_DEVICES);
				return -1;
			}
			specs[nspecs++] = optarg;
			break;
		case O_ABI:
			ret = opt_setting(&base, "abi", optarg);
			break;
		case O_UNITS:
			ret = opt_setting(&base, "units", optarg);
			break;
		case O_VMNET:
			ret = opt_setting(&base, "vmnet", NULL);
			break;
		case O_UP:
			ret = opt_setting(&base, "up_on_open", NULL);
			break;
		case O_OWNER:
			ret = opt_setting(&base, "owner", optarg);
			break;
		case O_GROUP:
			ret = opt_setting(&base, "group", optarg);
			break;
		case O_MODE:
			ret = opt_setting(&base, "mode", optarg);
			break;
		default:
			opt_usage(stderr);
			return -1;
		}
		if (ret)
			return -1;
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (nspecs && devname_given) {
		log_err("--devname names the only device; with --device, name "
			"each device there");
		return -1;
	}
	if (!nspecs) {
		o->devs[0] = base;
		o->ndevs = 1;
	}
	for (i = 0; i < nspecs; i++) {
		o->devs[i] = base;
		if (opt_device_spec(&o->devs[i], specs[i]))
			return -1;
		o->ndevs++;
	}
	for (i = 0; i < o->ndevs; i++) {
		unsigned j;

		if (opt_finish_device(&o->devs[i]))
			return -1;
		for (j = 0; j < i; j++) {
			if (!strcmp(o->devs[j].cfg.devname, o->devs[i].cfg.devname)) {
				log_err("device '%s' given twice",
					o->devs[i].cfg.devname);
				return -1;
			}
		}
	}
	return 0;
}
