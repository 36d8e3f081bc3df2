/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * if_tun.h - FreeBSD tun(4)/tap(4) shared ioctls, with BSD numeric values
 *
 * For programs built on Linux that drive cusetap's BSD devices. Names follow
 * FreeBSD's <net/if_tun.h>; struct ifreq there is FreeBSD's 32-byte one,
 * provided here as struct freebsd_ifreq so it never clashes with Linux's
 * 40-byte struct ifreq from <net/if.h>.
 */
#ifndef CUSETAP_NET_IF_TUN_H
#define CUSETAP_NET_IF_TUN_H

#include <stdint.h>
#include <net/bsd_ioccom.h>

#define BSD_IFNAMSIZ	16

/*
 * FreeBSD struct ifreq: the name, then a 16-byte union. Field names differ
 * from BSD's because <net/if.h> on Linux defines ifr_name as a macro.
 */
struct freebsd_ifreq {
	char name[BSD_IFNAMSIZ];	/* ifr_name */
	union {
		unsigned char	ifru_data[16];
		int		ifru_flags[2];
		int		ifru_mtu;
	} u;			/* ifr_ifru */
};

/* NetBSD struct ifreq: the name, then a union as large as sockaddr_storage. */
struct netbsd_ifreq {
	char name[BSD_IFNAMSIZ];	/* ifr_name */
	union {
		unsigned char	ifru_data[128];
		short		ifru_flags;
		int		ifru_mtu;
	} u;			/* ifr_ifru */
};

/* BSD interface types (<net/if_types.h>) that tuninfo.type can carry. */
#define IFT_ETHER	0x06
#define IFT_PPP		0x17

/* Information a tun/tap device reports and accepts (TUN[GS]IFINFO). */
struct tuninfo {
	int		baudrate;	/* link speed */
	unsigned short	mtu;		/* maximum transmission unit */
	unsigned char	type;		/* ethernet, tokenring, etc. */
	unsigned char	dummy;		/* place holder */
};

#define TUNMRU		16384		/* maximum receive unit of tun */
#define IF_MINMTU	72		/* smallest MTU TUNSIFINFO accepts */

#define TUNSDEBUG	BSD_IOW('t', 90, int)			/* 0x8004745a */
#define TUNGDEBUG	BSD_IOR('t', 89, int)			/* 0x40047459 */
#define TUNSIFINFO	BSD_IOW('t', 91, struct tuninfo)	/* 0x8008745b */
#define TUNGIFINFO	BSD_IOR('t', 92, struct tuninfo)	/* 0x4008745c */
#define TUNSLMODE	BSD_IOW('t', 93, int)			/* 0x8004745d */
#define TUNGIFNAME	BSD_IOR('t', 93, struct freebsd_ifreq)	/* 0x4020745d */
#define TUNSIFMODE	BSD_IOW('t', 94, int)			/* 0x8004745e */
#define TUNSIFPID	BSD_IO('t', 95)				/* 0x2000745f */
#define TUNSIFHEAD	BSD_IOW('t', 96, int)			/* 0x80047460 */
#define TUNGIFHEAD	BSD_IOR('t', 97, int)			/* 0x40047461 */
#define TUNSTRANSIENT	BSD_IOW('t', 98, int)			/* 0x80047462 */
#define TUNGTRANSIENT	BSD_IOR('t', 99, int)			/* 0x40047463 */

#endif /* CUSETAP_NET_IF_TUN_H */
