// SPDX-License-Identifier: BSD-2-Clause
/*
 * log.c - leveled logging to stderr, syslog, or both
 *
 * In the foreground every message goes to stderr. In the background the
 * daemon logs to syslog, and its warnings and errors to stderr as well
 * until it is ready: the parent that waits for readiness shares that
 * stderr, so a start that fails says why where it was started, in the
 * words the foreground would use.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <syslog.h>

#include "log.h"

/* Messages above this level are dropped; -v and TAPSDEBUG raise it. */
enum log_level log_threshold = LOG_LVL_WARN;

/* Set before any other thread exists, read by all */
static bool log_syslog;

/* Cleared by the main thread at readiness, while loop threads may log */
static atomic_bool log_stderr = true;

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
	if (log_syslog) {
		va_start(ap, fmt);
		vsyslog(log_priorities[lvl], fmt, ap);
		va_end(ap);
	}
	if (!atomic_load_explicit(&log_stderr, memory_order_relaxed))
		return;
	/* Beside syslog, stderr is for what stopped the start: the caller
	 * may not read it, and -v would fill its pipe */
	if (log_syslog && lvl > LOG_LVL_WARN)
		return;
	va_start(ap, fmt);
	flockfile(stderr);
	fprintf(stderr, "cusetap: %s: ", log_names[lvl]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	va_end(ap);
}

/**
 * log_to_syslog() - from now on, log to syslog too
 *
 * stderr keeps its copy until log_stderr_off().
 */
void log_to_syslog(void)
{
	openlog("cusetap", LOG_PID, LOG_DAEMON);
	log_syslog = true;
}

/**
 * log_stderr_off() - from now on, log to syslog only
 *
 * The caller then gives stderr's descriptor up; a message another thread is
 * printing meanwhile is still a message from before readiness.
 */
void log_stderr_off(void)
{
	atomic_store_explicit(&log_stderr, false, memory_order_relaxed);
}
