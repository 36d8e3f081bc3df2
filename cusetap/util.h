/* SPDX-License-Identifier: BSD-2-Clause */
/* util.h - small helpers shared by every module */
#ifndef CUSETAP_UTIL_H
#define CUSETAP_UTIL_H

#include <stddef.h>

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)		((a) < (b) ? (a) : (b))
#define MAX(a, b)		((a) > (b) ? (a) : (b))
#define container_of(p, type, member)					\
	((type *)((char *)(p) - offsetof(type, member)))

#endif /* CUSETAP_UTIL_H */
