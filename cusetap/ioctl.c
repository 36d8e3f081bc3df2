// SPDX-License-Identifier: BSD-2-Clause
/*
 * ioctl.c - the ioctls of a BSD tap device
 *
 * Numbers of FreeBSD and NetBSD are accepted together (they never collide
 * for tap); Linux's FIONREAD reaches CUSE devices too, so it is here as
 * well. Linux's FIONBIO never arrives: the VFS turns it into O_NONBLOCK,
 * which the device model sees on every read. Anything not in the table is
 * ENOTTY, as on both BSDs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include <net/if_tap.h>

#include "ioctl.h"
#include "tapdev.h"
#include "util.h"

/**
 * tapioc_gifname() - TAPGIFNAME: the interface name, in a struct ifreq
 * @f:		open file
 * @arg:	unused
 * @in:		unused
 * @out:	the ifreq (FreeBSD's or NetBSD's, both start with the name)
 *
 * Return: 0, -ENXIO if the unit is gone
 */
static int tapioc_gifname(struct tapdev_file *f, uintptr_t arg,
			  const void *in, void *out)
{
	char *name = out;

	if (!f->unit)
		return -ENXIO;
	snprintf(name, BSD_IFNAMSIZ, "%s", f->unit->ifname);
	return 0;
}

/**
 * tapioc_nread() - FIONREAD: length of the next frame, 0 if none
 * @f:		open file
 * @arg:	unused
 * @in:		unused
 * @out:	int
 *
 * Return: 0
 */
static int tapioc_nread(struct tapdev_file *f, uintptr_t arg,
			const void *in, void *out)
{
	int n = (int)tapdev_nread(f);

	memcpy(out, &n, sizeof(n));
	return 0;
}

/**
 * tapioc_nbio() - BSD FIONBIO: reads of this file never block
 * @f:		open file
 * @arg:	unused
 * @in:		int, non-zero to set
 * @out:	unused
 *
 * Return: 0
 */
static int tapioc_nbio(struct tapdev_file *f, uintptr_t arg,
		       const void *in, void *out)
{
	int on;

	memcpy(&on, in, sizeof(on));
	f->nbio = on != 0;
	return 0;
}

static const struct tapioc tapioc_table[] = {
	{ TAPGIFNAME,		"TAPGIFNAME",
	  0, sizeof(struct freebsd_ifreq), tapioc_gifname },
	{ NETBSD_TAPGIFNAME,	"TAPGIFNAME (NetBSD)",
	  0, sizeof(struct netbsd_ifreq), tapioc_gifname },
	{ BSD_FIONREAD,		"FIONREAD",	0, sizeof(int), tapioc_nread },
	{ FIONREAD,		"FIONREAD (Linux)", 0, sizeof(int), tapioc_nread },
	{ BSD_FIONBIO,		"FIONBIO",	sizeof(int), 0, tapioc_nbio },
};

_Static_assert(sizeof(struct netbsd_ifreq) <= TAPIOC_MAX_ARG,
	       "TAPIOC_MAX_ARG too small");

/**
 * tapioc_find() - look up a command
 * @cmd:	command value from the client
 *
 * Return: its entry, NULL if tap does not know it (ENOTTY)
 */
const struct tapioc *tapioc_find(unsigned cmd)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tapioc_table); i++) {
		if (tapioc_table[i].cmd == cmd)
			return &tapioc_table[i];
	}
	return NULL;
}
