// SPDX-License-Identifier: BSD-2-Clause
/*
 * ioctl.c - the ioctls of a BSD tap device
 *
 * Numbers of FreeBSD and NetBSD are accepted together (they never collide
 * for tap); Linux's FIONREAD reaches CUSE devices too, so it is here as
 * well. Linux's FIONBIO never arrives: the VFS turns it into O_NONBLOCK,
 * which the device model sees on every read; Linux's FIOASYNC is answered
 * ENOTTY by the VFS itself (CUSE files have no fasync), so SIGIO is only
 * available through the BSD FIOASYNC number. Anything not in the table is
 * ENOTTY, as on both BSDs: among them the tun-only TUNSIFPID, TUNSIFMODE,
 * TUNSLMODE and TUNSIFHEAD (FreeBSD tunioctl refuses them on a tap).
 *
 * Handlers read their argument only from the buffers the table sized, so
 * nothing a client passes is ever read past its declared length.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <net/if.h>

#include <net/if_tap.h>

#include "ioctl.h"
#include "tapdev.h"
#include "util.h"

/**
 * tapioc_int() - the int argument of an _IOW command
 * @a:		arguments
 *
 * Return: the value
 */
static int tapioc_int(const struct tapioc_args *a)
{
	int v;

	memcpy(&v, a->in, sizeof(v));
	return v;
}

/**
 * tapioc_put_int() - answer an _IOR int command
 * @a:		arguments
 * @v:		value
 *
 * Return: 0
 */
static int tapioc_put_int(const struct tapioc_args *a, int v)
{
	memcpy(a->out, &v, sizeof(v));
	return 0;
}

/* TAPGIFNAME: the interface name, in a struct ifreq (both BSDs' start with it) */
static int tapioc_gifname(struct tapdev_file *f, const struct tapioc_args *a)
{
	if (!f->unit)
		return -ENXIO;
	snprintf(a->out, BSD_IFNAMSIZ, "%s", tapdev_ifname(f->unit));
	return 0;
}

/* FIONREAD: length of the next frame, 0 if none */
static int tapioc_nread(struct tapdev_file *f, const struct tapioc_args *a)
{
	return tapioc_put_int(a, (int)tapdev_nread(f));
}

/* FIONBIO: reads of this file never block */
static int tapioc_nbio(struct tapdev_file *f, const struct tapioc_args *a)
{
	f->nbio = tapioc_int(a) != 0;
	return 0;
}

/* FIOASYNC: SIGIO to the owner when a frame arrives */
static int tapioc_async(struct tapdev_file *f, const struct tapioc_args *a)
{
	f->async = tapioc_int(a) != 0;
	return 0;
}

/* FIOSETOWN: pid, or -pgid, to signal */
static int tapioc_setown(struct tapdev_file *f, const struct tapioc_args *a)
{
	return tapdev_set_owner(f, tapioc_int(a));
}

static int tapioc_getown(struct tapdev_file *f, const struct tapioc_args *a)
{
	return tapioc_put_int(a, f->owner);
}

/*
 * TIOCSPGRP: a process group to signal, the negation of FIOSETOWN's; 0
 * clears the owner. FreeBSD takes a negative value as a process, as
 * fsetown() of its negation; NetBSD refuses it. INT_MIN has no negation.
 */
static int tapioc_spgrp(struct tapdev_file *f, const struct tapioc_args *a)
{
	int pgid = tapioc_int(a);

	if (pgid == INT_MIN)
		return -EPERM;
	if (pgid < 0 && f->ctx->cfg.abi == TAPDEV_ABI_NETBSD)
		return -EINVAL;
	return tapdev_set_owner(f, -pgid);
}

static int tapioc_gpgrp(struct tapdev_file *f, const struct tapioc_args *a)
{
	return tapioc_put_int(a, -f->owner);
}

/* TAPSDEBUG: the daemon's debug level; non-zero turns on debug logging */
static int tapioc_sdebug(struct tapdev_file *f, const struct tapioc_args *a)
{
	tapdev_set_debug(f->ctx, tapioc_int(a));
	return 0;
}

static int tapioc_gdebug(struct tapdev_file *f, const struct tapioc_args *a)
{
	return tapioc_put_int(a, f->ctx->debug);
}

/*
 * TAPSIFINFO, as FreeBSD tunioctl(): the type must stay IFT_ETHER
 * (EPROTOTYPE); a changed MTU must be at least IF_MINMTU (EINVAL) and
 * acceptable to the interface (the kernel's errno), an unchanged one is
 * not checked, so that a get-modify-set of the baudrate always works; the
 * baudrate is only recorded.
 */
static int tapioc_sifinfo(struct tapdev_file *f, const struct tapioc_args *a)
{
	struct tuninfo ti;
	int ret;

	memcpy(&ti, a->in, sizeof(ti));
	if (!f->unit)
		return -ENXIO;
	if (ti.type != IFT_ETHER)
		return -EPROTOTYPE;
	if (ti.mtu != f->unit->link.mtu && ti.mtu < IF_MINMTU)
		return -EINVAL;
	ret = tapdev_set_mtu(f, ti.mtu);
	if (ret)
		return ret;
	f->unit->baudrate = ti.baudrate;
	return 0;
}

static int tapioc_gifinfo(struct tapdev_file *f, const struct tapioc_args *a)
{
	struct tuninfo ti = { .type = IFT_ETHER };

	if (!f->unit)
		return -ENXIO;
	ti.mtu = f->unit->link.mtu;
	ti.baudrate = f->unit->baudrate;
	memcpy(a->out, &ti, sizeof(ti));
	return 0;
}

/* TAPSVNETHDR: 0, 10 or 12 bytes of virtio-net header on every frame */
static int tapioc_svnethdr(struct tapdev_file *f, const struct tapioc_args *a)
{
	return tapdev_set_vnet_hdr(f, tapioc_int(a));
}

static int tapioc_gvnethdr(struct tapdev_file *f, const struct tapioc_args *a)
{
	if (!f->unit)
		return -ENXIO;
	return tapioc_put_int(a, f->unit->vnet_hdr);
}

/* SIOCGIFADDR on the device: the remote MAC, in the first 6 bytes */
static int tapioc_gifaddr(struct tapdev_file *f, const struct tapioc_args *a)
{
	if (!f->unit)
		return -ENXIO;
	memcpy(a->out, f->unit->remote_mac, sizeof(f->unit->remote_mac));
	return 0;
}

static int tapioc_sifaddr(struct tapdev_file *f, const struct tapioc_args *a)
{
	if (!f->unit)
		return -ENXIO;
	memcpy(f->unit->remote_mac, a->in, sizeof(f->unit->remote_mac));
	return 0;
}

/*
 * VMIO_SIOCSIFFLAGS, as FreeBSD: flags by value, masked to 0x0fff, those
 * the driver owns left alone, IFF_UP forced on. Of what remains, Linux
 * can change IFF_DEBUG and IFF_NOARP (same bit values on both).
 */
static int tapioc_vmioflags(struct tapdev_file *f, const struct tapioc_args *a)
{
	unsigned flags = ((unsigned)a->arg & 0x0fff) | BSD_IFF_UP;
	unsigned change = IFF_UP | IFF_DEBUG | IFF_NOARP;

	return tapdev_set_flags(f, change, flags & change);
}

/* TAPSTRANSIENT: destroy the unit on last close */
static int tapioc_stransient(struct tapdev_file *f, const struct tapioc_args *a)
{
	if (!f->unit)
		return -ENXIO;
	f->unit->transient = tapioc_int(a) != 0;
	return 0;
}

static int tapioc_gtransient(struct tapdev_file *f, const struct tapioc_args *a)
{
	if (!f->unit)
		return -ENXIO;
	return tapioc_put_int(a, f->unit->transient);
}

#define INT	sizeof(int)

static const struct tapioc tapioc_table[] = {
	{ TAPGIFNAME,	"TAPGIFNAME", 0, sizeof(struct freebsd_ifreq),
	  tapioc_gifname },
	{ NETBSD_TAPGIFNAME, "TAPGIFNAME (NetBSD)", 0,
	  sizeof(struct netbsd_ifreq), tapioc_gifname },
	{ BSD_FIONREAD,	"FIONREAD",	0, INT, tapioc_nread },
	{ FIONREAD,	"FIONREAD (Linux)", 0, INT, tapioc_nread },
	{ BSD_FIONBIO,	"FIONBIO",	INT, 0, tapioc_nbio },
	{ BSD_FIOASYNC,	"FIOASYNC",	INT, 0, tapioc_async },
	{ BSD_FIOSETOWN, "FIOSETOWN",	INT, 0, tapioc_setown },
	{ BSD_FIOGETOWN, "FIOGETOWN",	0, INT, tapioc_getown },
	{ BSD_TIOCSPGRP, "TIOCSPGRP",	INT, 0, tapioc_spgrp },
	{ BSD_TIOCGPGRP, "TIOCGPGRP",	0, INT, tapioc_gpgrp },
	{ TAPSDEBUG,	"TAPSDEBUG",	INT, 0, tapioc_sdebug },
	{ TAPGDEBUG,	"TAPGDEBUG",	0, INT, tapioc_gdebug },
	{ TAPSIFINFO,	"TAPSIFINFO",	sizeof(struct tuninfo), 0,
	  tapioc_sifinfo },
	{ TAPGIFINFO,	"TAPGIFINFO",	0, sizeof(struct tuninfo),
	  tapioc_gifinfo },
	{ TAPSVNETHDR,	"TAPSVNETHDR",	INT, 0, tapioc_svnethdr },
	{ TAPGVNETHDR,	"TAPGVNETHDR",	0, INT, tapioc_gvnethdr },
	{ BSD_SIOCGIFADDR, "SIOCGIFADDR", sizeof(struct freebsd_ifreq),
	  sizeof(struct freebsd_ifreq), tapioc_gifaddr },
	{ BSD_SIOCSIFADDR, "SIOCSIFADDR", sizeof(struct freebsd_ifreq), 0,
	  tapioc_sifaddr },
	{ VMIO_SIOCSIFFLAGS, "VMIO_SIOCSIFFLAGS", 0, 0, tapioc_vmioflags },
	/* its FreeBSD 4-6 number, still taken by a GENERIC kernel */
	{ BSD_IO('V', 0), "VMIO_SIOCSIFFLAGS (old)", 0, 0, tapioc_vmioflags },
	{ TAPSTRANSIENT, "TAPSTRANSIENT", INT, 0, tapioc_stransient },
	{ TAPGTRANSIENT, "TAPGTRANSIENT", 0, INT, tapioc_gtransient },
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
