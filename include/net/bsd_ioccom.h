/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bsd_ioccom.h - the BSD ioctl command encoding, for use on Linux
 *
 * BSD and Linux both pack direction, size, group and number into an ioctl
 * command, but with different bits: BSD's IOC_OUT (0x40000000) is Linux's
 * _IOC_WRITE, and the BSD size field is 13 bits wide. A BSD program built on
 * Linux must therefore use these macros, never <sys/ioctl.h>'s _IOR/_IOW, to
 * produce the values a BSD driver (and cusetap) expects.
 */
#ifndef CUSETAP_NET_BSD_IOCCOM_H
#define CUSETAP_NET_BSD_IOCCOM_H

#define BSD_IOCPARM_SHIFT	13
#define BSD_IOCPARM_MASK	((1UL << BSD_IOCPARM_SHIFT) - 1)
#define BSD_IOCPARM_LEN(x)	(((x) >> 16) & BSD_IOCPARM_MASK)
#define BSD_IOCGROUP(x)		(((x) >> 8) & 0xff)

#define BSD_IOC_VOID		0x20000000UL	/* no parameters */
#define BSD_IOC_OUT		0x40000000UL	/* copy parameters out */
#define BSD_IOC_IN		0x80000000UL	/* copy parameters in */
#define BSD_IOC_INOUT		(BSD_IOC_IN | BSD_IOC_OUT)
#define BSD_IOC_DIRMASK		(BSD_IOC_VOID | BSD_IOC_OUT | BSD_IOC_IN)

#define BSD_IOC(inout, group, num, len)					\
	((unsigned long)((inout) | (((len) & BSD_IOCPARM_MASK) << 16) |	\
			 ((group) << 8) | (num)))
#define BSD_IO(g, n)		BSD_IOC(BSD_IOC_VOID, (g), (n), 0)
#define BSD_IOWINT(g, n)	BSD_IOC(BSD_IOC_VOID, (g), (n), sizeof(int))
#define BSD_IOR(g, n, t)	BSD_IOC(BSD_IOC_OUT, (g), (n), sizeof(t))
#define BSD_IOW(g, n, t)	BSD_IOC(BSD_IOC_IN, (g), (n), sizeof(t))
#define BSD_IOWR(g, n, t)	BSD_IOC(BSD_IOC_INOUT, (g), (n), sizeof(t))

/* File ioctls (<sys/filio.h>) with their BSD numbers. Linux's own FIONREAD
 * and FIONBIO from <sys/ioctl.h> work on cusetap devices too. */
#define BSD_FIOCLEX		BSD_IO('f', 1)
#define BSD_FIONCLEX		BSD_IO('f', 2)
#define BSD_FIONREAD		BSD_IOR('f', 127, int)	/* 0x4004667f */
#define BSD_FIONBIO		BSD_IOW('f', 126, int)	/* 0x8004667e */
#define BSD_FIOASYNC		BSD_IOW('f', 125, int)	/* 0x8004667d */
#define BSD_FIOSETOWN		BSD_IOW('f', 124, int)	/* 0x8004667c */
#define BSD_FIOGETOWN		BSD_IOR('f', 123, int)	/* 0x4004667b */

/* Terminal process-group ioctls, accepted by tap as synonyms of FIO*OWN. */
#define BSD_TIOCSPGRP		BSD_IOW('t', 118, int)	/* 0x80047476 */
#define BSD_TIOCGPGRP		BSD_IOR('t', 119, int)	/* 0x40047477 */

#endif /* CUSETAP_NET_BSD_IOCCOM_H */
