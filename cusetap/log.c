// SPDX-License-Identifier: BSD-2-Clause
/* log.c - leveled logging to stderr */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <syslog.h>

#include "log.h"

/* Messages above this level are dropped; -v and TAPSDEBUG raise it. */
enum log_level log_threshold = LOG_LVL_WARN;

static bool log_syslog;

static const int log_priorities[] = {
	[LOG_LVL_ERROR]	= LOG_ERR,
	[LOG_LVL_WARN]	= LOG_WARNING,
	[LOG_LVL_INFO]	= LOG_INFO,
	[LOG_LVL_DEBUG]	= LOG_DEBUG,
};

static const char *const log_names[] = {
	[LOG_LVL_ERROR]	= "error",
	[LOG_LVL_WARN]	= "warning",
	[LOG_LVL_INFO]	= "info",
	[LOG_LVL_DEBUG]	= "debug",
};

/**
 * log_msg() - print one line, prefixed with the program and the level
 * @lvl:	severity
 * @fmt:	printf format, without the trailing newline
 */
void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl > log_threshold)
		return;
	va_start(ap, fmt);
	if (log_syslog) {
		vsyslog(log_priorities[lvl], fmt, ap);
		va_end(ap);
		return;
	}
	flockfile(stderr);
	fprintf(stderr, "cusetap: %s: ", log_names[lvl]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	va_end(ap);
}

/**
 * log_to_syslog() - from now on, log to syslog instead of stderr
 */
void log_to_syslog(void)
{
	openlog("cusetap", LOG_PID, LOG_DAEMON);
	log_syslog = true;
}
