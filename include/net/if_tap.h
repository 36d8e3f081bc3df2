/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * if_tap.h - BSD tap(4) ioctls, with FreeBSD and NetBSD numeric values
 *
 * For programs built on Linux that drive cusetap's /dev/tap. cusetap accepts
 * the ioctl numbers of both BSDs at once (they do not collide); the
 * behaviour around them follows the flavour the daemon runs with
 * (--abi freebsd|netbsd).
 */
#ifndef CUSETAP_NET_IF_TAP_H
#define CUSETAP_NET_IF_TAP_H

#include <net/if_tun.h>

/* Maximum frame a client may write: FreeBSD refuses larger ones with EIO. */
#define TAPMRU		65535

/* FreeBSD: the tap ioctls share tun's numbers. */
#define TAPSDEBUG	TUNSDEBUG
#define TAPGDEBUG	TUNGDEBUG
#define TAPSIFINFO	TUNSIFINFO
#define TAPGIFINFO	TUNGIFINFO
#define TAPGIFNAME	TUNGIFNAME
#define TAPSVNETHDR	BSD_IOW('t', 91, int)	/* 0x8004745b */
#define TAPGVNETHDR	BSD_IOR('t', 94, int)	/* 0x4004745e */
#define TAPSTRANSIENT	TUNSTRANSIENT
#define TAPGTRANSIENT	TUNGTRANSIENT

/* FreeBSD VMware-compatible ioctls. */
#define VMIO_SIOCSIFFLAGS	BSD_IOWINT('V', 0)	/* 0x20045600 */
#define VMIO_SIOCSKEEP		BSD_IO('V', 1)
#define VMIO_SIOCSIFBR		BSD_IO('V', 2)
#define VMIO_SIOCSLADRF		BSD_IO('V', 3)

/* The remote (peer) MAC address, on the character device. */
#define BSD_SIOCSIFADDR		BSD_IOW('i', 12, struct freebsd_ifreq)	/* 0x8020690c */
#define BSD_SIOCGIFADDR		BSD_IOWR('i', 33, struct freebsd_ifreq)	/* 0xc0206921 */

/* BSD interface flags that VMIO_SIOCSIFFLAGS may carry (<net/if.h>) */
#define BSD_IFF_UP		0x1
#define BSD_IFF_DEBUG		0x4
#define BSD_IFF_NOARP		0x80
#define BSD_IFF_PROMISC		0x100

/* NetBSD: the interface name, in NetBSD's 144-byte struct ifreq. */
#define NETBSD_TAPGIFNAME	BSD_IOR('e', 0, struct netbsd_ifreq)	/* 0x40906500 */

#endif /* CUSETAP_NET_IF_TAP_H */
