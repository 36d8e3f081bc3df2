/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ioctl.h - the table of ioctls a tap device answers
 *
 * BSD ioctl numbers are matched whole (TAPSVNETHDR and TAPSIFINFO share
 * number 91 and differ only in size). Each entry says how many bytes the
 * command reads from and writes to the client's argument, so the
 * character-device side can fetch them (CUSE's ioctl retry) before the
 * handler runs.
 */
#ifndef CUSETAP_IOCTL_H
#define CUSETAP_IOCTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tapdev_file;

#define TAPIOC_MAX_ARG	144	/* largest argument: NetBSD struct ifreq */

/**
 * struct tapioc_args - what a handler gets
 * @arg:	the raw argument: a value for IOC_VOID commands
 * @in:		bytes copied in from the argument
 * @out:	bytes copied back out to it, prefilled with @in for in/out
 *		commands and with zeroes otherwise
 * @pid:	calling thread
 */
struct tapioc_args {
	uintptr_t arg;
	const void *in;
	void *out;
	pid_t pid;
};

/**
 * struct tapioc - one ioctl command
 * @cmd:	command value, as the client passes it
 * @name:	for logs
 * @in:		bytes copied in from the argument
 * @out:	bytes copied out to the argument
 * @fn:		handler: returns the ioctl's result (>= 0) or -errno
 */
struct tapioc {
	unsigned cmd;
	const char *name;
	uint16_t in;
	uint16_t out;
	int (*fn)(struct tapdev_file *f, const struct tapioc_args *a);
};

const struct tapioc *tapioc_find(unsigned cmd);

#endif /* CUSETAP_IOCTL_H */
