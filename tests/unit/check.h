/* SPDX-License-Identifier: BSD-2-Clause */
/* check.h - minimal assertions for the C unit tests: say what was expected */
#ifndef CUSETAP_TEST_CHECK_H
#define CUSETAP_TEST_CHECK_H

#include <stdio.h>

extern int check_failures;

#define CHECK_EQ(got, want)						\
	do {								\
		long long g_ = (long long)(got), w_ = (long long)(want);\
		if (g_ != w_) {						\
			fprintf(stderr, "%s:%d: %s: expected %lld (%s), "\
				"got %lld\n", __FILE__, __LINE__, #got,	\
				w_, #want, g_);				\
			check_failures++;				\
		}							\
	} while (0)

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: expected %s\n",		\
				__FILE__, __LINE__, #cond);		\
			check_failures++;				\
		}							\
	} while (0)

#define RUN(test)							\
	do {								\
		int before_ = check_failures;				\
		test();							\
		printf("%s %s\n", check_failures == before_ ?		\
		       "ok    " : "FAILED", #test);			\
	} while (0)

#endif /* CUSETAP_TEST_CHECK_H */
